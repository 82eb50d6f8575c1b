//! Checking a run's inputs against an agent's schema: the form runs this before sending,
//! the server again before forwarding, so both report the same errors at the same paths.

use super::model::{Field, FieldKind, InputSchema};
use super::{push_segment, MAX_ERRORS};
use crate::error::FieldError;
use serde_json::{Map, Value};
use std::fmt::Write;

/// Checks `inputs` against `schema` and returns them unchanged if they fit. Otherwise
/// returns every problem found (at most `MAX_ERRORS`), each at its JSON Pointer path
/// (`/items/2/name`). Keys the schema does not name are kept: agents may accept extras.
pub fn validate_inputs(
    schema: &InputSchema,
    inputs: &Value,
) -> Result<Map<String, Value>, Vec<FieldError>> {
    let Some(map) = inputs.as_object() else {
        return Err(vec![FieldError::new("/", "Inputs must be a JSON object")]);
    };
    let mut errors = Vec::new();
    check_fields(&schema.fields, map, &mut String::new(), &mut errors);
    if errors.is_empty() {
        Ok(map.clone())
    } else {
        Err(errors)
    }
}

/// The fields of one object. Recursion depth is bounded by the schema's (parsed with a
/// depth limit), not by the inputs, so hostile inputs cannot exhaust the stack.
fn check_fields(
    fields: &[Field],
    map: &Map<String, Value>,
    path: &mut String,
    errs: &mut Vec<FieldError>,
) {
    for field in fields {
        if errs.len() >= MAX_ERRORS {
            return;
        }
        let len = path.len();
        push_segment(path, &field.name);
        match map.get(&field.name) {
            // The form prefills defaults, so a missing required value is an error even
            // when the field has a default.
            None | Some(Value::Null) if field.required => {
                push(errs, path, "This field is required")
            }
            None | Some(Value::Null) => {}
            Some(value) => check_value(&field.kind, value, field.required, path, errs),
        }
        path.truncate(len);
    }
}

/// One value of `kind` at `path`; `required` makes blank text an error too.
fn check_value(
    kind: &FieldKind,
    value: &Value,
    required: bool,
    path: &mut String,
    errs: &mut Vec<FieldError>,
) {
    match kind {
        FieldKind::Text => match value.as_str() {
            None => push(errs, path, "Must be text"),
            Some(s) if required && s.trim().is_empty() => {
                push(errs, path, "This field is required")
            }
            Some(_) => {}
        },
        FieldKind::Integer if !(value.is_i64() || value.is_u64()) => {
            push(errs, path, "Must be a whole number")
        }
        FieldKind::Number if !value.is_number() => push(errs, path, "Must be a number"),
        FieldKind::Boolean if !value.is_boolean() => push(errs, path, "Must be true or false"),
        FieldKind::List { item } => {
            let Some(items) = value.as_array() else {
                return push(errs, path, "Must be a list");
            };
            for (i, v) in items.iter().enumerate() {
                if errs.len() >= MAX_ERRORS {
                    return;
                }
                let len = path.len();
                let _ = write!(path, "/{i}");
                check_value(item, v, false, path, errs);
                path.truncate(len);
            }
        }
        FieldKind::Map { key, value: value_kind } => {
            let Some(map) = value.as_object() else {
                return push(errs, path, "Must be an object");
            };
            for (k, v) in map {
                if errs.len() >= MAX_ERRORS {
                    return;
                }
                let len = path.len();
                push_segment(path, k);
                if let Some(problem) = key_problem(key, k) {
                    push(errs, path, format!("Key \"{k}\" {problem}"));
                }
                check_value(value_kind, v, false, path, errs);
                path.truncate(len);
            }
        }
        FieldKind::Object { fields } => match value.as_object() {
            Some(map) => check_fields(fields, map, path, errs),
            None => push(errs, path, "Must be an object"),
        },
        _ => {} // Json, or a scalar that passed its check above.
    }
}

/// Why a map key (always a string in JSON) does not parse as the key kind, if it does not.
/// Only scalar key kinds can be checked; anything else accepts any key.
fn key_problem(kind: &FieldKind, key: &str) -> Option<&'static str> {
    let ok = match kind {
        FieldKind::Integer => key.parse::<i64>().is_ok(),
        FieldKind::Number => key.parse::<f64>().is_ok_and(f64::is_finite),
        FieldKind::Boolean => matches!(key, "true" | "false"),
        _ => true,
    };
    match (ok, kind) {
        (true, _) => None,
        (_, FieldKind::Integer) => Some("must be a whole number"),
        (_, FieldKind::Number) => Some("must be a number"),
        _ => Some("must be true or false"),
    }
}

fn push(errs: &mut Vec<FieldError>, path: &str, message: impl Into<String>) {
    if errs.len() < MAX_ERRORS {
        errs.push(FieldError::new(path, message));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::parse_schema;
    use serde_json::json;

    fn schema(inputs: Value) -> InputSchema {
        parse_schema(&json!({ "inputs": inputs })).unwrap()
    }

    /// The (path, message) pairs of a failed validation.
    fn errors(s: &InputSchema, inputs: Value) -> Vec<(String, String)> {
        validate_inputs(s, &inputs).unwrap_err().into_iter().map(|e| (e.field, e.message)).collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn reference_agent_inputs() {
        let s = parse_schema(&json!({"workflow":"article_writer","inputs":{"topic":{"type":"str","required":true},"tone":{"type":"str","default":"professional"},"length":{"type":"str","default":"medium"}}})).unwrap();
        let ok =
            validate_inputs(&s, &json!({"topic": "Rust", "tone": "casual", "extra": 1})).unwrap();
        assert_eq!(Value::Object(ok), json!({"topic": "Rust", "tone": "casual", "extra": 1}));
        assert_eq!(errors(&s, json!({})), pairs(&[("/topic", "This field is required")]));
        assert_eq!(
            errors(&s, json!({"topic": "  "})),
            pairs(&[("/topic", "This field is required")])
        );
        assert_eq!(
            errors(&s, json!({"topic": null})),
            pairs(&[("/topic", "This field is required")])
        );
        assert_eq!(
            errors(&s, json!({"topic": 5, "tone": false})),
            pairs(&[("/topic", "Must be text"), ("/tone", "Must be text")])
        );
        // Optional text may be blank or absent.
        assert!(validate_inputs(&s, &json!({"topic": "x", "tone": "", "length": null})).is_ok());
    }

    #[test]
    fn inputs_must_be_an_object() {
        let s = schema(json!({}));
        for bad in [json!([]), json!("x"), json!(null), json!(1)] {
            assert_eq!(errors(&s, bad), pairs(&[("/", "Inputs must be a JSON object")]));
        }
        assert!(validate_inputs(&s, &json!({"anything": [1, 2]})).is_ok());
    }

    #[test]
    fn scalars() {
        let s = schema(json!({"i": "int", "n": "float", "b": "bool", "j": "any", "u": "mystery"}));
        let ok = json!({"i": -3, "n": 2.5, "b": true, "j": {"x": [null]}, "u": "whatever"});
        assert!(validate_inputs(&s, &ok).is_ok());
        assert!(validate_inputs(&s, &json!({"i": u64::MAX, "n": 7})).is_ok());
        assert_eq!(
            errors(&s, json!({"i": 3.0, "n": "2", "b": "true"})),
            pairs(&[
                ("/b", "Must be true or false"),
                ("/i", "Must be a whole number"),
                ("/n", "Must be a number"),
            ])
        );
        assert_eq!(errors(&s, json!({"i": "3"})), pairs(&[("/i", "Must be a whole number")]));
        // Required with a default: still required (the form prefills the default).
        let s = schema(json!({"k": {"type": "int", "required": true, "default": 3}}));
        assert_eq!(errors(&s, json!({})), pairs(&[("/k", "This field is required")]));
        // A required Json field accepts any present value but not a missing one.
        let s = schema(json!({"j": {"type": "any", "required": true}}));
        assert!(validate_inputs(&s, &json!({"j": false})).is_ok());
        assert_eq!(errors(&s, json!({"j": null})), pairs(&[("/j", "This field is required")]));
    }

    #[test]
    fn lists() {
        let s = schema(json!({"tags": "list[str]", "any": "list", "grid": "list[list[int]]"}));
        assert!(validate_inputs(
            &s,
            &json!({"tags": [], "any": [1, "a", null], "grid": [[1], []]})
        )
        .is_ok());
        assert_eq!(
            errors(&s, json!({"tags": "a", "any": {}, "grid": [[1, "x"], 2, [3.5]]})),
            pairs(&[
                ("/any", "Must be a list"),
                ("/grid/0/1", "Must be a whole number"),
                ("/grid/1", "Must be a list"),
                ("/grid/2/0", "Must be a whole number"),
                ("/tags", "Must be a list"),
            ])
        );
        // Items are not "required": an empty string item is fine, a null one is not text.
        assert_eq!(errors(&s, json!({"tags": ["", null]})), pairs(&[("/tags/1", "Must be text")]));
    }

    #[test]
    fn maps_check_keys_and_values() {
        let s = schema(json!({
            "m": "dict", "counts": "dict[str, int]", "by_id": "dict[int, str]",
            "by_x": "dict[float, bool]", "flags": "dict[bool, list[str]]"
        }));
        let ok = json!({
            "m": {"a": [1]}, "counts": {"a/b": 1}, "by_id": {"-7": "x"},
            "by_x": {"1.5e3": true}, "flags": {"true": ["a"], "false": []}
        });
        assert!(validate_inputs(&s, &ok).is_ok());
        assert_eq!(
            errors(
                &s,
                json!({
                    "m": [], "counts": {"a/b": "1", "c~": 2}, "by_id": {"x": "y", "2": 3},
                    "by_x": {"NaN": true, "inf": false}, "flags": {"yes": [1]}
                })
            ),
            pairs(&[
                ("/by_id/2", "Must be text"),
                ("/by_id/x", "Key \"x\" must be a whole number"),
                ("/by_x/NaN", "Key \"NaN\" must be a number"),
                ("/by_x/inf", "Key \"inf\" must be a number"),
                ("/counts/a~1b", "Must be a whole number"),
                ("/flags/yes", "Key \"yes\" must be true or false"),
                ("/flags/yes/0", "Must be text"),
                ("/m", "Must be an object"),
            ])
        );
    }

    #[test]
    fn objects_nest_and_keep_extra_keys() {
        let s = schema(json!({
            "config": {"type": "object", "required": true, "schema": {
                "name": {"type": "str", "required": true},
                "size": "int",
                "inner": {"type": "object", "schema": {"flag": {"type": "bool", "required": true}}}
            }},
            "items": "list[object]",
            "opt": {"type": "object", "schema": {"must": {"type": "str", "required": true}}}
        }));
        let ok = json!({"config": {"name": "n", "extra": [1], "inner": {"flag": false}}, "items": [{}, {"a": 1}]});
        let got = validate_inputs(&s, &ok).unwrap();
        assert_eq!(Value::Object(got), ok);
        assert_eq!(
            errors(&s, json!({"config": {"size": 1.5, "inner": {}}, "items": [{}, 3], "opt": {}})),
            pairs(&[
                ("/config/name", "This field is required"),
                ("/config/inner/flag", "This field is required"),
                ("/config/size", "Must be a whole number"),
                ("/items/1", "Must be an object"),
                ("/opt/must", "This field is required"),
            ])
        );
        assert_eq!(errors(&s, json!({"config": "x"})), pairs(&[("/config", "Must be an object")]));
    }

    #[test]
    fn deep_paths_in_lists_of_objects() {
        // A list of objects with known fields, as JSON Schema will produce.
        let person = FieldKind::Object {
            fields: vec![Field {
                name: "name".into(),
                kind: FieldKind::Text,
                required: true,
                default: None,
                description: None,
            }],
        };
        let s = InputSchema {
            workflow: None,
            fields: vec![Field {
                name: "items".into(),
                kind: FieldKind::List { item: Box::new(person) },
                required: false,
                default: None,
                description: None,
            }],
            outputs: vec![],
        };
        assert_eq!(
            errors(&s, json!({"items": [{"name": "a"}, {"name": "b"}, {"name": ""}, {"name": 1}]})),
            pairs(&[
                ("/items/2/name", "This field is required"),
                ("/items/3/name", "Must be text")
            ])
        );
    }

    #[test]
    fn collects_many_errors_up_to_the_cap() {
        let s = schema(json!({"a": "int", "b": "int", "nums": "list[int]"}));
        let errs = errors(&s, json!({"a": "x", "b": "y", "nums": [1, "2", "3"]}));
        assert_eq!(errs.len(), 4);
        let many: Vec<Value> = (0..100_000).map(|i| json!(i.to_string())).collect();
        let errs = validate_inputs(&s, &json!({"a": "x", "nums": many})).unwrap_err();
        assert_eq!(errs.len(), MAX_ERRORS);
        assert_eq!(errs[0].field, "/a");
        assert_eq!(errs[99].field, "/nums/98");
    }

    #[test]
    fn odd_defaults_do_not_break_validation() {
        let s = schema(
            json!({"n": {"type": "int", "default": "lots"}, "l": {"type": "list[int]", "default": {"x": 1}}}),
        );
        assert!(validate_inputs(&s, &json!({})).is_ok());
        assert_eq!(errors(&s, json!({"n": "lots"})), pairs(&[("/n", "Must be a whole number")]));
    }
}
