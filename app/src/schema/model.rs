//! The input-schema model: what a remote agent says it accepts, one shape for both its
//! native type strings (`list[int]`) and JSON Schema (`spec.rs` maps both into it).
//!
//! Every constraint is optional and left out of the JSON when absent, so a schema read
//! before a constraint existed serializes (and hashes) as it did then.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// What an agent's `GET /schema` describes: its workflow, the inputs a run takes and the
/// names of the outputs it produces.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InputSchema {
    #[serde(default)]
    pub workflow: Option<String>,
    /// In the order the agent sent them (the form follows it); `schema_hash` does not
    /// depend on it.
    #[serde(default)]
    pub fields: Vec<Field>,
    #[serde(default)]
    pub outputs: Vec<String>,
    /// What the inputs object allows besides `fields`.
    #[serde(default, skip_serializing_if = "Additional::is_any")]
    pub additional: Additional,
    /// Named kinds that `FieldKind::Ref` points at: only the recursive ones (a tree of
    /// nodes), and any past the inlining budget. All other `$ref`s are inlined.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub defs: BTreeMap<String, FieldKind>,
    /// JSON Schema's rule that `""` is a value like any other. The native format's rule
    /// (this is `false`) is that blank text in a required field counts as missing.
    #[serde(default, skip_serializing_if = "is_false")]
    pub blank_is_value: bool,
    /// What the schema asked for that cannot be honoured (an unusable `pattern`, say),
    /// for people: the form shows them once, and those checks are left out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
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
    /// The schema's own label (JSON Schema `title`), shown instead of the humanized name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// A password or key: masked in the form, never stored (history keeps `"***"`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub secret: bool,
}

impl Field {
    /// A plain optional field of `kind`.
    pub fn new(name: impl Into<String>, kind: FieldKind) -> Field {
        Field { name: name.into(), kind, required: false, default: None, description: None, title: None, secret: false }
    }

    /// What the form calls it.
    pub fn label(&self) -> String {
        match &self.title {
            Some(t) if !t.trim().is_empty() => t.clone(),
            _ => humanize(&self.name),
        }
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Bounds on a number (JSON Schema's `minimum`, `exclusiveMaximum`, `multipleOf`, …).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Bounds {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub exclusive_min: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub exclusive_max: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiple_of: Option<f64>,
}

impl Bounds {
    pub fn is_empty(&self) -> bool {
        *self == Bounds::default()
    }
}

/// What an object allows besides its named fields (JSON Schema `additionalProperties`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "allow", rename_all = "snake_case")]
pub enum Additional {
    /// Anything: agents may accept extras (the native format's rule).
    #[default]
    Any,
    /// Nothing: `additionalProperties: false`.
    None,
    /// Extra keys whose values are of this kind; the form offers key/value rows.
    Kind { kind: Box<FieldKind> },
}

impl Additional {
    pub fn is_any(&self) -> bool {
        matches!(self, Additional::Any)
    }
}

/// One alternative of a `Choice`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Variant {
    pub title: String,
    pub kind: FieldKind,
}

/// The shape of a value. Internally tagged (`{"kind": "text"}`); constraints are
/// optional fields, absent when unset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FieldKind {
    Text {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_len: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_len: Option<u64>,
        /// ECMAScript syntax, unanchored (JSON Schema's rule).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pattern: Option<String>,
        /// `date`, `date-time`, `time`, `email`, `uri`, `uuid` are checked; `password`
        /// masks; others are shown as a hint only.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        format: Option<String>,
    },
    Integer {
        #[serde(default, skip_serializing_if = "Bounds::is_empty")]
        bounds: Bounds,
    },
    Number {
        #[serde(default, skip_serializing_if = "Bounds::is_empty")]
        bounds: Bounds,
    },
    Boolean,
    /// One of a fixed set of JSON values (`enum`, `const`): a select.
    Enum {
        options: Vec<Value>,
    },
    /// `list` alone has `Json` items. `prefix` kinds apply to the first items in order
    /// (a tuple); `item` to the rest.
    List {
        item: Box<FieldKind>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        prefix: Vec<FieldKind>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_items: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_items: Option<u64>,
    },
    /// A JSON object used as a map. Keys are always JSON strings, so a non-text `key`
    /// (e.g. `dict[int, str]`) means each key must parse as that type.
    Map {
        key: Box<FieldKind>,
        value: Box<FieldKind>,
    },
    /// An object with known fields.
    Object {
        fields: Vec<Field>,
        #[serde(default, skip_serializing_if = "Additional::is_any")]
        additional: Additional,
    },
    /// Exactly one (`exclusive`, JSON Schema `oneOf`) or at least one (`anyOf`) of the
    /// variants; the form offers a choice of variant.
    Choice {
        variants: Vec<Variant>,
        #[serde(default, skip_serializing_if = "is_false")]
        exclusive: bool,
    },
    /// `inner`, or `null` (JSON Schema `["string", "null"]`, pydantic's `Optional[T]`).
    Nullable {
        inner: Box<FieldKind>,
    },
    /// A kind in `InputSchema::defs`, by name: a recursive type, opened on demand.
    Ref {
        name: String,
    },
    /// Free JSON: `any`, or a type we do not know (`type_name` keeps it for display).
    Json {
        type_name: Option<String>,
    },
}

impl FieldKind {
    /// Plain text, no constraints.
    pub fn text() -> FieldKind {
        FieldKind::Text { min_len: None, max_len: None, pattern: None, format: None }
    }

    pub fn integer() -> FieldKind {
        FieldKind::Integer { bounds: Bounds::default() }
    }

    pub fn number() -> FieldKind {
        FieldKind::Number { bounds: Bounds::default() }
    }

    /// A list of `item`, no constraints.
    pub fn list(item: FieldKind) -> FieldKind {
        FieldKind::List { item: Box::new(item), prefix: Vec::new(), min_items: None, max_items: None }
    }

    /// An object with these fields that allows extra keys (the native format's objects).
    pub fn object(fields: Vec<Field>) -> FieldKind {
        FieldKind::Object { fields, additional: Additional::Any }
    }

    /// A short human description, e.g. "list of whole number" or "map text → JSON".
    pub fn type_label(&self) -> String {
        match self {
            FieldKind::Text { format: Some(f), .. } => match f.as_str() {
                "date" => "date".into(),
                "date-time" => "date and time".into(),
                "time" => "time".into(),
                "email" => "email address".into(),
                "uri" | "url" => "URL".into(),
                "uuid" => "UUID".into(),
                "password" => "secret text".into(),
                other => format!("text ({other})"),
            },
            FieldKind::Text { .. } => "text".into(),
            FieldKind::Integer { .. } => "whole number".into(),
            FieldKind::Number { .. } => "number".into(),
            FieldKind::Boolean => "true/false".into(),
            FieldKind::Enum { .. } => "choice".into(),
            FieldKind::List { item, prefix, .. } if prefix.is_empty() => {
                format!("list of {}", item.type_label())
            }
            FieldKind::List { .. } => "tuple".into(),
            FieldKind::Map { key, value } => {
                format!("map {} → {}", key.type_label(), value.type_label())
            }
            FieldKind::Object { .. } => "object".into(),
            FieldKind::Choice { .. } => "one of several shapes".into(),
            FieldKind::Nullable { inner } => format!("{}, or empty", inner.type_label()),
            FieldKind::Ref { name } => name.clone(),
            FieldKind::Json { .. } => "JSON".into(),
        }
    }

    /// The constraints a person should know before typing, e.g. "0 to 100" or "3–50
    /// characters"; `None` when there are none.
    pub fn constraint_hint(&self) -> Option<String> {
        let num = |x: f64| if x.fract() == 0.0 && x.abs() < 1e15 { format!("{}", x as i64) } else { x.to_string() };
        let mut parts = Vec::new();
        match self {
            FieldKind::Text { min_len, max_len, pattern, .. } => {
                match (min_len, max_len) {
                    (Some(a), Some(b)) => parts.push(format!("{a}–{b} characters")),
                    (Some(a), None) => parts.push(format!("at least {a} character{}", if *a == 1 { "" } else { "s" })),
                    (None, Some(b)) => parts.push(format!("at most {b} characters")),
                    (None, None) => {}
                }
                if let Some(p) = pattern {
                    parts.push(super::pattern_words::pattern_hint(p));
                }
            }
            FieldKind::Integer { bounds } | FieldKind::Number { bounds } => {
                match (bounds.min, bounds.max) {
                    (Some(a), Some(b)) if !bounds.exclusive_min && !bounds.exclusive_max => {
                        parts.push(format!("{} to {}", num(a), num(b)))
                    }
                    (a, b) => {
                        if let Some(a) = a {
                            parts.push(format!("{} {}", if bounds.exclusive_min { ">" } else { "≥" }, num(a)));
                        }
                        if let Some(b) = b {
                            parts.push(format!("{} {}", if bounds.exclusive_max { "<" } else { "≤" }, num(b)));
                        }
                    }
                }
                if let Some(m) = bounds.multiple_of {
                    parts.push(format!("multiple of {}", num(m)));
                }
            }
            FieldKind::List { min_items, max_items, .. } => match (min_items, max_items) {
                (Some(a), Some(b)) => parts.push(format!("{a}–{b} items")),
                (Some(a), None) => parts.push(format!("at least {a} item{}", if *a == 1 { "" } else { "s" })),
                (None, Some(b)) => parts.push(format!("at most {b} items")),
                (None, None) => {}
            },
            FieldKind::Nullable { inner } => return inner.constraint_hint(),
            _ => {}
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }

    /// Whether `null` is a value of this kind (not just "left out").
    pub fn accepts_null(&self) -> bool {
        match self {
            // Not `Json`: a required free-form value must still be given.
            FieldKind::Nullable { .. } => true,
            FieldKind::Enum { options } => options.iter().any(Value::is_null),
            _ => false,
        }
    }
}

/// The empty value a form starts a new value (e.g. a new list item) of this kind with.
/// Numbers start as `null` rather than 0 so "not filled in" stays distinguishable.
pub fn default_value(kind: &FieldKind) -> Value {
    match kind {
        FieldKind::Text { .. } => Value::String(String::new()),
        FieldKind::Boolean => Value::Bool(false),
        FieldKind::List { .. } => Value::Array(Vec::new()),
        FieldKind::Map { .. } | FieldKind::Object { .. } => Value::Object(Default::default()),
        _ => Value::Null,
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

const KNOWN_ACRONYMS: [&str; 14] =
    ["api", "id", "url", "uri", "uuid", "json", "http", "https", "llm", "sql", "ip", "ui", "ai", "html"];

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
        // Acronyms that identifiers spell in lower case (`api_key`, `base_url`).
        let known = KNOWN_ACRONYMS.contains(&w.to_lowercase().as_str());
        if i > 0 {
            out.push(' ');
        }
        if known {
            out.push_str(&w.to_uppercase());
        } else if acronym {
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
        assert_eq!(humanize("api_key"), "API key");
        assert_eq!(humanize("base_url"), "Base URL");
        assert_eq!(humanize("rapid"), "Rapid");
        assert_eq!(humanize("HTTPServer"), "HTTP server");
        assert_eq!(humanize("__private--name  x"), "Private name x");
        assert_eq!(humanize("item2Count"), "Item2 count");
        assert_eq!(humanize("ünicode_wörds"), "Ünicode wörds");
        assert_eq!(humanize(""), "");
        assert_eq!(humanize("___"), "");
    }

    #[test]
    fn labels_types() {
        assert_eq!(FieldKind::text().type_label(), "text");
        assert_eq!(FieldKind::number().type_label(), "number");
        assert_eq!(FieldKind::Boolean.type_label(), "true/false");
        assert_eq!(FieldKind::list(FieldKind::integer()).type_label(), "list of whole number");
        let map =
            FieldKind::Map { key: Box::new(FieldKind::text()), value: Box::new(FieldKind::Json { type_name: None }) };
        assert_eq!(map.type_label(), "map text → JSON");
        assert_eq!(FieldKind::object(vec![]).type_label(), "object");
        let date = FieldKind::Text { min_len: None, max_len: None, pattern: None, format: Some("date".into()) };
        assert_eq!(date.type_label(), "date");
        let opt = FieldKind::Nullable { inner: Box::new(FieldKind::integer()) };
        assert_eq!(opt.type_label(), "whole number, or empty");
        assert_eq!(FieldKind::Json { type_name: Some("x".into()) }.type_label(), "JSON");
    }

    #[test]
    fn default_values() {
        assert_eq!(default_value(&FieldKind::text()), json!(""));
        assert_eq!(default_value(&FieldKind::integer()), Value::Null);
        assert_eq!(default_value(&FieldKind::number()), Value::Null);
        assert_eq!(default_value(&FieldKind::Boolean), json!(false));
        assert_eq!(default_value(&FieldKind::list(FieldKind::text())), json!([]));
        assert_eq!(default_value(&FieldKind::object(vec![])), json!({}));
        assert_eq!(default_value(&FieldKind::Json { type_name: None }), Value::Null);
    }

    #[test]
    fn kind_serializes_tagged_and_round_trips() {
        let kind = FieldKind::list(FieldKind::text());
        let v = serde_json::to_value(&kind).unwrap();
        // Unset constraints are left out: schemas stored before they existed still match.
        assert_eq!(v, json!({"kind": "list", "item": {"kind": "text"}}));
        assert_eq!(serde_json::from_value::<FieldKind>(v).unwrap(), kind);
        let v = json!({"kind": "integer", "bounds": {"min": 0.0, "exclusive_max": true}});
        let k: FieldKind = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(serde_json::to_value(&k).unwrap(), v);
        let f = Field::new("a", FieldKind::object(vec![]));
        assert_eq!(
            serde_json::to_value(&f).unwrap(),
            json!({"name": "a", "kind": {"kind": "object", "fields": []}, "required": false, "default": null, "description": null})
        );
        let err = SchemaError::new("boom");
        assert_eq!(err.to_string(), "boom");
    }
}
