//! The input-schema model: what a remote agent says it accepts, in a shape general enough
//! for both its native type strings (`list[int]`) and, later, JSON Schema.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// What an agent's `GET /schema` describes: its workflow, the inputs a run takes and the
/// names of the outputs it produces.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputSchema {
    #[serde(default)]
    pub workflow: Option<String>,
    /// Required fields first, then the rest; each group in name order (deterministic, so
    /// the form and the hash do not depend on how the agent ordered its JSON).
    #[serde(default)]
    pub fields: Vec<Field>,
    #[serde(default)]
    pub outputs: Vec<String>,
}

/// One input (or one field of a nested object).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Field {
    pub name: String,
    pub kind: FieldKind,
    #[serde(default)]
    pub required: bool,
    /// Kept as the agent sent it, even if it does not fit `kind`: the form prefills it
    /// and validation judges whatever the user finally submits.
    #[serde(default)]
    pub default: Option<Value>,
    #[serde(default)]
    pub description: Option<String>,
}

/// The shape of a value. Internally tagged (`{"kind": "text"}`) so a unit variant can
/// later grow optional constraints (`Text { max_len, .. }` with `#[serde(default)]`)
/// without breaking what is already stored or sent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FieldKind {
    Text,
    Integer,
    Number,
    Boolean,
    /// `list` alone has `Json` items.
    List {
        item: Box<FieldKind>,
    },
    /// A JSON object used as a map. Keys are always JSON strings, so a non-text `key`
    /// (e.g. `dict[int, str]`) means each key must parse as that type.
    Map {
        key: Box<FieldKind>,
        value: Box<FieldKind>,
    },
    /// An object with known fields; extra keys are allowed.
    Object {
        fields: Vec<Field>,
    },
    /// Free JSON: `any`, or a type we do not know (`type_name` keeps it for display).
    Json {
        type_name: Option<String>,
    },
}

impl FieldKind {
    /// A short human description, e.g. "list of whole number" or "map text → JSON".
    pub fn type_label(&self) -> String {
        match self {
            FieldKind::Text => "text".into(),
            FieldKind::Integer => "whole number".into(),
            FieldKind::Number => "number".into(),
            FieldKind::Boolean => "true/false".into(),
            FieldKind::List { item } => format!("list of {}", item.type_label()),
            FieldKind::Map { key, value } => {
                format!("map {} → {}", key.type_label(), value.type_label())
            }
            FieldKind::Object { .. } => "object".into(),
            FieldKind::Json { .. } => "JSON".into(),
        }
    }
}

/// The empty value a form starts a new value (e.g. a new list item) of this kind with.
/// Numbers start as `null` rather than 0 so "not filled in" stays distinguishable.
pub fn default_value(kind: &FieldKind) -> Value {
    match kind {
        FieldKind::Text => Value::String(String::new()),
        FieldKind::Boolean => Value::Bool(false),
        FieldKind::List { .. } => Value::Array(Vec::new()),
        FieldKind::Map { .. } | FieldKind::Object { .. } => Value::Object(Default::default()),
        FieldKind::Integer | FieldKind::Number | FieldKind::Json { .. } => Value::Null,
    }
}

/// Why an agent's schema could not be used; the message is meant for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaError {
    pub message: String,
}

impl SchemaError {
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into() }
    }
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SchemaError {}

/// A label from an identifier: `word_count` → "Word count", `maxTokens` → "Max tokens",
/// `user_ID` → "User ID". Acronyms (all-caps words) keep their case.
pub fn humanize(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if matches!(c, '_' | '-' | '.' | ' ') || c.is_whitespace() {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            continue;
        }
        if c.is_uppercase() && !word.is_empty() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            // A new word starts at `aB` (camelCase) and at the last capital of `ABc`
            // (an acronym followed by a word: `HTTPServer` → "HTTP", "Server").
            if !prev.is_uppercase() || next_lower {
                words.push(std::mem::take(&mut word));
            }
        }
        word.push(c);
    }
    if !word.is_empty() {
        words.push(word);
    }
    let mut out = String::new();
    for (i, w) in words.iter().enumerate() {
        let acronym = w.chars().count() > 1 && !w.chars().any(char::is_lowercase);
        if i > 0 {
            out.push(' ');
        }
        if acronym {
            out.push_str(w);
        } else if i == 0 {
            let mut cs = w.chars();
            if let Some(first) = cs.next() {
                out.extend(first.to_uppercase());
                out.push_str(&cs.as_str().to_lowercase());
            }
        } else {
            out.push_str(&w.to_lowercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn humanizes_identifiers() {
        assert_eq!(humanize("word_count"), "Word count");
        assert_eq!(humanize("maxTokens"), "Max tokens");
        assert_eq!(humanize("topic"), "Topic");
        assert_eq!(humanize("user_ID"), "User ID");
        assert_eq!(humanize("HTTPServer"), "HTTP server");
        assert_eq!(humanize("__private--name  x"), "Private name x");
        assert_eq!(humanize("item2Count"), "Item2 count");
        assert_eq!(humanize("ünicode_wörds"), "Ünicode wörds");
        assert_eq!(humanize(""), "");
        assert_eq!(humanize("___"), "");
    }

    #[test]
    fn labels_types() {
        let int = || Box::new(FieldKind::Integer);
        assert_eq!(FieldKind::Text.type_label(), "text");
        assert_eq!(FieldKind::Number.type_label(), "number");
        assert_eq!(FieldKind::Boolean.type_label(), "true/false");
        assert_eq!(FieldKind::List { item: int() }.type_label(), "list of whole number");
        let map = FieldKind::Map {
            key: Box::new(FieldKind::Text),
            value: Box::new(FieldKind::Json { type_name: None }),
        };
        assert_eq!(map.type_label(), "map text → JSON");
        assert_eq!(FieldKind::Object { fields: vec![] }.type_label(), "object");
        assert_eq!(FieldKind::Json { type_name: Some("x".into()) }.type_label(), "JSON");
    }

    #[test]
    fn default_values() {
        assert_eq!(default_value(&FieldKind::Text), json!(""));
        assert_eq!(default_value(&FieldKind::Integer), Value::Null);
        assert_eq!(default_value(&FieldKind::Number), Value::Null);
        assert_eq!(default_value(&FieldKind::Boolean), json!(false));
        assert_eq!(default_value(&FieldKind::List { item: Box::new(FieldKind::Text) }), json!([]));
        assert_eq!(default_value(&FieldKind::Object { fields: vec![] }), json!({}));
        assert_eq!(default_value(&FieldKind::Json { type_name: None }), Value::Null);
    }

    #[test]
    fn kind_serializes_tagged_and_round_trips() {
        let kind = FieldKind::List { item: Box::new(FieldKind::Text) };
        let v = serde_json::to_value(&kind).unwrap();
        assert_eq!(v, json!({"kind": "list", "item": {"kind": "text"}}));
        assert_eq!(serde_json::from_value::<FieldKind>(v).unwrap(), kind);
        let err = SchemaError::new("boom");
        assert_eq!(err.to_string(), "boom");
    }
}
