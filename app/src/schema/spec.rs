//! An agent's `GET /schema` answer into the model. Agents are remote and untrusted, so
//! the walk is bounded in depth and in fields, and fails with a message people can act on.

use super::jsonschema;
use super::model::{Field, FieldKind, InputSchema, SchemaError};
use super::parse::{clip, parse_type_within};
use super::{push_segment, MAX_DEPTH, MAX_FIELDS, MAX_NAME_LEN};
use serde_json::{Map, Value};

/// Reads an agent's `/schema` answer: the native
/// `{"workflow": …, "inputs": {FIELD: SPEC, …}, "outputs": […]}`, the same with a JSON
/// Schema object as `inputs`, or a JSON Schema object as the whole answer.
pub fn parse_schema(raw: &Value) -> Result<InputSchema, SchemaError> {
    let body = raw.as_object().ok_or_else(|| SchemaError::new("The schema must be a JSON object"))?;
    if jsonschema::looks_like_json_schema(raw) {
        return jsonschema::parse(raw, raw);
    }
    // Metadata of the wrong shape is ignored; only the inputs' structure is strict.
    let workflow = body.get("workflow").and_then(Value::as_str).map(str::to_owned);
    let outputs: Vec<String> = match body.get("outputs") {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        Some(Value::Object(map)) => map.keys().cloned().collect(),
        _ => Vec::new(),
    };
    if outputs.len() > MAX_FIELDS {
        return Err(SchemaError::new(format!("The schema lists more than {MAX_FIELDS} outputs")));
    }
    if let Some(inputs) = body.get("inputs").filter(|i| jsonschema::looks_like_json_schema(i)) {
        let schema = jsonschema::parse(inputs, raw)?;
        return Ok(InputSchema { workflow: workflow.or(schema.workflow), outputs, ..schema });
    }
    let mut count = 0;
    let mut fields = match body.get("inputs") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(inputs)) => parse_fields(inputs, &mut String::new(), 0, &mut count)?,
        Some(_) => return Err(SchemaError::new("The schema's \"inputs\" must be a JSON object")),
    };
    // `"secrets": ["api_key", …]` marks top-level inputs secret (as `"secret": true` does
    // in a field's SPEC).
    if let Some(Value::Array(names)) = body.get("secrets") {
        for field in &mut fields {
            field.secret |= names.iter().any(|n| n.as_str() == Some(&field.name));
        }
    }
    Ok(InputSchema { workflow, fields, outputs, ..InputSchema::default() })
}

/// The fields of one object level at `depth` (0 = the inputs themselves); `path` is the
/// JSON Pointer of the object, `count` the fields seen so far in the whole tree.
fn parse_fields(
    specs: &Map<String, Value>,
    path: &mut String,
    depth: usize,
    count: &mut usize,
) -> Result<Vec<Field>, SchemaError> {
    if depth > MAX_DEPTH {
        return Err(SchemaError::new(format!("Field {path}: objects are nested more than {MAX_DEPTH} levels deep")));
    }
    // Counted before the walk, so a schema with a million fields fails at once.
    *count += specs.len();
    if *count > MAX_FIELDS {
        return Err(SchemaError::new(format!("The schema has more than {MAX_FIELDS} fields")));
    }
    let mut fields = Vec::with_capacity(specs.len());
    for (name, spec) in specs {
        let len = path.len();
        push_segment(path, name);
        let field = parse_field(name, spec, path, depth, count);
        path.truncate(len);
        fields.push(field?);
    }
    // In the agent's order, as sent (serde_json keeps it on the server, where schemas are
    // parsed; the browser receives the list).
    Ok(fields)
}

/// One field from its SPEC: a bare type string or `{"type", "required", "default",
/// "description", "schema"}`.
fn parse_field(
    name: &str,
    spec: &Value,
    path: &mut String,
    depth: usize,
    count: &mut usize,
) -> Result<Field, SchemaError> {
    if name.trim().is_empty() {
        return Err(SchemaError::new("A field has an empty name"));
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Err(SchemaError::new(format!(
            "Field name \"{}…\" is longer than {MAX_NAME_LEN} characters",
            clip(name, 40)
        )));
    }
    let type_budget = MAX_DEPTH.saturating_sub(depth);
    let field = |kind| Field::new(name, kind);
    let spec = match spec {
        Value::String(t) => return Ok(field(parse_type_within(t, type_budget))),
        Value::Object(spec) => spec,
        _ => return Err(SchemaError::new(format!("Field {path}: expected a type string or an object"))),
    };
    let mut kind = match spec.get("type") {
        Some(Value::String(t)) => parse_type_within(t, type_budget),
        // No type but a field map: clearly an object.
        None | Some(Value::Null) if spec.contains_key("schema") => FieldKind::object(Vec::new()),
        // Missing or not a string (e.g. a JSON Schema type list): still usable as JSON.
        _ => FieldKind::Json { type_name: None },
    };
    if let FieldKind::Object { fields, .. } = &mut kind {
        match spec.get("schema") {
            None | Some(Value::Null) => {}
            Some(Value::Object(sub)) => *fields = parse_fields(sub, path, depth + 1, count)?,
            Some(_) => return Err(SchemaError::new(format!("Field {path}: \"schema\" must be an object of fields"))),
        }
    }
    let required = match spec.get("required") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(SchemaError::new(format!("Field {path}: \"required\" must be true or false"))),
    };
    Ok(Field {
        required,
        // `"default": null` is how Python agents say "no default".
        default: spec.get("default").filter(|v| !v.is_null()).cloned(),
        description: spec.get("description").and_then(Value::as_str).map(str::to_owned),
        secret: spec.get("secret") == Some(&Value::Bool(true)),
        ..field(kind)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::{Duration, Instant};

    fn json_kind(name: Option<&str>) -> FieldKind {
        FieldKind::Json { type_name: name.map(str::to_owned) }
    }
    fn list(item: FieldKind) -> FieldKind {
        FieldKind::list(item)
    }

    #[test]
    fn parses_the_reference_agent_schema() {
        let raw = json!({"workflow":"article_writer","inputs":{"topic":{"type":"str","required":true,"description":"What the article is about"},"tone":{"type":"str","required":false,"default":"professional","description":"professional, casual or enthusiastic"},"length":{"type":"str","required":false,"default":"medium","description":"short, medium or long"}},"outputs":["result","summary","word_count","tone_used","length_setting"]});
        let schema = parse_schema(&raw).unwrap();
        assert_eq!(schema.workflow.as_deref(), Some("article_writer"));
        assert_eq!(schema.outputs, ["result", "summary", "word_count", "tone_used", "length_setting"]);
        let names: Vec<_> = schema.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["topic", "tone", "length"]); // in the agent's order
        assert_eq!(
            schema.fields[0],
            Field {
                required: true,
                description: Some("What the article is about".into()),
                ..Field::new("topic", FieldKind::text())
            }
        );
        assert_eq!(schema.fields[1].default, Some(json!("professional")));
        assert!(!schema.fields[1].required);
    }

    #[test]
    fn parses_bare_specs_objects_and_metadata_shapes() {
        let raw = json!({
            "inputs": {
                "n": "int",
                "tags": {"type": "list[str]", "default": ["a"]},
                "blob": {"description": "no type at all"},
                "weird": {"type": ["string", "null"]},
                "none_default": {"type": "str", "default": null, "required": null},
                "person": {"type": "object", "required": true, "schema": {
                    "name": "str",
                    "age": {"type": "int", "required": true},
                    "address": {"schema": {"city": "str"}}
                }}
            },
            "outputs": {"result": "str", "score": "float"}
        });
        let s = parse_schema(&raw).unwrap();
        assert_eq!(s.workflow, None);
        assert_eq!(s.outputs, ["result", "score"]);
        let get = |name: &str| s.fields.iter().find(|f| f.name == name).unwrap();
        assert_eq!(s.fields[0].name, "n", "in the agent's order");
        assert_eq!(s.fields[5].name, "person");
        assert_eq!(get("n").kind, FieldKind::integer());
        assert!(!get("n").required);
        assert_eq!(get("tags").kind, list(FieldKind::text()));
        assert_eq!(get("tags").default, Some(json!(["a"])));
        assert_eq!(get("blob").kind, json_kind(None));
        assert_eq!(get("blob").description.as_deref(), Some("no type at all"));
        assert_eq!(get("weird").kind, json_kind(None));
        assert_eq!(get("none_default").default, None);
        let FieldKind::Object { fields, .. } = &get("person").kind else { panic!() };
        let names: Vec<_> = fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["name", "age", "address"]);
        assert!(fields[1].required);
        assert_eq!(fields[0].kind, FieldKind::text());
        let FieldKind::Object { fields: inner, .. } = &fields[2].kind else { panic!() };
        assert_eq!(inner[0].name, "city");

        // Outputs and workflow of other shapes are ignored; missing inputs are no fields.
        let s = parse_schema(&json!({"workflow": 3, "outputs": "x"})).unwrap();
        assert_eq!(s, InputSchema::default());
        let s = parse_schema(&json!({"outputs": ["a", 1, "b"]})).unwrap();
        assert_eq!(s.outputs, ["a", "b"]);
    }

    #[test]
    fn rejects_broken_structure_with_clear_messages() {
        let err = |v: Value| parse_schema(&v).unwrap_err().message;
        assert_eq!(err(json!([])), "The schema must be a JSON object");
        assert_eq!(err(json!({"inputs": []})), "The schema's \"inputs\" must be a JSON object");
        assert_eq!(err(json!({"inputs": {"a": 3}})), "Field /a: expected a type string or an object");
        assert_eq!(
            err(json!({"inputs": {"a": {"type": "str", "required": "yes"}}})),
            "Field /a: \"required\" must be true or false"
        );
        assert_eq!(
            err(json!({"inputs": {"o": {"type": "object", "schema": {"x/y": {"type": "object", "schema": 1}}}}})),
            "Field /o/x~1y: \"schema\" must be an object of fields"
        );
        assert_eq!(err(json!({"inputs": {" ": "str"}})), "A field has an empty name");
        assert!(err(json!({"inputs": {"x".repeat(201): "str"}})).contains("longer than 200"));
        assert!(parse_schema(&json!({"inputs": {"x".repeat(200): "str"}})).is_ok());
    }

    /// `{"type": "object", "schema": {"f": <that, n-1 times>}}`, built bottom-up.
    fn nested_object(n: usize) -> Value {
        let mut v = json!("str");
        for _ in 0..n {
            v = json!({"type": "object", "schema": {"f": v}});
        }
        json!({"inputs": {"f": v}})
    }

    #[test]
    fn limits_object_nesting() {
        assert!(parse_schema(&nested_object(MAX_DEPTH)).is_ok());
        let msg = parse_schema(&nested_object(MAX_DEPTH + 1)).unwrap_err().message;
        assert!(msg.contains("nested more than 32 levels"), "{msg}");
        // Far deeper than the limit (a deeper serde_json::Value would overflow the stack
        // in its own recursive Drop): the parser stops at the limit.
        let msg = parse_schema(&nested_object(500)).unwrap_err().message;
        assert!(msg.contains("nested more than 32 levels"), "{msg}");
    }

    #[test]
    fn type_strings_share_the_depth_budget_of_nested_objects() {
        // At object depth 32 only a depth-0 type fits; `list[int]` falls back to JSON.
        let mut v = json!("list[int]");
        for _ in 0..MAX_DEPTH {
            v = json!({"schema": {"f": v}});
        }
        let s = parse_schema(&json!({"inputs": {"f": v}})).unwrap();
        let mut kind = &s.fields[0].kind;
        while let FieldKind::Object { fields, .. } = kind {
            kind = &fields[0].kind;
        }
        assert_eq!(kind, &json_kind(Some("list[int]")));
    }

    #[test]
    fn limits_field_counts() {
        let start = Instant::now();
        let many: Map<String, Value> = (0..100_000).map(|i| (format!("f{i}"), json!("str"))).collect();
        let msg = parse_schema(&json!({"inputs": many})).unwrap_err().message;
        assert_eq!(msg, "The schema has more than 2000 fields");

        // The limit counts nested fields too: 40 objects of 50 fields each, plus 40.
        let obj: Map<String, Value> = (0..50).map(|i| (format!("g{i}"), json!("int"))).collect();
        let nested: Map<String, Value> = (0..40).map(|i| (format!("o{i}"), json!({"schema": obj}))).collect();
        let msg = parse_schema(&json!({"inputs": nested})).unwrap_err().message;
        assert_eq!(msg, "The schema has more than 2000 fields");

        let outputs: Vec<String> = (0..MAX_FIELDS + 1).map(|i| i.to_string()).collect();
        assert!(parse_schema(&json!({"outputs": outputs})).is_err());
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn huge_defaults_are_kept_as_they_are() {
        let options: Vec<Value> = (0..100_000).map(|i| json!(format!("option {i}"))).collect();
        let raw = json!({"inputs": {"choice": {"type": "int", "default": options.clone(), "enum": options}}});
        let s = parse_schema(&raw).unwrap();
        assert_eq!(s.fields[0].kind, FieldKind::integer());
        assert_eq!(s.fields[0].default.as_ref().and_then(Value::as_array).map(Vec::len), Some(100_000));
    }
}
