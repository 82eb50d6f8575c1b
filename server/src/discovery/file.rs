//! An agents file: the agents a person declares, for `discover --config FILE` (read where
//! the command runs) and `ui --agents-file FILE` (applied by the dashboard). TOML or YAML:
//!
//! ```toml
//! [[agents]]
//! id = "writer"
//! name = "Article Writer"            # optional: the ID
//! url = "http://10.0.0.5:8002"
//! metadata = { team = "research" }   # optional
//! ```
//!
//! Each ID and URL is parsed by the registration's own rules while the file is read, so a
//! mistake is reported by the parser with its line and field; a file with any mistake is
//! refused whole.

use app::model::DeclaredAgent;
use app::validation::{AgentId, AgentUrl};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use std::path::Path;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    agents: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    id: Id,
    #[serde(default)]
    name: Option<String>,
    url: Url,
    #[serde(default)]
    metadata: Option<Value>,
}

struct Id(String);
struct Url(String);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        AgentId::parse(&raw).map_err(|e| serde::de::Error::custom(format!("id: {e}")))?;
        Ok(Id(raw))
    }
}

impl<'de> Deserialize<'de> for Url {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        let url = AgentUrl::parse(&raw).map_err(|e| serde::de::Error::custom(format!("url: {e}")))?;
        Ok(Url(url.as_str().to_owned()))
    }
}

/// Reads and parses `path` (`.toml`, `.yaml` or `.yml`); the error names the file.
pub fn read(path: &Path) -> Result<Vec<DeclaredAgent>, String> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: {e}"))?;
    parse(&name, &text)
}

/// Parses an agents file's text; `name` (its path) decides the format and starts every
/// error.
pub fn parse(name: &str, text: &str) -> Result<Vec<DeclaredAgent>, String> {
    let lower = name.to_ascii_lowercase();
    let file: File = if lower.ends_with(".yaml") || lower.ends_with(".yml") {
        serde_norway::from_str(text).map_err(|e| format!("{name}: {e}"))?
    } else if lower.ends_with(".toml") {
        // toml's message starts with the line and column and shows the line.
        toml::from_str(text).map_err(|e| format!("{name}: {}", e.to_string().trim_end()))?
    } else {
        return Err(format!("{name}: an agents file is .toml, .yaml or .yml"));
    };
    let mut seen = std::collections::HashMap::new();
    let mut agents = Vec::with_capacity(file.agents.len());
    for (i, entry) in file.agents.into_iter().enumerate() {
        if let Some(first) = seen.insert(entry.id.0.clone(), i + 1) {
            return Err(format!("{name}: agent {} has id {:?} as agent {first} does: each ID once", i + 1, entry.id.0));
        }
        if let Some(metadata) = &entry.metadata {
            app::validation::parse_metadata(metadata).map_err(|e| format!("{name}: agent {}: metadata: {e}", i + 1))?;
        }
        agents.push(DeclaredAgent { id: entry.id.0, name: entry.name, url: entry.url.0, metadata: entry.metadata });
    }
    Ok(agents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_and_yaml_say_the_same() {
        let toml = "[[agents]]\nid = \"writer\"\nname = \"Writer\"\nurl = \"http://127.0.0.1:8002/\"\nmetadata = { team = \"r\" }\n\n[[agents]]\nid = \"b\"\nurl = \"http://127.0.0.1:8003\"\n";
        let yaml = "agents:\n  - id: writer\n    name: Writer\n    url: http://127.0.0.1:8002/\n    metadata: {team: r}\n  - id: b\n    url: http://127.0.0.1:8003\n";
        let a = parse("agents.toml", toml).unwrap();
        assert_eq!(a, parse("agents.yaml", yaml).unwrap());
        assert_eq!(a[0].url, "http://127.0.0.1:8002", "the registration's own form of the URL");
        assert_eq!(a[0].metadata, Some(serde_json::json!({"team": "r"})));
        assert_eq!(a[1].name, None);
    }

    #[test]
    fn a_mistake_names_the_file_the_line_and_the_field() {
        let toml =
            "[[agents]]\nid = \"a\"\nurl = \"http://127.0.0.1:1\"\n\n[[agents]]\nid = \"b\"\nurl = \"ftp://x\"\n";
        let err = parse("agents.toml", toml).unwrap_err();
        assert!(err.starts_with("agents.toml: ") && err.contains("line 7") && err.contains("http or https"), "{err}");
        let yaml = "agents:\n  - id: a\n    url: http://127.0.0.1:1\n  - id: b\n    url: ftp://x\n";
        let err = parse("agents.yml", yaml).unwrap_err();
        assert!(err.contains("agents[1]: url: ") && err.contains("line 4") && err.contains("http or https"), "{err}");
        let err = parse("a.toml", "[[agents]]\nid = \"a\"\nurl = \"http://h\"\nport = 3\n").unwrap_err();
        assert!(err.contains("line 4") && err.contains("port"), "unknown fields are named: {err}");
        let err = parse("a.yaml", "agents:\n  - name: x\n    url: http://h\n").unwrap_err();
        assert!(err.contains("missing field `id`"), "{err}");
        let err =
            parse("a.toml", "[[agents]]\nid = \"a\"\nurl = \"http://h\"\n[[agents]]\nid = \"a\"\nurl = \"http://i\"\n")
                .unwrap_err();
        assert!(err.contains("agent 2") && err.contains("as agent 1"), "{err}");
        assert!(parse("agents.json", "{}").unwrap_err().contains(".toml, .yaml or .yml"));
    }
}
