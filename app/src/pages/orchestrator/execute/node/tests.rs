//! The form's state turned into inputs, on every kind and on the schema corpus.

use super::*;
use crate::error::FieldError;
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
            Some(
                json!({"n": 3, "x": 1.5, "ok": true, "tags": [1, 2], "m": {"k": 2.5}, "o": {"a": "z"}, "j": [1, "a"]}),
            ),
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
