//! Any bytes an agent could send as `/schema`: parsing never panics or hangs, and what
//! parses can be hashed, serialized and read back, diffed with itself, and used to
//! validate and redact inputs (the schema itself, and a value built from the bytes).
#![no_main]

use app::schema::{drift, parse_schema, schema_hash, secrets, validate_inputs, InputSchema};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = serde_json::from_slice::<Value>(data) else { return };
    let Ok(schema) = parse_schema(&raw) else { return };
    let hash = schema_hash(&schema);
    assert_eq!(hash.len(), 16);
    let back: InputSchema = serde_json::from_value(serde_json::to_value(&schema).unwrap()).unwrap();
    assert_eq!(schema_hash(&back), hash, "the hash survives the round trip to the browser");
    assert!(drift::diff(&schema, &schema).is_empty());
    for inputs in [&raw, raw.get("inputs").unwrap_or(&Value::Null), raw.get("properties").unwrap_or(&Value::Null)] {
        let result = validate_inputs(&schema, inputs);
        if let (Ok(valid), Some(map)) = (result, inputs.as_object()) {
            assert_eq!(&valid, map);
            let (redacted, paths) = secrets::redact(&schema, map);
            assert_eq!(redacted.len(), map.len());
            for p in &paths {
                assert_eq!(Value::Object(redacted.clone()).pointer(p), Some(&Value::String(secrets::MASK.into())));
            }
        }
    }
});
