//! Turning the form's nodes into the inputs object: what each holds, empty optional
//! fields left out, and text that cannot be what its field asks for reported at its path.

use super::{local_time, pointer, Node, Row};
use crate::error::FieldError;
use crate::schema::Field;
use leptos::prelude::*;
use serde_json::{Map, Value};

impl Node {
    /// The value this node holds, or None when it is empty (left out of the inputs).
    /// Text that cannot be what the field asks for is reported at `path`.
    pub fn collect(&self, path: &str, errors: &mut Vec<FieldError>) -> Option<Value> {
        match self {
            Node::Text { value, format } => {
                let text = value.get_untracked();
                if text.is_empty() {
                    return None;
                }
                let text = if format.as_deref() == Some("date-time") { local_time::to_rfc3339(&text) } else { text };
                Some(Value::String(text))
            }
            Node::Number { raw, integer } => {
                let raw = raw.get_untracked();
                let raw = raw.trim();
                if raw.is_empty() {
                    return None;
                }
                match crate::schema::text::number(raw, *integer) {
                    Ok(n) => Some(Value::Number(n)),
                    Err(message) => {
                        errors.push(FieldError::new(path, message));
                        None
                    }
                }
            }
            Node::Bool(checked) => Some(Value::Bool(checked.get_untracked())),
            Node::Select { options, selected } => selected.get_untracked().and_then(|i| options.get(i).cloned()),
            Node::List { rows, prefix, .. } => {
                let rows = rows.get_untracked();
                let items: Vec<Option<Value>> =
                    rows.iter().enumerate().map(|(i, row)| row.node.collect(&format!("{path}/{i}"), errors)).collect();
                // No rows, or only a tuple's fixed rows left blank: not filled in.
                if items.iter().all(Option::is_none) && rows.len() <= prefix.len() {
                    return None;
                }
                Some(Value::Array(
                    items.into_iter().zip(&rows).map(|(v, row)| v.unwrap_or_else(|| row.node.empty())).collect(),
                ))
            }
            Node::Map { rows, .. } => {
                let mut map = Map::new();
                collect_rows(rows, path, &mut map, errors);
                (!map.is_empty() || !rows.with_untracked(Vec::is_empty)).then_some(Value::Object(map))
            }
            Node::Object { fields, extra, .. } => {
                let mut map = collect_fields(fields, path, errors);
                if let Some((_, rows)) = extra {
                    collect_rows(rows, path, &mut map, errors);
                }
                (!map.is_empty()).then_some(Value::Object(map))
            }
            Node::Choice { nodes, selected, .. } => {
                let node = nodes.get(selected.get_untracked()?)?;
                node.collect(path, errors).or_else(|| Some(node.empty()))
            }
            Node::Lazy { node, .. } => {
                node.with_untracked(|n| n.as_ref().map(|n| n.collect(path, errors).unwrap_or_else(|| n.empty())))
            }
            Node::Json(raw) => {
                let raw = raw.get_untracked();
                if raw.trim().is_empty() {
                    return None;
                }
                match crate::schema::text::json(&raw) {
                    Ok(v) => Some(v),
                    Err(message) => {
                        errors.push(FieldError::new(path, message));
                        None
                    }
                }
            }
        }
    }
}

/// Rows of keys and values into `map`; a missing or repeated key is an error.
fn collect_rows(rows: &RwSignal<Vec<Row>>, path: &str, map: &mut Map<String, Value>, errors: &mut Vec<FieldError>) {
    for row in rows.get_untracked() {
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
}

/// The inputs object of a list of fields; empty optional fields are left out, except
/// that a required field that takes `null` gets it.
pub fn collect_fields(fields: &[(Field, Node)], path: &str, errors: &mut Vec<FieldError>) -> Map<String, Value> {
    let mut map = Map::new();
    for (field, node) in fields {
        match node.collect(&pointer(path, &field.name), errors) {
            // Defaults of an optional nested object do not make it filled in.
            Some(Value::Object(m))
                if !field.required && matches!(node, Node::Object { pristine: Some(p), .. } if **p == m) => {}
            Some(v) => {
                map.insert(field.name.clone(), v);
            }
            None if field.required && field.kind.accepts_null() => {
                map.insert(field.name.clone(), Value::Null);
            }
            // A required list, map or object left empty is sent empty: `[]` is a value,
            // and an empty object's own required fields then say what is missing.
            None if field.required && matches!(node, Node::List { .. } | Node::Map { .. } | Node::Object { .. }) => {
                map.insert(field.name.clone(), node.empty());
            }
            None => {}
        }
    }
    map
}
