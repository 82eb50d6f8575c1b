//! The run form's state: one node per schema field, holding what the person typed (as
//! typed: a number field keeps its text so "12a" can be refused, not lost), turned into
//! the inputs object on submit. Empty optional fields are left out of the inputs (the old
//! tool sent them as "").

use crate::error::FieldError;
use crate::schema::{Field, FieldKind};
use leptos::prelude::*;
use serde_json::{Map, Number, Value};
use std::sync::Arc;

#[derive(Clone)]
pub enum Node {
    Text(RwSignal<String>),
    Number { raw: RwSignal<String>, integer: bool },
    Bool(RwSignal<bool>),
    List { item: Arc<FieldKind>, rows: RwSignal<Vec<Row>> },
    Map { value: Arc<FieldKind>, rows: RwSignal<Vec<Row>> },
    Object { fields: Arc<Vec<(Field, Node)>> },
    /// A type the form has no input for: edited as JSON text.
    Json(RwSignal<String>),
}

/// A row of a list or map; `key` is the map key (unused for lists), `id` keeps the row's
/// DOM when others are removed.
#[derive(Clone)]
pub struct Row {
    pub id: u64,
    pub key: RwSignal<String>,
    pub node: Node,
}

/// Hands out row IDs, unique within one form.
#[derive(Clone, Copy)]
pub struct RowIds(StoredValue<u64>);

impl RowIds {
    pub fn new() -> Self {
        Self(StoredValue::new(0))
    }

    pub fn next(&self) -> u64 {
        self.0.update_value(|n| *n += 1);
        self.0.get_value()
    }
}

impl Node {
    /// A node for `kind`, prefilled with `value` (a default, or a previous run's input).
    pub fn new(kind: &FieldKind, value: Option<&Value>, ids: RowIds) -> Node {
        match kind {
            FieldKind::Text => Node::Text(RwSignal::new(match value {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            })),
            FieldKind::Integer | FieldKind::Number => Node::Number {
                raw: RwSignal::new(match value {
                    Some(Value::Number(n)) => n.to_string(),
                    Some(Value::String(s)) => s.clone(),
                    _ => String::new(),
                }),
                integer: matches!(kind, FieldKind::Integer),
            },
            FieldKind::Boolean => Node::Bool(RwSignal::new(matches!(value, Some(Value::Bool(true))))),
            FieldKind::List { item } => {
                let rows = match value {
                    Some(Value::Array(items)) => items.iter().map(|v| Row::new(item, Some(v), String::new(), ids)).collect(),
                    _ => Vec::new(),
                };
                Node::List { item: Arc::new((**item).clone()), rows: RwSignal::new(rows) }
            }
            FieldKind::Map { value: value_kind, .. } => {
                let rows = match value {
                    Some(Value::Object(map)) => map.iter().map(|(k, v)| Row::new(value_kind, Some(v), k.clone(), ids)).collect(),
                    _ => Vec::new(),
                };
                Node::Map { value: Arc::new((**value_kind).clone()), rows: RwSignal::new(rows) }
            }
            FieldKind::Object { fields } => Node::Object { fields: Arc::new(object_fields(fields, value, ids)) },
            FieldKind::Json { .. } => Node::Json(RwSignal::new(match value {
                None | Some(Value::Null) => String::new(),
                Some(v) => serde_json::to_string_pretty(v).unwrap_or_default(),
            })),
        }
    }

    /// The value this node holds, or None when it is empty (left out of the inputs).
    /// Text that cannot be what the field asks for is reported at `path`.
    pub fn collect(&self, path: &str, errors: &mut Vec<FieldError>) -> Option<Value> {
        match self {
            Node::Text(text) => Some(text.get_untracked()).filter(|t| !t.is_empty()).map(Value::String),
            Node::Number { raw, integer } => {
                let raw = raw.get_untracked();
                let raw = raw.trim();
                if raw.is_empty() {
                    return None;
                }
                let parsed = if *integer {
                    raw.parse::<i64>().ok().map(Number::from)
                } else {
                    raw.parse::<f64>().ok().filter(|f| f.is_finite()).and_then(Number::from_f64)
                };
                match parsed {
                    Some(n) => Some(Value::Number(n)),
                    None => {
                        let message = if *integer { "Must be a whole number" } else { "Must be a number" };
                        errors.push(FieldError::new(path, message));
                        None
                    }
                }
            }
            Node::Bool(checked) => Some(Value::Bool(checked.get_untracked())),
            Node::List { rows, .. } => {
                let rows = rows.get_untracked();
                if rows.is_empty() {
                    return None;
                }
                let items = rows
                    .iter()
                    .enumerate()
                    .map(|(i, row)| row.node.collect(&format!("{path}/{i}"), errors).unwrap_or_else(|| row.node.empty()))
                    .collect();
                Some(Value::Array(items))
            }
            Node::Map { rows, .. } => {
                let rows = rows.get_untracked();
                if rows.is_empty() {
                    return None;
                }
                let mut map = Map::new();
                for row in rows {
                    let key = row.key.get_untracked();
                    let at = pointer(path, &key);
                    if key.is_empty() {
                        errors.push(FieldError::new(&format!("{path}/"), "Every entry needs a key"));
                        continue;
                    }
                    if map.contains_key(&key) {
                        errors.push(FieldError::new(&at, format!("The key {key:?} is used twice")));
                        continue;
                    }
                    let value = row.node.collect(&at, errors).unwrap_or_else(|| row.node.empty());
                    map.insert(key, value);
                }
                Some(Value::Object(map))
            }
            Node::Object { fields } => {
                let map = collect_fields(fields, path, errors);
                (!map.is_empty()).then_some(Value::Object(map))
            }
            Node::Json(raw) => {
                let raw = raw.get_untracked();
                if raw.trim().is_empty() {
                    return None;
                }
                match serde_json::from_str(&raw) {
                    Ok(v) => Some(v),
                    Err(e) => {
                        errors.push(FieldError::new(path, format!("Not valid JSON: {e}")));
                        None
                    }
                }
            }
        }
    }

    /// What an empty row of a list or map holds: "" for text, null for the rest the person
    /// left blank (the validator then says what is missing).
    fn empty(&self) -> Value {
        match self {
            Node::Text(_) => Value::String(String::new()),
            Node::List { .. } => Value::Array(Vec::new()),
            Node::Map { .. } | Node::Object { .. } => Value::Object(Map::new()),
            _ => Value::Null,
        }
    }
}

impl Row {
    pub fn new(kind: &FieldKind, value: Option<&Value>, key: String, ids: RowIds) -> Row {
        Row { id: ids.next(), key: RwSignal::new(key), node: Node::new(kind, value, ids) }
    }
}

/// The fields of an object (or of the whole form), each prefilled from `value` or its default.
pub fn object_fields(fields: &[Field], value: Option<&Value>, ids: RowIds) -> Vec<(Field, Node)> {
    fields
        .iter()
        .map(|f| {
            let given = value.and_then(|v| v.get(&f.name)).filter(|v| !v.is_null());
            (f.clone(), Node::new(&f.kind, given.or(f.default.as_ref()), ids))
        })
        .collect()
}

/// The inputs object of a list of fields; empty optional fields are left out.
pub fn collect_fields(fields: &[(Field, Node)], path: &str, errors: &mut Vec<FieldError>) -> Map<String, Value> {
    let mut map = Map::new();
    for (field, node) in fields {
        if let Some(v) = node.collect(&pointer(path, &field.name), errors) {
            map.insert(field.name.clone(), v);
        }
    }
    map
}

/// `path/segment`, escaped as JSON Pointer (the paths the validator and the server use).
pub fn pointer(path: &str, segment: &str) -> String {
    format!("{path}/{}", segment.replace('~', "~0").replace('/', "~1"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::parse_schema;
    use serde_json::json;

    // Signals live in an arena that needs an owner (as inside a component).

    fn form(schema: Value, initial: Option<Value>) -> Vec<(Field, Node)> {
        let schema = parse_schema(&schema).unwrap();
        object_fields(&schema.fields, initial.as_ref(), RowIds::new())
    }

    #[test]
    fn defaults_prefill_and_empty_optionals_are_left_out() {
        Owner::new().with(|| {
        let fields = form(
            json!({"inputs": {
                "topic": {"type": "str", "required": true},
                "tone": {"type": "str", "default": "casual"},
                "note": {"type": "str"},
                "n": {"type": "int"}
            }}),
            None,
        );
        let mut errors = Vec::new();
        let inputs = collect_fields(&fields, "", &mut errors);
        assert!(errors.is_empty());
        assert_eq!(Value::Object(inputs), json!({"tone": "casual"}), "empty topic/note/n left out");
        })
    }

    #[test]
    fn typed_text_becomes_typed_json_or_a_field_error() {
        Owner::new().with(|| {
        let fields = form(
            json!({"inputs": {"n": "int", "x": "float", "ok": "bool", "tags": "list[int]", "m": "dict[str, float]",
                              "o": {"type": "object", "schema": {"a": "str"}}, "j": "tuple"}}),
            Some(json!({"n": 3, "x": 1.5, "ok": true, "tags": [1, 2], "m": {"k": 2.5}, "o": {"a": "z"}, "j": [1, "a"]})),
        );
        let mut errors = Vec::new();
        let inputs = collect_fields(&fields, "", &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            Value::Object(inputs),
            json!({"n": 3, "x": 1.5, "ok": true, "tags": [1, 2], "m": {"k": 2.5}, "o": {"a": "z"}, "j": [1, "a"]})
        );

        let (_, n) = fields.iter().find(|(f, _)| f.name == "n").unwrap();
        let Node::Number { raw, .. } = n else { panic!() };
        raw.set("12a".into());
        let (_, tags) = fields.iter().find(|(f, _)| f.name == "tags").unwrap();
        let Node::List { rows, .. } = tags else { panic!() };
        let Node::Number { raw: item, .. } = &rows.get_untracked()[1].node else { panic!() };
        item.set("2.5".into());
        let (_, j) = fields.iter().find(|(f, _)| f.name == "j").unwrap();
        let Node::Json(text) = j else { panic!() };
        text.set("[1,".into());
        let mut errors = Vec::new();
        collect_fields(&fields, "", &mut errors);
        let paths: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(paths, ["/j", "/n", "/tags/1"]);
        })
    }

    #[test]
    fn map_keys_must_be_present_and_unique() {
        Owner::new().with(|| {
        let fields = form(json!({"inputs": {"m": "dict[str, str]"}}), Some(json!({"m": {"a/b": "1"}})));
        let (_, m) = &fields[0];
        let Node::Map { rows, value } = m else { panic!() };
        let ids = RowIds::new();
        rows.update(|r| {
            r.push(Row::new(value, Some(&json!("2")), "a/b".into(), ids));
            r.push(Row::new(value, None, String::new(), ids));
        });
        let mut errors = Vec::new();
        collect_fields(&fields, "", &mut errors);
        let paths: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(paths, ["/m/a~1b", "/m/"]);
        })
    }
}
