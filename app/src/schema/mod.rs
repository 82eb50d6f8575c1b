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
pub mod text;
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
/// schema changed. FNV-1a 64 over the model's JSON in the form it had before fields kept
/// the agent's order: each list of fields sorted (required first, then by name) and the
/// free-form values (defaults, enum options) with their keys sorted, the model's own
/// fields in declaration order. So the hashes stored with earlier runs stay valid, and
/// an agent that only reorders its JSON has not changed its schema.
pub fn schema_hash(schema: &InputSchema) -> String {
    let mut canonical = schema.clone();
    canonical.fields.iter_mut().for_each(field_in_hash_order);
    sort_fields(&mut canonical.fields);
    for kind in canonical.defs.values_mut() {
        kind_in_hash_order(kind);
    }
    if let Additional::Kind { kind } = &mut canonical.additional {
        kind_in_hash_order(kind);
    }
    // Serializing the model cannot fail (string keys only); an empty string is a safe
    // fallback rather than a panic.
    let json = serde_json::to_string(&canonical).unwrap_or_default();
    format!("{:016x}", fnv1a64(json.as_bytes()))
}

fn sort_fields(fields: &mut [Field]) {
    fields.sort_by(|a, b| b.required.cmp(&a.required).then_with(|| a.name.cmp(&b.name)));
}

fn field_in_hash_order(field: &mut Field) {
    if let Some(default) = field.default.take() {
        field.default = Some(sorted_keys(default));
    }
    kind_in_hash_order(&mut field.kind);
}

fn kind_in_hash_order(kind: &mut FieldKind) {
    match kind {
        FieldKind::Enum { options } => {
            *options = std::mem::take(options).into_iter().map(sorted_keys).collect();
        }
        FieldKind::List { item, prefix, .. } => {
            kind_in_hash_order(item);
            prefix.iter_mut().for_each(kind_in_hash_order);
        }
        FieldKind::Map { key, value } => {
            kind_in_hash_order(key);
            kind_in_hash_order(value);
        }
        FieldKind::Object { fields, additional } => {
            fields.iter_mut().for_each(field_in_hash_order);
            sort_fields(fields);
            if let Additional::Kind { kind } = additional {
                kind_in_hash_order(kind);
            }
        }
        FieldKind::Choice { variants, .. } => variants.iter_mut().for_each(|v| kind_in_hash_order(&mut v.kind)),
        FieldKind::Nullable { inner } => kind_in_hash_order(inner),
        _ => {}
    }
}

/// A free-form value with every object's keys sorted (as serde_json's maps were before
/// the server kept their order).
fn sorted_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().map(|(k, v)| (k, sorted_keys(v))).collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted_keys).collect()),
        other => other,
    }
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

    /// The hash as it was computed before fields kept the agent's order: over the model
    /// as parsed then (fields required first, then by name). Runs stored then carry it.
    #[test]
    fn hashes_stored_before_fields_kept_their_order_still_match() {
        let sorted = parse_schema(&json!({"workflow": "w", "inputs": {
            "topic": {"type": "str", "required": true, "default": {"a": 1, "b": [{"c": 2, "d": 3}]}},
            "length": "str", "tone": {"type": "str", "default": "calm"}}}))
        .unwrap();
        let old_formula = format!("{:016x}", fnv1a64(serde_json::to_string(&sorted).unwrap().as_bytes()));
        assert_eq!(schema_hash(&sorted), old_formula);
        let reordered = parse_schema(&json!({"workflow": "w", "inputs": {
            "tone": {"type": "str", "default": "calm"}, "length": "str",
            "topic": {"default": {"b": [{"d": 3, "c": 2}], "a": 1}, "required": true, "type": "str"}}}))
        .unwrap();
        assert_eq!(schema_hash(&reordered), old_formula, "only the order differs");
    }
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
