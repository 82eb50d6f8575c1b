//! The run form's state: one node per schema field, holding what the person typed (as
//! typed: a number field keeps its text so "12a" can be refused, not lost), turned into
//! the inputs object on submit. Empty optional fields are left out of the inputs (the old
//! tool sent them as "").

use crate::error::FieldError;
use crate::schema::{fits, Additional, Field, FieldKind, InputSchema, Variant};
use leptos::prelude::*;
use serde_json::{Map, Value};
use std::sync::Arc;

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

/// `path/segment`, escaped as JSON Pointer (the paths the validator and the server use).
pub fn pointer(path: &str, segment: &str) -> String {
    format!("{path}/{}", segment.replace('~', "~0").replace('/', "~1"))
}

/// `date-time` fields are edited with the browser's local date-time input, which has no
/// offset; what is sent is RFC 3339 (in UTC), as JSON Schema's `date-time` requires.
pub mod local_time {
    /// `2026-11-23T14:30` (local) → `2026-11-23T13:30:00.000Z`. Text that is not a local
    /// date-time (typed by hand, or already with an offset) is sent as it is.
    pub fn to_rfc3339(local: &str) -> String {
        let tail = local.get(11..).unwrap_or("");
        let plain = local.len() >= 16 && !tail.contains(['Z', 'z', '+', '-']);
        if !plain {
            return local.to_owned();
        }
        #[cfg(all(target_arch = "wasm32", feature = "hydrate"))]
        {
            let d = js_sys::Date::new(&local.into());
            if d.get_time().is_nan() {
                return local.to_owned();
            }
            String::from(d.to_iso_string())
        }
        #[cfg(not(all(target_arch = "wasm32", feature = "hydrate")))]
        {
            // Outside a browser there is no local zone to speak of: UTC.
            if local.len() == 16 {
                format!("{local}:00Z")
            } else {
                format!("{local}Z")
            }
        }
    }

    /// RFC 3339 → the local `YYYY-MM-DDTHH:MM:SS` a datetime-local input shows.
    pub fn from_rfc3339(text: &str) -> String {
        if !crate::schema::formats::date_time(text) {
            return text.to_owned();
        }
        #[cfg(all(target_arch = "wasm32", feature = "hydrate"))]
        {
            let d = js_sys::Date::new(&text.into());
            if d.get_time().is_nan() {
                return text.to_owned();
            }
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                d.get_full_year(),
                d.get_month() + 1,
                d.get_date(),
                d.get_hours(),
                d.get_minutes(),
                d.get_seconds()
            )
        }
        #[cfg(not(all(target_arch = "wasm32", feature = "hydrate")))]
        {
            text.get(..19).unwrap_or(text).to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::parse_schema;
    use serde_json::json;

    // Signals live in an arena that needs an owner (as inside a component).

    fn form(schema: Value, initial: Option<Value>) -> (Build, Vec<(Field, Node)>) {
        let schema = parse_schema(&schema).unwrap();
        let b = Build { ids: RowIds::new(), schema: Arc::new(schema.clone()) };
        let Node::Object { fields, .. } = Node::object(&schema.fields, &schema.additional, initial.as_ref(), &b) else {
            panic!()
        };
        (b, fields.to_vec())
    }

    fn node<'a>(fields: &'a [(Field, Node)], name: &str) -> &'a Node {
        &fields.iter().find(|(f, _)| f.name == name).unwrap().1
    }

    #[test]
    fn defaults_prefill_and_empty_optionals_are_left_out() {
        Owner::new().with(|| {
            let (_, fields) = form(
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
            let (_, fields) = form(
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

            let Node::Number { raw, .. } = node(&fields, "n") else { panic!() };
            raw.set("12a".into());
            let Node::List { rows, .. } = node(&fields, "tags") else { panic!() };
            let Node::Number { raw: item, .. } = &rows.get_untracked()[1].node else { panic!() };
            item.set("2.5".into());
            let Node::Json(text) = node(&fields, "j") else { panic!() };
            text.set("[1,".into());
            let mut errors = Vec::new();
            collect_fields(&fields, "", &mut errors);
            let paths: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
            assert_eq!(paths, ["/n", "/tags/1", "/j"], "in the form's order, the schema's");
        })
    }

    #[test]
    fn map_keys_must_be_present_and_unique() {
        Owner::new().with(|| {
            let (b, fields) = form(json!({"inputs": {"m": "dict[str, str]"}}), Some(json!({"m": {"a/b": "1"}})));
            let Node::Map { rows, value } = node(&fields, "m") else { panic!() };
            rows.update(|r| {
                r.push(Row::new(value, Some(&json!("2")), "a/b".into(), &b));
                r.push(Row::new(value, None, String::new(), &b));
            });
            let mut errors = Vec::new();
            collect_fields(&fields, "", &mut errors);
            let paths: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
            assert_eq!(paths, ["/m/a~1b", "/m/"]);
        })
    }

    #[test]
    fn json_schema_kinds_round_trip_through_the_form() {
        Owner::new().with(|| {
            let schema = json!({"type": "object", "required": ["pet", "maybe"], "properties": {
                "color": {"enum": ["red", "green", null]},
                "pet": {"oneOf": [
                    {"title": "Cat", "type": "object", "required": ["kind"], "properties": {"kind": {"const": "cat"}, "lives": {"type": "integer"}}},
                    {"title": "Dog", "type": "object", "required": ["kind"], "properties": {"kind": {"const": "dog"}, "good": {"type": "boolean"}}}
                ]},
                "maybe": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
                "pair": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}], "items": false},
                "tree": {"$ref": "#/$defs/Tree"},
                "labels": {"type": "object", "properties": {"main": {"type": "string"}}, "additionalProperties": {"type": "integer"}},
                "when": {"type": "string", "format": "date-time"}
            }, "$defs": {"Tree": {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/Tree"}}, "parent": {"$ref": "#/$defs/Tree"}}}}});
            let given = json!({"color": "green", "pet": {"kind": "dog", "good": true}, "maybe": 3, "pair": [1, "a"],
                               "tree": {"kids": [{"kids": []}]}, "labels": {"main": "m", "x": 1}, "when": "2026-11-23T10:00:00Z"});
            let (_, fields) = form(schema.clone(), Some(given.clone()));
            let mut errors = Vec::new();
            let inputs = collect_fields(&fields, "", &mut errors);
            assert!(errors.is_empty(), "{errors:?}");
            // The empty kids list of the inner tree is left out, as empty lists are.
            let mut expected = given.clone();
            expected["tree"] = json!({"kids": [{}]});
            assert_eq!(Value::Object(inputs), expected);
            let Node::Choice { selected, .. } = node(&fields, "pet") else { panic!() };
            assert_eq!(selected.get_untracked(), Some(1), "the dog variant was recognised");

            // Empty: the required nullable gets null, the closed tree stays out, the choice
            // starts on nothing chosen.
            let (_, fields) = form(schema, None);
            let mut errors = Vec::new();
            let inputs = collect_fields(&fields, "", &mut errors);
            assert_eq!(Value::Object(inputs), json!({"maybe": null}));
            // The first level of the recursive type is inlined; where it recurs, a level
            // opens on demand: rows of a list, or a closed node.
            let Node::Object { fields: tree, .. } = node(&fields, "tree") else { panic!() };
            let Node::List { item, .. } = node(tree, "kids") else { panic!() };
            assert_eq!(**item, FieldKind::Ref { name: "Tree".into() });
            let Node::Lazy { node: parent, kind, .. } = node(tree, "parent") else { panic!() };
            assert!(parent.get_untracked().is_none());
            assert!(matches!(&**kind, FieldKind::Object { .. }));
        })
    }

    /// Every real schema of the corpus renders as form nodes; each of its valid inputs,
    /// filled in and collected again, still validates (the form loses nothing it needs).
    #[test]
    fn every_corpus_schema_renders_and_round_trips_its_valid_inputs() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|x| x != "json") {
                continue;
            }
            let case: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let schema = parse_schema(&case["schema"]).unwrap();
            Owner::new().with(|| {
                let b = Build { ids: RowIds::new(), schema: Arc::new(schema.clone()) };
                for valid in case["valid"].as_array().unwrap() {
                    let root = Node::object(&schema.fields, &schema.additional, Some(valid), &b);
                    let mut errors = Vec::new();
                    let collected = root.collect("", &mut errors).unwrap_or(json!({}));
                    assert!(errors.is_empty(), "{path:?}: {errors:?}");
                    if let Err(e) = crate::schema::validate_inputs(&schema, &collected) {
                        // The one thing a form field cannot say: a required text that
                        // is the empty string (blank reads as "not filled in"; the raw
                        // JSON view sends "").
                        let blank = |f: &FieldError| {
                            valid.pointer(&f.field) == Some(&json!("")) && f.message == "This field is required"
                        };
                        assert!(e.iter().all(blank), "{path:?}: {valid} came back from the form as {collected}: {e:?}");
                    }
                }
                // And an empty form builds too.
                let _ = Node::object(&schema.fields, &schema.additional, None, &b);
            });
            seen += 1;
        }
        assert!(seen >= 12);
    }

    #[test]
    fn local_date_times_become_rfc3339() {
        assert_eq!(local_time::to_rfc3339("2026-11-23T14:30"), "2026-11-23T14:30:00Z");
        assert_eq!(local_time::to_rfc3339("2026-11-23T14:30:05"), "2026-11-23T14:30:05Z");
        assert_eq!(local_time::to_rfc3339("2026-11-23T14:30:00+02:00"), "2026-11-23T14:30:00+02:00");
        assert_eq!(local_time::to_rfc3339("soon"), "soon");
        assert_eq!(local_time::from_rfc3339("2026-11-23T14:30:00Z"), "2026-11-23T14:30:00");
        assert_eq!(local_time::from_rfc3339("é"), "é");
    }
}
