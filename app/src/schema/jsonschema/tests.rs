//! The JSON Schema reader on every keyword it knows, broken schemas and hostile ones.

use super::*;
use crate::schema::{parse_schema, validate_inputs};
use serde_json::json;
use std::time::{Duration, Instant};

/// The schema of one property `x` (required), inside an object schema.
fn one(prop: Value) -> InputSchema {
    parse_schema(&json!({"type": "object", "required": ["x"], "properties": {"x": prop}})).unwrap()
}

fn kind_of(prop: Value) -> FieldKind {
    one(prop).fields.remove(0).kind
}

/// The error paths and messages for `x` = `value`.
fn errors(s: &InputSchema, value: Value) -> Vec<String> {
    match validate_inputs(s, &json!({ "x": value })) {
        Ok(_) => Vec::new(),
        Err(errs) => errs.into_iter().map(|e| format!("{} {}", e.field, e.message)).collect(),
    }
}

/// Asserts `ok` values pass and each `bad` value fails with `message` at `/x`.
fn check(prop: Value, ok: &[Value], bad: &[(Value, &str)]) {
    let s = one(prop.clone());
    for v in ok {
        assert_eq!(errors(&s, v.clone()), Vec::<String>::new(), "{prop} should accept {v}");
    }
    for (v, message) in bad {
        let errs = errors(&s, v.clone());
        assert!(errs.iter().any(|e| e.contains(message)), "{prop} on {v}: {errs:?}, wanted {message:?}");
    }
}

#[test]
fn is_recognised_as_inputs_or_as_the_whole_answer() {
    let echo = json!({"title": "EchoInput", "type": "object", "required": ["text"],
        "properties": {
            "text": {"title": "Text", "type": "string", "description": "Text to echo"},
            "times": {"title": "Times", "type": "integer", "default": 1, "minimum": 0, "maximum": 100},
            "shout": {"title": "Shout", "type": "boolean", "default": false},
            "tags": {"title": "Tags", "type": "array", "items": {"type": "string"}}}});
    let whole = parse_schema(&echo).unwrap();
    assert_eq!(whole.workflow.as_deref(), Some("EchoInput"));
    let names: Vec<_> = whole.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["text", "times", "shout", "tags"], "in the order of properties");
    assert!(whole.fields[0].required);
    assert_eq!(whole.fields[0].description.as_deref(), Some("Text to echo"));
    // A title that is just the humanized name adds nothing and is not kept.
    assert_eq!(whole.fields[0].title, None);
    assert_eq!(whole.fields[1].default, Some(json!(1)));
    let inside = parse_schema(&json!({"workflow": "echo", "inputs": echo, "outputs": ["text"]})).unwrap();
    assert_eq!(inside.workflow.as_deref(), Some("echo"));
    assert_eq!(inside.outputs, ["text"]);
    assert_eq!(inside.fields, whole.fields);
    // The native format is not mistaken for JSON Schema, even with a field named type.
    let native = parse_schema(&json!({"inputs": {"type": "str", "properties": "dict"}})).unwrap();
    assert_eq!(native.fields.len(), 2);
    assert!(!native.blank_is_value);
}

#[test]
fn strings_lengths_patterns_and_formats() {
    check(
        json!({"type": "string", "minLength": 2, "maxLength": 4}),
        &[json!("ab"), json!("abcd"), json!("😀😀")],
        &[(json!("a"), "at least 2 characters"), (json!("abcde"), "at most 4 characters"), (json!(3), "Must be text")],
    );
    check(
        json!({"type": "string", "pattern": "^[a-z]+-\\d+$"}),
        &[json!("ab-12")],
        &[(json!("AB-12"), "Must match the pattern")],
    );
    for (format, ok, bad) in [
        ("date", "2026-11-23", "23/11/2026"),
        ("date-time", "2026-11-23T10:00:00Z", "2026-11-23 10am"),
        ("time", "10:00:00", "10am"),
        ("email", "a@example.org", "a@"),
        ("uri", "https://example.org", "example.org"),
        ("uuid", "123e4567-e89b-12d3-a456-426614174000", "123"),
    ] {
        check(json!({"type": "string", "format": format}), &[json!(ok)], &[(json!(bad), "Must be")]);
    }
    // Unknown formats are hints.
    check(json!({"type": "string", "format": "hostname"}), &[json!("not a host!")], &[]);
    // An empty string is a value in JSON Schema (required means present).
    check(json!({"type": "string"}), &[json!("")], &[]);
}

#[test]
fn an_unusable_pattern_is_reported_once_and_left_unchecked() {
    let s = parse_schema(&json!({"type": "object", "properties": {
        "a": {"type": "string", "pattern": "(unclosed"},
        "b": {"type": "array", "items": {"type": "string", "pattern": "(unclosed"}}}}))
    .unwrap();
    assert_eq!(s.warnings.len(), 2, "{:?}", s.warnings);
    assert!(s.warnings[0].starts_with("Field /a: its pattern /(unclosed/ cannot be used"), "{}", s.warnings[0]);
    assert!(validate_inputs(&s, &json!({"a": "anything", "b": ["x"]})).is_ok());
    // A valid pattern the server will not run (exponential backtracking) is kept for
    // the browser, said once, and not checked here.
    let s =
        parse_schema(&json!({"type": "object", "properties": {"a": {"type": "string", "pattern": "^(?=a)(a+)+$"}}}))
            .unwrap();
    assert!(matches!(&s.fields[0].kind, FieldKind::Text { pattern: Some(_), .. }));
    assert!(s.warnings[0].contains("checked in the form only"), "{:?}", s.warnings);
    assert!(validate_inputs(&s, &json!({"a": "b"})).is_ok());
}

#[test]
fn numbers_and_their_bounds() {
    check(
        json!({"type": "integer", "minimum": 0, "maximum": 100}),
        &[json!(0), json!(100)],
        &[
            (json!(-1), "at least 0"),
            (json!(101), "at most 100"),
            (json!(1.5), "whole number"),
            (json!("1"), "whole number"),
        ],
    );
    check(
        json!({"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}),
        &[json!(0.5)],
        &[(json!(0), "greater than 0"), (json!(1), "less than 1")],
    );
    // Draft 4's boolean exclusive bounds.
    check(
        json!({"type": "number", "minimum": 0, "exclusiveMinimum": true}),
        &[json!(0.1)],
        &[(json!(0), "greater than 0")],
    );
    check(json!({"type": "number", "multipleOf": 0.1}), &[json!(0.3), json!(2)], &[(json!(0.25), "multiple of 0.1")]);
    check(json!({"type": "integer", "multipleOf": 5}), &[json!(15)], &[(json!(7), "multiple of 5")]);
    check(json!({"type": "boolean"}), &[json!(true)], &[(json!("true"), "true or false")]);
    assert_eq!(
        kind_of(json!({"type": "integer", "minimum": 1, "maximum": 5})).constraint_hint().as_deref(),
        Some("1 to 5")
    );
}

#[test]
fn enums_consts_and_type_lists() {
    check(json!({"enum": ["a", "b", 3, null]}), &[json!("a"), json!(3)], &[(json!("c"), "one of: a, b, 3, (empty)")]);
    check(json!({"const": "fixed"}), &[json!("fixed")], &[(json!("other"), "one of: fixed")]);
    let s = one(json!({"enum": [null, "x"]}));
    assert!(validate_inputs(&s, &json!({"x": null})).is_ok(), "null is one of the options");
    // ["string", "null"]: a required field that may be null.
    let s = one(json!({"type": ["string", "null"], "maxLength": 2}));
    assert!(validate_inputs(&s, &json!({"x": null})).is_ok());
    assert_eq!(errors(&s, json!("abc")), ["/x Must be at most 2 characters"]);
    assert_eq!(errors(&s, json!(1)), ["/x Must be text"]);
    // Several types: a choice.
    let s = one(json!({"type": ["string", "integer"]}));
    assert!(validate_inputs(&s, &json!({"x": 1})).is_ok());
    assert!(validate_inputs(&s, &json!({"x": "a"})).is_ok());
    assert_eq!(errors(&s, json!(true)), ["/x Must be one of: text, whole number"]);
    // An enum too large to offer: JSON, with a warning.
    let big: Vec<Value> = (0..5_000).map(|i| json!(i)).collect();
    let s = one(json!({"enum": big}));
    assert!(matches!(s.fields[0].kind, FieldKind::Json { .. }));
    assert_eq!(s.warnings.len(), 1);
}

#[test]
fn arrays_tuples_and_item_counts() {
    check(
        json!({"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 2}),
        &[json!([1]), json!([1, 2])],
        &[(json!([]), "at least 1 item"), (json!([1, 2, 3]), "at most 2 items"), (json!({}), "Must be a list")],
    );
    let s = one(json!({"type": "array", "items": {"type": "integer"}}));
    assert_eq!(errors(&s, json!([1, "a", 2.5])), ["/x/1 Must be a whole number", "/x/2 Must be a whole number"]);
    // prefixItems with items: false is a closed tuple.
    let s = one(json!({"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}], "items": false}));
    assert!(validate_inputs(&s, &json!({"x": [1, "a"]})).is_ok());
    assert_eq!(errors(&s, json!(["a", 1])), ["/x/0 Must be a whole number", "/x/1 Must be text"]);
    assert_eq!(errors(&s, json!([1, "a", 3])), ["/x Takes at most 2 items"]);
    // Draft 7's array-form items with additionalItems.
    let s = one(json!({"type": "array", "items": [{"type": "boolean"}], "additionalItems": {"type": "string"}}));
    assert_eq!(errors(&s, json!([true, "a", 1])), ["/x/2 Must be text"]);
}

#[test]
fn objects_nested_closed_and_with_extra_keys() {
    let s = one(json!({"type": "object", "required": ["name"], "additionalProperties": false,
        "properties": {"name": {"type": "string"}, "inner": {"type": "object", "properties": {"n": {"type": "integer"}}}}}));
    assert!(validate_inputs(&s, &json!({"x": {"name": "a", "inner": {"n": 1, "free": true}}})).is_ok());
    assert_eq!(
        errors(&s, json!({"inner": {"n": "1"}, "extra": 1})),
        [
            "/x/name This field is required",
            "/x/inner/n Must be a whole number",
            "/x/extra This object takes no such field"
        ]
    );
    // Extra keys of a kind, next to named fields; only extra keys: a map.
    let s = one(
        json!({"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "integer"}}),
    );
    assert_eq!(errors(&s, json!({"a": "s", "b": 1, "c": "no"})), ["/x/c Must be a whole number"]);
    assert!(matches!(
        kind_of(json!({"type": "object", "additionalProperties": {"type": "integer"}})),
        FieldKind::Map { .. }
    ));
    // The inputs object itself may be closed.
    let s = parse_schema(
        &json!({"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": false}),
    )
    .unwrap();
    let errs = validate_inputs(&s, &json!({"a": "x", "b": 1})).unwrap_err();
    assert_eq!((errs[0].field.as_str(), errs[0].message.as_str()), ("/b", "This object takes no such field"));
}

#[test]
fn refs_defs_and_definitions() {
    let s = parse_schema(&json!({"type": "object", "required": ["item"],
        "properties": {"item": {"$ref": "#/$defs/Item", "description": "The item"}, "old": {"$ref": "#/definitions/Old"}},
        "$defs": {"Item": {"type": "object", "required": ["sku"], "properties": {"sku": {"type": "string"}}}},
        "definitions": {"Old": {"type": "integer"}}}))
    .unwrap();
    assert!(s.defs.is_empty(), "non-recursive refs are inlined");
    let item = s.fields.iter().find(|f| f.name == "item").unwrap();
    assert_eq!(item.description.as_deref(), Some("The item"));
    assert!(matches!(&item.kind, FieldKind::Object { fields, .. } if fields[0].name == "sku"));
    assert_eq!(
        validate_inputs(&s, &json!({"item": {}, "old": "x"}))
            .unwrap_err()
            .iter()
            .map(|e| e.field.as_str())
            .collect::<Vec<_>>(),
        ["/item/sku", "/old"]
    );
    // Refs that point nowhere or elsewhere: JSON, with a warning each.
    let s = parse_schema(&json!({"type": "object", "properties": {
        "a": {"$ref": "#/$defs/Missing"}, "b": {"$ref": "https://example.org/schema.json"}}}))
    .unwrap();
    assert!(s.fields.iter().all(|f| matches!(f.kind, FieldKind::Json { .. })));
    assert_eq!(s.warnings.len(), 2);
}

#[test]
fn recursive_refs_become_lazy_definitions() {
    let tree = json!({"$ref": "#/$defs/Tree", "$defs": {"Tree": {"type": "object", "required": ["label"], "properties": {
        "label": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#/$defs/Tree"}}}}}});
    let s = parse_schema(&tree).unwrap();
    assert_eq!(s.fields.len(), 2);
    assert!(s.defs.contains_key("Tree"));
    let ok = json!({"label": "root", "children": [{"label": "a", "children": [{"label": "b"}]}]});
    assert!(validate_inputs(&s, &ok).is_ok());
    let bad = json!({"label": "root", "children": [{"children": [{"label": 1}]}]});
    let paths: Vec<_> = validate_inputs(&s, &bad).unwrap_err().into_iter().map(|e| e.field).collect();
    assert_eq!(paths, ["/children/0/label", "/children/0/children/0/label"]);
    // Mutual recursion, and a ref to the root.
    let s = parse_schema(&json!({"type": "object", "properties": {
        "a": {"$ref": "#/$defs/A"}, "me": {"$ref": "#"}},
        "$defs": {"A": {"type": "object", "properties": {"b": {"$ref": "#/$defs/B"}}},
                  "B": {"type": "object", "properties": {"a": {"$ref": "#/$defs/A"}}}}}))
    .unwrap();
    assert!(validate_inputs(&s, &json!({"a": {"b": {"a": {"b": {}}}}, "me": {"me": {"a": {}}}})).is_ok());
    assert!(validate_inputs(&s, &json!({"a": {"b": {"a": 3}}})).is_err());
}

#[test]
fn unions_optionals_and_all_of() {
    // pydantic's optional: anyOf [T, null]; optional → just T, required → nullable T.
    let s = parse_schema(&json!({"type": "object", "required": ["req"], "properties": {
        "opt": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": null},
        "req": {"anyOf": [{"type": "integer"}, {"type": "null"}]}}}))
    .unwrap();
    let kinds: Vec<_> = s.fields.iter().map(|f| (f.name.as_str(), &f.kind)).collect();
    assert_eq!(kinds[0], ("opt", &FieldKind::text()));
    assert_eq!(kinds[1], ("req", &FieldKind::Nullable { inner: Box::new(FieldKind::integer()) }));
    assert!(validate_inputs(&s, &json!({"req": null})).is_ok());
    assert!(validate_inputs(&s, &json!({})).is_err(), "required means present, even if null");
    // oneOf of objects: a choice of variants, named by title, ref or discriminator.
    let pet = json!({"oneOf": [
        {"type": "object", "required": ["kind", "lives"], "properties": {"kind": {"const": "cat"}, "lives": {"type": "integer"}}},
        {"type": "object", "required": ["kind"], "properties": {"kind": {"const": "dog"}, "good": {"type": "boolean"}}}]});
    let s = one(pet.clone());
    let FieldKind::Choice { variants, exclusive: true } = &s.fields[0].kind else { panic!() };
    assert_eq!(variants.iter().map(|v| v.title.as_str()).collect::<Vec<_>>(), ["cat", "dog"]);
    assert_eq!(errors(&s, json!({"kind": "dog", "good": true})), Vec::<String>::new());
    // The discriminator picks which variant's errors to show.
    assert_eq!(errors(&s, json!({"kind": "cat", "lives": "nine"})), ["/x/lives Must be a whole number"]);
    assert_eq!(errors(&s, json!(3)), ["/x Must be one of: cat, dog"]);
    // oneOf means exactly one.
    let s = one(json!({"oneOf": [{"type": "integer"}, {"type": "number"}]}));
    assert_eq!(errors(&s, json!(1)), ["/x Fits more than one of: whole number, number (it must fit exactly one)"]);
    assert!(errors(&s, json!(1.5)).is_empty());
    // anyOf of consts: one select.
    assert_eq!(
        kind_of(json!({"anyOf": [{"const": "a"}, {"const": "b"}]})),
        FieldKind::Enum { options: vec![json!("a"), json!("b")] }
    );
    // allOf of objects merges properties and required lists.
    let s = one(json!({"allOf": [
        {"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}},
        {"$ref": "#/$defs/B"}]}));
    assert_eq!(errors(&s, json!({})), ["/x/a This field is required"]);
    let s = parse_schema(&json!({"type": "object", "required": ["x"], "properties": {"x": {"allOf": [
        {"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}},
        {"$ref": "#/$defs/B"}]}}, "$defs": {"B": {"type": "object", "required": ["b"], "properties": {"b": {"type": "integer"}}}}}))
    .unwrap();
    assert_eq!(errors(&s, json!({"a": "x", "b": "y"})), ["/x/b Must be a whole number"]);
    assert_eq!(errors(&s, json!({})), ["/x/a This field is required", "/x/b This field is required"]);
}

#[test]
fn secrets_are_marked() {
    let s = parse_schema(&json!({"type": "object", "properties": {
        "key": {"type": "string", "writeOnly": true, "format": "password"},
        "pw": {"type": "string", "format": "password"},
        "token": {"type": "string", "x-secret": true},
        "name": {"type": "string"}}}))
    .unwrap();
    let secret: Vec<_> = s.fields.iter().filter(|f| f.secret).map(|f| f.name.as_str()).collect();
    assert_eq!(secret, ["key", "pw", "token"]);
    let native = parse_schema(
        &json!({"inputs": {"api_key": {"type": "str", "secret": true}, "b": "str", "c": "str"}, "secrets": ["c"]}),
    )
    .unwrap();
    let secret: Vec<_> = native.fields.iter().filter(|f| f.secret).map(|f| f.name.as_str()).collect();
    assert_eq!(secret, ["api_key", "c"]);
}

#[test]
fn broken_schemas_say_what_is_wrong() {
    let err = |v: Value| parse_schema(&v).unwrap_err().message;
    assert_eq!(
        err(json!({"type": "object", "properties": {"a": 3}})),
        "Field /a: a schema must be a JSON object or true/false"
    );
    assert_eq!(
        err(json!({"type": "object", "properties": {"a": {"type": "object", "properties": []}}})),
        "Field /a: \"properties\" must be an object"
    );
    assert_eq!(
        err(json!({"$ref": "#/$defs/S", "$defs": {"S": {"type": "string"}}})),
        "The input schema describes text rather than an object of inputs"
    );
}

/// `{"type": "object", "properties": {"f": <that>}}`, n levels deep.
fn nested(n: usize) -> Value {
    let mut v = json!({"type": "string"});
    for _ in 0..n {
        v = json!({"type": "object", "properties": {"f": v}});
    }
    v
}

#[test]
fn hostile_schemas_are_bounded_in_time_and_size() {
    let start = Instant::now();
    assert!(parse_schema(&nested(MAX_DEPTH - 1)).is_ok());
    let msg = parse_schema(&nested(200)).unwrap_err().message;
    assert!(msg.contains("nested more than 32 levels"), "{msg}");

    // A ref fan-out doubling at each of 40 levels would be 2^40 nodes if inlined.
    let mut defs = Map::new();
    defs.insert("D0".into(), json!({"type": "string"}));
    for i in 1..40 {
        let prev = format!("#/$defs/D{}", i - 1);
        defs.insert(
            format!("D{i}"),
            json!({"type": "object", "properties": {"l": {"$ref": prev}, "r": {"$ref": prev}}}),
        );
    }
    let fan = json!({"type": "object", "properties": {"root": {"$ref": "#/$defs/D39"}}, "$defs": defs});
    let s = parse_schema(&fan).unwrap();
    let size = serde_json::to_string(&s).unwrap().len();
    assert!(size < 2_000_000, "model is {size} bytes");
    // Validation of a deep value through them is linear in the value.
    let mut v = json!("leaf");
    for _ in 0..39 {
        v = json!({"l": v});
    }
    assert!(validate_inputs(&s, &json!({"root": v})).is_ok());

    // Exponential anyOf: 30 levels of 3 overlapping variants (through refs, so the
    // schema is small) against a value that fails at the bottom: 3^30 checks
    // without the step budget.
    let mut defs = Map::new();
    defs.insert("U0".into(), json!({"type": "string"}));
    for i in 1..=30 {
        let prev = format!("#/$defs/U{}", i - 1);
        defs.insert(
            format!("U{i}"),
            json!({"anyOf": [
            {"type": "object", "properties": {"a": {"$ref": prev}}, "required": ["a", "b"]},
            {"type": "object", "properties": {"a": {"$ref": prev}}, "required": ["a", "c"]},
            {"type": "object", "properties": {"a": {"$ref": prev}}, "required": ["a", "d"]}]}),
        );
    }
    let s =
        parse_schema(&json!({"type": "object", "properties": {"u": {"$ref": "#/$defs/U30"}}, "$defs": defs})).unwrap();
    let mut value = json!(1);
    for _ in 0..30 {
        value = json!({"a": value});
    }
    let t = Instant::now();
    let errs = validate_inputs(&s, &json!({"u": value})).unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert!(errs.iter().any(|e| e.message.contains("too large to check")), "{errs:?}");

    // A huge enum and a huge union.
    let big: Vec<Value> = (0..200_000).map(|i| json!(format!("v{i}"))).collect();
    let s = parse_schema(&json!({"type": "object", "properties": {"e": {"enum": big}}})).unwrap();
    assert!(matches!(s.fields[0].kind, FieldKind::Json { .. }));
    let many: Vec<Value> = (0..10_000).map(|i| json!({"type": "object", "title": format!("V{i}")})).collect();
    let s = parse_schema(&json!({"type": "object", "properties": {"u": {"anyOf": many}}})).unwrap();
    assert!(matches!(s.fields[0].kind, FieldKind::Json { .. }));
    assert!(start.elapsed() < Duration::from_secs(5), "{:?}", start.elapsed());
}
