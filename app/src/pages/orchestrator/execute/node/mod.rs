//! The run form's state: one node per schema field, holding what the person typed (as
//! typed: a number field keeps its text so "12a" can be refused, not lost), turned into
//! the inputs object on submit. Empty optional fields are left out of the inputs (the old
//! tool sent them as "").

use crate::schema::{fits, Additional, Field, FieldKind, InputSchema, Variant};
use leptos::prelude::*;
use serde_json::{Map, Value};
use std::sync::Arc;

mod collect;
mod local_time;
#[cfg(test)]
mod tests;

pub use collect::collect_fields;

#[derive(Clone)]
pub enum Node {
    /// `format` picks the input (date, email, …); date-times are edited in local time.
    Text {
        value: RwSignal<String>,
        format: Option<Arc<str>>,
    },
    Number {
        raw: RwSignal<String>,
        integer: bool,
    },
    Bool(RwSignal<bool>),
    /// One of fixed values; `None` is "not chosen".
    Select {
        options: Arc<Vec<Value>>,
        selected: RwSignal<Option<usize>>,
    },
    /// Rows; the first `prefix.len()` are fixed positions of a tuple.
    List {
        item: Arc<FieldKind>,
        prefix: Arc<Vec<FieldKind>>,
        max: Option<u64>,
        rows: RwSignal<Vec<Row>>,
    },
    Map {
        value: Arc<FieldKind>,
        rows: RwSignal<Vec<Row>>,
    },
    /// Named fields, plus key/value rows when the object takes extra keys of a kind.
    /// `pristine`: what it held when built from defaults alone; an optional object still
    /// holding just that was not filled in, and is left out.
    Object {
        fields: Arc<Vec<(Field, Node)>>,
        extra: Option<(Arc<FieldKind>, RwSignal<Vec<Row>>)>,
        pristine: Option<Arc<Map<String, Value>>>,
    },
    /// One node per variant; the chosen one is what is sent.
    Choice {
        variants: Arc<Vec<Variant>>,
        nodes: Arc<Vec<Node>>,
        selected: RwSignal<Option<usize>>,
    },
    /// A recursive type, opened on demand (a tree would otherwise be infinite).
    Lazy {
        name: Arc<str>,
        kind: Arc<FieldKind>,
        node: RwSignal<Option<Node>>,
    },
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

/// What building nodes needs: row IDs, and the schema (its definitions, and `fits` to
/// tell which variant a prefilled value is).
#[derive(Clone)]
pub struct Build {
    pub ids: RowIds,
    pub schema: Arc<InputSchema>,
}

impl Node {
    /// A node for `kind`, prefilled with `value` (a default, or a previous run's input).
    pub fn new(kind: &FieldKind, value: Option<&Value>, b: &Build) -> Node {
        match kind {
            FieldKind::Text { format, .. } => {
                let text = match value {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Null) | None => String::new(),
                    Some(other) => other.to_string(),
                };
                let text = if format.as_deref() == Some("date-time") { local_time::from_rfc3339(&text) } else { text };
                Node::Text { value: RwSignal::new(text), format: format.as_deref().map(Arc::from) }
            }
            FieldKind::Integer { .. } | FieldKind::Number { .. } => Node::Number {
                raw: RwSignal::new(match value {
                    Some(Value::Number(n)) => n.to_string(),
                    Some(Value::String(s)) => s.clone(),
                    _ => String::new(),
                }),
                integer: matches!(kind, FieldKind::Integer { .. }),
            },
            FieldKind::Boolean => Node::Bool(RwSignal::new(matches!(value, Some(Value::Bool(true))))),
            FieldKind::Enum { options } => {
                // A single allowed value (a `const`, e.g. a union's tag) is chosen already.
                let selected = match value {
                    Some(v) => options.iter().position(|o| o == v),
                    None if options.len() == 1 => Some(0),
                    None => None,
                };
                Node::Select { options: Arc::new(options.clone()), selected: RwSignal::new(selected) }
            }
            FieldKind::List { item, prefix, max_items, .. } => {
                let given: &[Value] = match value {
                    Some(Value::Array(items)) => items,
                    _ => &[],
                };
                // Tuple positions always have a row; the rest come from the value.
                let n = given.len().max(prefix.len());
                let rows =
                    (0..n).map(|i| Row::new(prefix.get(i).unwrap_or(item), given.get(i), String::new(), b)).collect();
                Node::List {
                    item: Arc::new((**item).clone()),
                    prefix: Arc::new(prefix.clone()),
                    max: *max_items,
                    rows: RwSignal::new(rows),
                }
            }
            FieldKind::Map { value: value_kind, .. } => {
                let rows = match value {
                    Some(Value::Object(map)) => {
                        map.iter().map(|(k, v)| Row::new(value_kind, Some(v), k.clone(), b)).collect()
                    }
                    _ => Vec::new(),
                };
                Node::Map { value: Arc::new((**value_kind).clone()), rows: RwSignal::new(rows) }
            }
            FieldKind::Object { fields, additional } => Node::object(fields, additional, value, b),
            FieldKind::Choice { variants, .. } => {
                let given = value.filter(|v| !v.is_null());
                let selected = given.map(|v| {
                    variants
                        .iter()
                        .position(|x| fits(&b.schema, &x.kind, v))
                        .or_else(|| variants.iter().position(|x| same_shape(&x.kind, v)))
                        .unwrap_or(0)
                });
                let nodes = variants
                    .iter()
                    .enumerate()
                    .map(|(i, x)| Node::new(&x.kind, given.filter(|_| selected == Some(i)), b))
                    .collect();
                Node::Choice {
                    variants: Arc::new(variants.clone()),
                    nodes: Arc::new(nodes),
                    selected: RwSignal::new(selected),
                }
            }
            FieldKind::Nullable { inner } => Node::new(inner, value.filter(|v| !v.is_null()), b),
            FieldKind::Ref { name } => {
                let resolved =
                    b.schema.defs.get(name).cloned().unwrap_or(FieldKind::Json { type_name: Some(name.clone()) });
                // A given value is finite, so its nodes are too; an empty one stays closed.
                let node = value.filter(|v| !v.is_null()).map(|v| Node::new(&resolved, Some(v), b));
                Node::Lazy { name: Arc::from(name.as_str()), kind: Arc::new(resolved), node: RwSignal::new(node) }
            }
            FieldKind::Json { .. } => Node::Json(RwSignal::new(match value {
                None | Some(Value::Null) => String::new(),
                Some(v) => serde_json::to_string_pretty(v).unwrap_or_default(),
            })),
        }
    }

    /// An object's node: its fields prefilled from `value` or their defaults, and rows
    /// for the keys of `value` that are not fields (when the object takes extras).
    pub fn object(fields: &[Field], additional: &Additional, value: Option<&Value>, b: &Build) -> Node {
        let nodes: Vec<(Field, Node)> = fields
            .iter()
            .map(|f| {
                let given = value.and_then(|v| v.get(&f.name)).filter(|v| !v.is_null());
                (f.clone(), Node::new(&f.kind, given.or(f.default.as_ref()), b))
            })
            .collect();
        let extra = match additional {
            Additional::Kind { kind } => {
                let rows = match value {
                    Some(Value::Object(map)) => map
                        .iter()
                        .filter(|(k, _)| !fields.iter().any(|f| &f.name == *k))
                        .map(|(k, v)| Row::new(kind, Some(v), k.clone(), b))
                        .collect(),
                    _ => Vec::new(),
                };
                Some((Arc::new((**kind).clone()), RwSignal::new(rows)))
            }
            _ => None,
        };
        let pristine = value.is_none().then(|| Arc::new(collect_fields(&nodes, "", &mut Vec::new())));
        Node::Object { fields: Arc::new(nodes), extra, pristine }
    }

    /// What an empty row of a list or map holds: "" for text, null for the rest the person
    /// left blank (the validator then says what is missing).
    pub fn empty(&self) -> Value {
        match self {
            Node::Text { .. } => Value::String(String::new()),
            Node::List { .. } => Value::Array(Vec::new()),
            Node::Map { .. } | Node::Object { .. } => Value::Object(Map::new()),
            _ => Value::Null,
        }
    }
}

/// For a value that fits no variant: the variant of the same JSON type (an object for an
/// object variant), so what was typed is still shown.
fn same_shape(kind: &FieldKind, v: &Value) -> bool {
    matches!(
        (kind, v),
        (FieldKind::Object { .. } | FieldKind::Map { .. }, Value::Object(_))
            | (FieldKind::List { .. }, Value::Array(_))
            | (FieldKind::Text { .. }, Value::String(_))
            | (FieldKind::Integer { .. } | FieldKind::Number { .. }, Value::Number(_))
            | (FieldKind::Boolean, Value::Bool(_))
    )
}

impl Row {
    /// A row for a value of `kind`. A recursive type opens one level here: the row itself
    /// was asked for.
    pub fn new(kind: &FieldKind, value: Option<&Value>, key: String, b: &Build) -> Row {
        let node = match kind {
            FieldKind::Ref { name } => match b.schema.defs.get(name) {
                Some(resolved) => Node::new(resolved, value, b),
                None => Node::new(kind, value, b),
            },
            kind => Node::new(kind, value, b),
        };
        Row { id: b.ids.next(), key: RwSignal::new(key), node }
    }
}

/// `path/segment`, escaped as JSON Pointer (the paths the validator and the server use).
pub fn pointer(path: &str, segment: &str) -> String {
    format!("{path}/{}", segment.replace('~', "~0").replace('/', "~1"))
}
