//! Secret inputs (`writeOnly`, `format: password`, or marked `secret` by the agent) are
//! sent to the agent and kept nowhere else: the run history holds `"***"` in their place,
//! and the paths of what was withheld, so a re-run knows to ask for them again.

use super::model::{Additional, Field, FieldKind, InputSchema};
use super::push_segment;
use serde_json::{Map, Value};
use std::fmt::Write;

/// What a withheld secret is stored as.
pub const MASK: &str = "***";

/// `inputs` with every secret value replaced by `MASK`, and the JSON Pointer of each.
/// Secrets inside lists, maps, nested objects, choices and recursive types are found too.
pub fn redact(schema: &InputSchema, inputs: &Map<String, Value>) -> (Map<String, Value>, Vec<String>) {
    let mut out = inputs.clone();
    let mut paths = Vec::new();
    object(schema, &schema.fields, &schema.additional, &mut out, &mut String::new(), &mut paths, 0);
    (out, paths)
}

/// Sets the value at each JSON Pointer in `paths` (where there is one) to `with`: `MASK`
/// to compare a request with a stored run, `null` to clear withheld secrets from a form.
pub fn replace_at(value: &mut Value, paths: &[String], with: &Value) {
    for p in paths {
        if let Some(v) = value.pointer_mut(p) {
            *v = with.clone();
        }
    }
}

/// Whether the schema has any secret field at all (then a run's inputs need `redact`).
pub fn has_secrets(schema: &InputSchema) -> bool {
    fn kind(k: &FieldKind, depth: usize) -> bool {
        depth < 64
            && match k {
                FieldKind::Text { format: Some(f), .. } => f == "password",
                FieldKind::List { item, prefix, .. } => {
                    kind(item, depth + 1) || prefix.iter().any(|p| kind(p, depth + 1))
                }
                FieldKind::Map { value, .. } => kind(value, depth + 1),
                FieldKind::Object { fields, additional } => {
                    fields.iter().any(|f| f.secret || kind(&f.kind, depth + 1))
                        || matches!(additional, Additional::Kind { kind: k } if kind(k, depth + 1))
                }
                FieldKind::Choice { variants, .. } => variants.iter().any(|v| kind(&v.kind, depth + 1)),
                FieldKind::Nullable { inner } => kind(inner, depth + 1),
                _ => false,
            }
    }
    schema.fields.iter().any(|f| f.secret || kind(&f.kind, 0))
        || matches!(&schema.additional, Additional::Kind { kind: k } if kind(k, 0))
        || schema.defs.values().any(|k| kind(k, 0))
}

fn object(
    schema: &InputSchema,
    fields: &[Field],
    additional: &Additional,
    map: &mut Map<String, Value>,
    path: &mut String,
    out: &mut Vec<String>,
    depth: usize,
) {
    for field in fields {
        let Some(v) = map.get_mut(&field.name) else { continue };
        let len = path.len();
        push_segment(path, &field.name);
        if field.secret {
            mask(v, path, out);
        } else {
            value(schema, &field.kind, v, path, out, depth + 1);
        }
        path.truncate(len);
    }
    if let Additional::Kind { kind } = additional {
        for (k, v) in map.iter_mut().filter(|(k, _)| !fields.iter().any(|f| &f.name == *k)) {
            let len = path.len();
            push_segment(path, k);
            value(schema, kind, v, path, out, depth + 1);
            path.truncate(len);
        }
    }
}

fn mask(v: &mut Value, path: &str, out: &mut Vec<String>) {
    if !v.is_null() {
        *v = Value::String(MASK.to_owned());
        out.push(path.to_owned());
    }
}

fn value(
    schema: &InputSchema,
    kind: &FieldKind,
    v: &mut Value,
    path: &mut String,
    out: &mut Vec<String>,
    depth: usize,
) {
    // Inputs are validated before this runs, and serde_json caps nesting at 128.
    if depth > 128 {
        return;
    }
    match (kind, v) {
        (FieldKind::Text { format: Some(f), .. }, v) if f == "password" => mask(v, path, out),
        (FieldKind::List { item, prefix, .. }, Value::Array(items)) => {
            for (i, v) in items.iter_mut().enumerate() {
                let len = path.len();
                let _ = write!(path, "/{i}");
                value(schema, prefix.get(i).unwrap_or(item), v, path, out, depth + 1);
                path.truncate(len);
            }
        }
        (FieldKind::Map { value: kind, .. }, Value::Object(map)) => {
            for (k, v) in map.iter_mut() {
                let len = path.len();
                push_segment(path, k);
                value(schema, kind, v, path, out, depth + 1);
                path.truncate(len);
            }
        }
        (FieldKind::Object { fields, additional }, Value::Object(map)) => {
            object(schema, fields, additional, map, path, out, depth)
        }
        // Whichever variant the value is, its secrets are withheld: every variant is
        // applied (a key secret in any of them is masked).
        (FieldKind::Choice { variants, .. }, v) => {
            for variant in variants {
                value(schema, &variant.kind, v, path, out, depth + 1);
            }
            out.sort();
            out.dedup();
        }
        (FieldKind::Nullable { inner }, v) => value(schema, inner, v, path, out, depth + 1),
        (FieldKind::Ref { name }, v) => {
            if let Some(k) = schema.defs.get(name) {
                value(schema, k, v, path, out, depth + 1);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::parse_schema;
    use serde_json::json;

    #[test]
    fn secrets_anywhere_are_masked_and_listed() {
        let s = parse_schema(&json!({"type": "object", "properties": {
            "api_key": {"type": "string", "writeOnly": true},
            "name": {"type": "string"},
            "accounts": {"type": "array", "items": {"type": "object", "properties": {
                "user": {"type": "string"}, "password": {"type": "string", "format": "password"}}}},
            "vault": {"type": "object", "additionalProperties": {"type": "string", "format": "password"}},
            "auth": {"oneOf": [
                {"type": "object", "properties": {"kind": {"const": "token"}, "token": {"type": "string", "writeOnly": true}}},
                {"type": "object", "properties": {"kind": {"const": "none"}}}]},
            "unset": {"type": "string", "writeOnly": true}
        }}))
        .unwrap();
        assert!(has_secrets(&s));
        let inputs = json!({"api_key": "sk-1", "name": "n",
            "accounts": [{"user": "a", "password": "p1"}, {"user": "b"}],
            "vault": {"x": "v1"}, "auth": {"kind": "token", "token": "t"}, "unset": null});
        let (out, paths) = redact(&s, inputs.as_object().unwrap());
        assert_eq!(
            Value::Object(out),
            json!({"api_key": "***", "name": "n", "accounts": [{"user": "a", "password": "***"}, {"user": "b"}],
                   "vault": {"x": "***"}, "auth": {"kind": "token", "token": "***"}, "unset": null})
        );
        assert_eq!(paths, ["/accounts/0/password", "/api_key", "/auth/token", "/vault/x"]);
        let plain = parse_schema(&json!({"inputs": {"a": "str"}})).unwrap();
        assert!(!has_secrets(&plain));
        let (out, paths) = redact(&plain, json!({"a": "x"}).as_object().unwrap());
        assert_eq!((Value::Object(out), paths.len()), (json!({"a": "x"}), 0));
    }
}
