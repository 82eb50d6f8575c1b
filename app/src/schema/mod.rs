//! A remote agent's input schema (`GET {base}/schema`): the model the run form is
//! generated from, and the validation the browser and the server both run on its inputs.
//!
//! Plain serde/serde_json/std only (plus the platform's regex engine for `pattern`, see
//! `pattern.rs`): this compiles to WASM and counts against the bundle.

pub mod drift;
pub mod formats;
mod jsonschema;
mod model;
mod parse;
mod pattern;
mod pattern_words;
pub mod secrets;
mod spec;
mod validate;

pub use jsonschema::{MAX_ENUM, MAX_VARIANTS};
pub use model::{default_value, humanize, Additional, Bounds, Field, FieldKind, InputSchema, SchemaError, Variant};
pub use parse::parse_type;
pub use pattern::Pattern;
use serde_json::Value;
pub use spec::parse_schema;
pub use validate::{fits, validate_inputs};

/// Deepest nesting of objects and of `[...]` in type strings, together along any path.
/// Deeper objects are an error; deeper type strings fall back to `Json`.
pub const MAX_DEPTH: usize = 32;
/// Most fields in a whole schema tree, nested ones included (and most outputs).
pub const MAX_FIELDS: usize = 2_000;
/// Longest type string, in bytes; longer ones become `Json`.
pub const MAX_TYPE_LEN: usize = 1_000;
/// Longest field name, in characters.
pub const MAX_NAME_LEN: usize = 200;
/// Most errors `validate_inputs` reports; past this a form has nothing more to show.
pub const MAX_ERRORS: usize = 100;

/// A stable fingerprint of a schema (16 lowercase hex digits), to notice when an agent's
/// schema changed. FNV-1a 64 over the model's JSON in an order-free form: object keys
/// sorted (the server's `serde_json` keeps the agent's order, the browser's sorts), and
/// each list of fields as `parse_schema` ordered them before it kept the agent's order
/// (required first, then by name), so the hashes stored with earlier runs stay valid and
/// an agent that only reorders its JSON has not changed its schema.
pub fn schema_hash(schema: &InputSchema) -> String {
    // Serializing the model cannot fail (string keys only); an empty string is a safe
    // fallback rather than a panic.
    let json = serde_json::to_value(schema).map(order_free).map(|v| v.to_string()).unwrap_or_default();
    format!("{:016x}", fnv1a64(json.as_bytes()))
}

fn order_free(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map
                .into_iter()
                .map(|(k, v)| {
                    let v = order_free(v);
                    let v = if k == "fields" { fields_in_hash_order(v) } else { v };
                    (k, v)
                })
                .collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(order_free).collect()),
        other => other,
    }
}

/// A list of serialized `Field`s (objects with a name and a kind), required first, then
/// by name; anything else as it is.
fn fields_in_hash_order(value: Value) -> Value {
    let Value::Array(mut items) = value else { return value };
    let is_field = |v: &Value| v.get("name").is_some_and(Value::is_string) && v.get("kind").is_some();
    if items.iter().all(is_field) {
        let key = |v: &Value| {
            let required = v.get("required").and_then(Value::as_bool).unwrap_or(false);
            (!required, v.get("name").and_then(Value::as_str).unwrap_or("").to_owned())
        };
        items.sort_by_key(key);
    }
    Value::Array(items)
}

/// FNV-1a, 64-bit: tiny, and stable across platforms and Rust versions (unlike
/// `DefaultHasher`).
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// Appends `/segment` to a JSON Pointer, escaped (`~` → `~0`, `/` → `~1`).
fn push_segment(path: &mut String, segment: &str) {
    path.push('/');
    for c in segment.chars() {
        match c {
            '~' => path.push_str("~0"),
            '/' => path.push_str("~1"),
            c => path.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn hash_is_stable_and_order_independent() {
        let a = parse_schema(&json!({"workflow": "w", "inputs": {
            "b": {"type": "int", "default": {"y": 1, "x": 2}}, "a": "str"}}))
        .unwrap();
        let b = parse_schema(
            &serde_json::from_str(
                r#"{"inputs": {"a": "str", "b": {"default": {"x": 2, "y": 1}, "type": "int"}}, "workflow": "w"}"#,
            )
            .unwrap(),
        )
        .unwrap();
        let h = schema_hash(&a);
        assert_eq!(h.len(), 16);
        assert!(h.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(h, schema_hash(&a.clone()));
        assert_eq!(h, schema_hash(&b));

        let c = parse_schema(&json!({"workflow": "w", "inputs": {"b": "int", "a": "str"}})).unwrap();
        let d = parse_schema(&json!({"workflow": "w", "inputs": {"b": "int", "a": "float"}})).unwrap();
        assert_ne!(schema_hash(&a), schema_hash(&c));
        assert_ne!(schema_hash(&c), schema_hash(&d));
    }

    #[test]
    fn pointer_segments_are_escaped() {
        let mut p = String::new();
        push_segment(&mut p, "a/b~c");
        push_segment(&mut p, "");
        assert_eq!(p, "/a~1b~0c/");
    }
}
