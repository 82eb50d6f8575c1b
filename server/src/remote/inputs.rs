//! A run's inputs from the command line, read by the agent's schema and checked by the
//! same validator as the form (`app::schema`), so a refusal names the same field with the
//! same words, before anything is sent.

use super::Failure;
use app::error::{ApiError, FieldError};
use app::schema::{text, Additional, FieldKind, InputSchema};
use serde_json::{Map, Value};
use std::io::Read;
use std::path::Path;

/// `--inputs FILE|-` (a JSON object), then each `--input KEY=VALUE` over it, checked.
pub fn build(
    schema: &InputSchema,
    file: Option<&Path>,
    pairs: &[(String, String)],
) -> Result<Map<String, Value>, Failure> {
    let mut inputs = match file {
        Some(path) => read_file(path)?,
        None => Map::new(),
    };
    let mut errors = Vec::new();
    for (key, raw) in pairs {
        match kind_of(schema, key) {
            Ok(kind) => match text::value_of(schema, &kind, raw) {
                Ok(value) => {
                    inputs.insert(key.clone(), value);
                }
                Err(message) => errors.push(FieldError::new(&format!("/{key}"), message)),
            },
            Err(message) => errors.push(FieldError::new(&format!("/{key}"), message)),
        }
    }
    // The rest is judged too (a value that could not be read is left out of it), so every
    // problem is said at once, as the form does.
    if let Err(found) = app::schema::validate_inputs(schema, &Value::Object(inputs.clone())) {
        let unread: Vec<String> = errors.iter().map(|e| e.field.clone()).collect();
        errors.extend(found.into_iter().filter(|e| !unread.contains(&e.field)));
    }
    if errors.is_empty() {
        Ok(inputs)
    } else {
        let listed: Vec<String> =
            errors.iter().map(|f| format!("{}: {}", f.field.trim_start_matches('/'), f.message)).collect();
        let mut refused = ApiError::validation(errors);
        refused.message = format!("the agent's schema refuses these inputs (nothing was sent): {}", listed.join("; "));
        Err(Failure::Api(refused))
    }
}

/// The kind a top-level key takes: its field's, or what the schema allows besides them.
fn kind_of(schema: &InputSchema, key: &str) -> Result<FieldKind, String> {
    if let Some(field) = schema.fields.iter().find(|f| f.name == key) {
        return Ok(field.kind.clone());
    }
    match &schema.additional {
        Additional::Any => Ok(FieldKind::Json { type_name: None }),
        Additional::Kind { kind } => Ok((**kind).clone()),
        Additional::None => {
            let names: Vec<&str> = schema.fields.iter().map(|f| f.name.as_str()).collect();
            Err(format!("Not an input of this agent (it takes: {})", names.join(", ")))
        }
    }
}

fn read_file(path: &Path) -> Result<Map<String, Value>, Failure> {
    let (name, text) = if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Failure::Usage(format!("cannot read inputs from standard input: {e}")))?;
        ("standard input".to_owned(), text)
    } else {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure::Usage(format!("cannot read the inputs file {}: {e}", path.display())))?;
        (path.display().to_string(), text)
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Failure::Usage(format!("{name} must hold a JSON object of inputs ({{\"topic\": \"tea\"}})"))),
        Err(e) => Err(Failure::Usage(format!("{name} is not JSON: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> InputSchema {
        app::schema::parse_schema(&json!({
            "workflow": "w",
            "inputs": {"topic": {"type": "str", "required": true}, "words": {"type": "int"}, "tags": {"type": "list[str]"}}
        }))
        .unwrap()
    }

    fn pairs(raw: &[(&str, &str)]) -> Vec<(String, String)> {
        raw.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn values_are_read_as_their_fields_ask() {
        let inputs =
            build(&schema(), None, &pairs(&[("topic", "tea"), ("words", "120"), ("tags", r#"["a"]"#)])).unwrap();
        assert_eq!(Value::Object(inputs), json!({"topic": "tea", "words": 120, "tags": ["a"]}));
    }

    #[test]
    fn refusals_name_each_field_as_the_form_does() {
        let Err(Failure::Api(e)) = build(&schema(), None, &pairs(&[("words", "many")])) else { panic!() };
        assert_eq!(
            e.fields,
            vec![FieldError::new("/words", text::NOT_WHOLE), FieldError::new("/topic", "This field is required")],
            "every problem at once"
        );
        let Err(Failure::Api(e)) = build(&schema(), None, &pairs(&[("words", "3")])) else { panic!() };
        assert_eq!(e.fields.len(), 1);
        assert_eq!(e.fields[0].field, "/topic", "a required input left out: {e:?}");
    }
}
