//! Real schemas agents publish (`tests/corpus/`, provenance in its README): each must
//! parse, and validate its recorded valid inputs and refuse its invalid ones at exactly
//! the recorded paths, as a JSON Schema validator (Python `jsonschema`) did.

use app::schema::{parse_schema, schema_hash, validate_inputs, FieldKind, InputSchema};
use serde_json::Value;
use std::path::Path;

fn corpus() -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/corpus exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p.file_name().unwrap().to_string_lossy().into_owned(), serde_json::from_str(&text).unwrap())
        })
        .collect()
}

/// Every kind in a schema, nested ones and definitions included.
fn kinds(schema: &InputSchema) -> Vec<&FieldKind> {
    fn walk<'a>(k: &'a FieldKind, out: &mut Vec<&'a FieldKind>) {
        out.push(k);
        match k {
            FieldKind::List { item, prefix, .. } => {
                walk(item, out);
                prefix.iter().for_each(|p| walk(p, out));
            }
            FieldKind::Map { value, .. } => walk(value, out),
            FieldKind::Object { fields, .. } => fields.iter().for_each(|f| walk(&f.kind, out)),
            FieldKind::Choice { variants, .. } => variants.iter().for_each(|v| walk(&v.kind, out)),
            FieldKind::Nullable { inner } => walk(inner, out),
            _ => {}
        }
    }
    let mut out = Vec::new();
    schema.fields.iter().for_each(|f| walk(&f.kind, &mut out));
    schema.defs.values().for_each(|k| walk(k, &mut out));
    out
}

#[test]
fn every_real_schema_parses_and_validates_as_recorded() {
    let corpus = corpus();
    assert!(corpus.len() >= 12, "the corpus has {} schemas", corpus.len());
    for (name, case) in corpus {
        let schema = parse_schema(&case["schema"]).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!schema.fields.is_empty(), "{name}: no fields");
        assert!(schema.warnings.is_empty(), "{name}: {:?}", schema.warnings);
        assert_eq!(schema_hash(&schema).len(), 16);
        // Round-trips through its JSON (what the server sends the browser).
        let back: InputSchema = serde_json::from_value(serde_json::to_value(&schema).unwrap()).unwrap();
        assert_eq!(back, schema, "{name}");
        for valid in case["valid"].as_array().unwrap() {
            if let Err(errs) = validate_inputs(&schema, valid) {
                panic!("{name}: {valid} was refused: {errs:?}");
            }
        }
        for bad in case["invalid"].as_array().unwrap() {
            let errs = validate_inputs(&schema, &bad["inputs"])
                .err()
                .unwrap_or_else(|| panic!("{name}: {} was accepted", bad["inputs"]));
            let mut got: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
            got.sort();
            got.dedup();
            let mut want: Vec<&str> = bad["paths"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
            want.sort();
            assert_eq!(got, want, "{name}: {} → {errs:?}", bad["inputs"]);
        }
    }
}

#[test]
fn the_corpus_covers_the_shapes_real_agents_use() {
    let all: Vec<InputSchema> = corpus().iter().map(|(_, c)| parse_schema(&c["schema"]).unwrap()).collect();
    let every: Vec<&FieldKind> = all.iter().flat_map(kinds).collect();
    let has = |f: &dyn Fn(&FieldKind) -> bool| every.iter().any(|k| f(k));
    assert!(has(&|k| matches!(k, FieldKind::Enum { .. })), "enums");
    assert!(has(&|k| matches!(k, FieldKind::Choice { exclusive: true, .. })), "oneOf");
    assert!(has(&|k| matches!(k, FieldKind::Ref { .. })), "recursive $ref");
    assert!(has(&|k| matches!(k, FieldKind::Nullable { .. })), "required nullable");
    assert!(has(&|k| matches!(k, FieldKind::List { prefix, .. } if !prefix.is_empty())), "tuples");
    assert!(has(&|k| matches!(k, FieldKind::Text { format: Some(_), .. })), "formats");
    assert!(has(&|k| matches!(k, FieldKind::Text { pattern: Some(_), .. })), "patterns");
    assert!(has(&|k| matches!(k, FieldKind::Map { .. })), "additionalProperties maps");
    assert!(all.iter().any(|s| s.fields.iter().any(|f| f.secret)), "secrets");
}
