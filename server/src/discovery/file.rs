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
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;
use std::path::Path;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    agents: Entries,
}

/// The entries, each ID once: a repeated ID is refused while its entry is read, so that
/// the parser names the entry's line.
#[derive(Default)]
struct Entries(Vec<Entry>);

struct Entry {
    id: String,
    name: Option<String>,
    url: String,
    metadata: Option<Value>,
}

const FIELDS: &[&str] = &["id", "name", "url", "metadata"];

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct List;
        impl<'de> Visitor<'de> for List {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of agents")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Entries, A::Error> {
                let mut seen = HashMap::new();
                let mut entries = Vec::new();
                while let Some(entry) = seq.next_element_seed(EntrySeed { seen: &mut seen, n: entries.len() + 1 })? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        d.deserialize_seq(List)
    }
}

/// Reads the `n`th entry, knowing the IDs before it.
struct EntrySeed<'a> {
    seen: &'a mut HashMap<String, usize>,
    n: usize,
}

impl<'de> DeserializeSeed<'de> for EntrySeed<'_> {
    type Value = Entry;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Entry, D::Error> {
        d.deserialize_struct("agent", FIELDS, self)
    }
}

impl<'de> Visitor<'de> for EntrySeed<'_> {
    type Value = Entry;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an agent: id, url, and optionally name and metadata")
    }
    // Every mistake is raised while its key or value is read: the parsers then point at it.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entry, A::Error> {
        let (mut id, mut name, mut url, mut metadata) = (None, None, None, None);
        let EntrySeed { seen, n } = self;
        while let Some(key) = map.next_key::<Field>()? {
            match key {
                Field::Id => id = Some(map.next_value_seed(IdSeed { seen: &mut *seen, n })?),
                Field::Name => name = map.next_value::<Option<String>>()?,
                Field::Url => url = Some(map.next_value::<Url>()?.0),
                Field::Metadata => metadata = map.next_value::<Option<Metadata>>()?.map(|m| m.0),
            }
        }
        let id = id.ok_or_else(|| de::Error::missing_field("id"))?;
        let url = url.ok_or_else(|| de::Error::missing_field("url"))?;
        Ok(Entry { id, name, url, metadata })
    }
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum Field {
    Id,
    Name,
    Url,
    Metadata,
}

/// An entry's ID: the registration's rules, and not one an entry before it has.
struct IdSeed<'a> {
    seen: &'a mut HashMap<String, usize>,
    n: usize,
}

impl<'de> DeserializeSeed<'de> for IdSeed<'_> {
    type Value = String;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        let Id(id) = Id::deserialize(d)?;
        if let Some(first) = self.seen.insert(id.clone(), self.n) {
            return Err(de::Error::custom(format!(
                "agent {} has id {id:?} as agent {first} does: each ID once",
                self.n
            )));
        }
        Ok(id)
    }
}

struct Id(String);
struct Metadata(Value);

impl<'de> Deserialize<'de> for Metadata {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Value::deserialize(d)?;
        app::validation::parse_metadata(&raw).map_err(|e| serde::de::Error::custom(format!("metadata: {e}")))?;
        Ok(Metadata(raw))
    }
}
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
    Ok(file
        .agents
        .0
        .into_iter()
        .map(|e| DeclaredAgent { id: e.id, name: e.name, url: e.url, metadata: e.metadata })
        .collect())
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
        assert!(err.contains("agent 2") && err.contains("as agent 1") && err.contains("line 5"), "{err}");
        let err = parse("a.yaml", "agents:\n  - id: a\n    url: http://h\n  - id: a\n    url: http://i\n").unwrap_err();
        assert!(err.contains("agents[1]") && err.contains("as agent 1") && err.contains("line 4"), "{err}");
        let err = parse(
            "a.toml",
            "[[agents]]\nid = \"a\"\nurl = \"http://h\"\n[[agents]]\nid = \"b\"\nurl = \"http://i\"\nmetadata = 5\n",
        )
        .unwrap_err();
        assert!(err.contains("line 7") && err.contains("metadata: "), "{err}");
        let err =
            parse("a.yaml", "agents:\n  - id: a\n    url: http://h\n  - id: b\n    url: http://i\n    metadata: 5\n")
                .unwrap_err();
        assert!(err.contains("agents[1]: metadata: ") && err.contains("line 4"), "{err}");
        assert!(parse("agents.json", "{}").unwrap_err().contains(".toml, .yaml or .yml"));
    }
}
