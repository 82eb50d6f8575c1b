//! What a person types for one input read as the value its field asks for: the form's
//! number boxes and the command line's `--input key=value` both read text here, so a
//! refusal says the same thing in both.

use super::model::{FieldKind, InputSchema};
use serde_json::{Number, Value};

pub const NOT_WHOLE: &str = "Must be a whole number";
pub const NOT_NUMBER: &str = "Must be a number";
pub const NOT_BOOLEAN: &str = "Must be true or false";

/// A number box's text: a whole number for `integer`, else any finite number.
pub fn number(raw: &str, integer: bool) -> Result<Number, &'static str> {
    let raw = raw.trim();
    if integer {
        raw.parse::<i64>().map(Number::from).map_err(|_| NOT_WHOLE)
    } else {
        raw.parse::<f64>().ok().filter(|f| f.is_finite()).and_then(Number::from_f64).ok_or(NOT_NUMBER)
    }
}

/// Text that must be JSON (a list, an object, a free-form value).
pub fn json(raw: &str) -> Result<Value, String> {
    serde_json::from_str(raw).map_err(|e| format!("Not valid JSON: {e}"))
}

/// `raw` read as a value of `kind`: text as it is, numbers and booleans parsed, a choice
/// of fixed values by its text, lists and objects as JSON. The result is not validated
/// (bounds, patterns): `validate_inputs` judges the whole inputs afterwards.
pub fn value_of(schema: &InputSchema, kind: &FieldKind, raw: &str) -> Result<Value, String> {
    value_at(schema, kind, raw, 0)
}

/// A `Ref` may name another `Ref`; past this many the kind is read as free JSON.
const MAX_REFS: usize = 16;

fn value_at(schema: &InputSchema, kind: &FieldKind, raw: &str, refs: usize) -> Result<Value, String> {
    match kind {
        FieldKind::Text { .. } => Ok(Value::String(raw.to_owned())),
        FieldKind::Integer { .. } => number(raw, true).map(Value::Number).map_err(str::to_owned),
        FieldKind::Number { .. } => number(raw, false).map(Value::Number).map_err(str::to_owned),
        FieldKind::Boolean => match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Ok(Value::Bool(true)),
            "false" | "no" | "off" | "0" => Ok(Value::Bool(false)),
            _ => Err(NOT_BOOLEAN.to_owned()),
        },
        FieldKind::Enum { options } => {
            // Text options by their text; the others (numbers, null) as JSON.
            let as_json = serde_json::from_str::<Value>(raw.trim()).ok().filter(|v| !v.is_string());
            options
                .iter()
                .find(|o| o.as_str() == Some(raw))
                .or_else(|| as_json.and_then(|v| options.iter().find(|o| **o == v)))
                .cloned()
                .ok_or_else(|| one_of(options))
        }
        FieldKind::Nullable { inner } => match raw.trim() {
            "null" => Ok(Value::Null),
            _ => value_at(schema, inner, raw, refs),
        },
        FieldKind::Ref { name } => match schema.defs.get(name) {
            Some(kind) if refs < MAX_REFS => value_at(schema, kind, raw, refs + 1),
            _ => json(raw),
        },
        FieldKind::Choice { variants, .. } => {
            // JSON that fits a variant is that variant; otherwise text, if one takes text.
            if let Ok(v) = serde_json::from_str::<Value>(raw) {
                if variants.iter().any(|variant| super::fits(schema, &variant.kind, &v)) {
                    return Ok(v);
                }
            }
            if variants.iter().any(|v| matches!(v.kind, FieldKind::Text { .. })) {
                return Ok(Value::String(raw.to_owned()));
            }
            json(raw)
        }
        // Free JSON: a bare word that is not JSON is taken as text, as people mean it.
        FieldKind::Json { .. } => Ok(serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_owned()))),
        FieldKind::List { .. } | FieldKind::Map { .. } | FieldKind::Object { .. } => json(raw),
    }
}

/// "Must be one of: draft, final" (the first few options, when there are many).
fn one_of(options: &[Value]) -> String {
    const SHOWN: usize = 10;
    let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
    let mut listed: Vec<String> = options.iter().take(SHOWN).map(text).collect();
    if options.len() > SHOWN {
        listed.push(format!("… ({} in all)", options.len()));
    }
    format!("Must be one of: {}", listed.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::parse_schema;
    use serde_json::json;

    fn schema() -> InputSchema {
        parse_schema(&json!({
            "workflow": "w",
            "inputs": {
                "topic": {"type": "str"}, "count": {"type": "int"}, "ratio": {"type": "float"},
                "draft": {"type": "bool"}, "tags": {"type": "list[str]"}, "extra": {"type": "dict[str, int]"},
                "free": {"type": "any"}
            }
        }))
        .unwrap()
    }

    fn read(name: &str, raw: &str) -> Result<Value, String> {
        let s = schema();
        let field = s.fields.iter().find(|f| f.name == name).unwrap();
        value_of(&s, &field.kind, raw)
    }

    #[test]
    fn each_kind_reads_its_text() {
        assert_eq!(read("topic", " tea "), Ok(json!(" tea ")), "text is kept as typed");
        assert_eq!(read("count", "12"), Ok(json!(12)));
        assert_eq!(read("count", "1.5"), Err(NOT_WHOLE.into()));
        assert_eq!(read("ratio", "0.25"), Ok(json!(0.25)));
        assert_eq!(read("ratio", "NaN"), Err(NOT_NUMBER.into()));
        assert_eq!(read("draft", "Yes"), Ok(json!(true)));
        assert_eq!(read("draft", "maybe"), Err(NOT_BOOLEAN.into()));
        assert_eq!(read("tags", r#"["a","b"]"#), Ok(json!(["a", "b"])));
        assert!(read("tags", "a,b").unwrap_err().starts_with("Not valid JSON"));
        assert_eq!(read("extra", r#"{"a":1}"#), Ok(json!({"a": 1})));
        assert_eq!(read("free", "42"), Ok(json!(42)));
        assert_eq!(read("free", "hello"), Ok(json!("hello")));
    }

    #[test]
    fn fixed_values_are_chosen_by_their_text() {
        let kind = FieldKind::Enum { options: vec![json!("draft"), json!(3), json!(null)] };
        let s = InputSchema::default();
        assert_eq!(value_of(&s, &kind, "draft"), Ok(json!("draft")));
        assert_eq!(value_of(&s, &kind, "3"), Ok(json!(3)));
        assert_eq!(value_of(&s, &kind, "null"), Ok(json!(null)));
        assert_eq!(value_of(&s, &kind, "final"), Err("Must be one of: draft, 3, null".into()));
    }

    #[test]
    fn optional_values_take_null() {
        let kind = FieldKind::Nullable { inner: Box::new(FieldKind::integer()) };
        let s = InputSchema::default();
        assert_eq!(value_of(&s, &kind, "null"), Ok(Value::Null));
        assert_eq!(value_of(&s, &kind, "7"), Ok(json!(7)));
    }
}
