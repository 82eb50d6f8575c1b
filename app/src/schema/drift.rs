//! Schema drift: what changed in an agent's input schema between the one a run was
//! validated against and the one it publishes now, field by field (nested objects by
//! path), for Edit and re-run to show before the old inputs are sent again.

use super::model::{Field, FieldKind, InputSchema};
use super::push_segment;
use serde::{Deserialize, Serialize};

/// Field-level differences, each list by JSON Pointer path.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drift {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// Path, then what changed in words ("text → whole number", "now required").
    pub changed: Vec<(String, String)>,
}

impl Drift {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// The differences from `old` to `new`.
pub fn diff(old: &InputSchema, new: &InputSchema) -> Drift {
    let mut d = Drift::default();
    fields(&old.fields, &new.fields, &mut String::new(), &mut d, 0);
    d.added.sort();
    d.removed.sort();
    d.changed.sort();
    d
}

fn fields(old: &[Field], new: &[Field], path: &mut String, d: &mut Drift, depth: usize) {
    if depth > 32 {
        return;
    }
    for o in old {
        let len = path.len();
        push_segment(path, &o.name);
        match new.iter().find(|n| n.name == o.name) {
            None => d.removed.push(path.clone()),
            Some(n) => {
                let mut what = Vec::new();
                match (&o.kind, &n.kind) {
                    (FieldKind::Object { fields: a, .. }, FieldKind::Object { fields: b, .. }) => {
                        fields(a, b, path, d, depth + 1);
                    }
                    (a, b) if a != b => {
                        let (la, lb) = (a.type_label(), b.type_label());
                        if la != lb {
                            what.push(format!("{la} → {lb}"));
                        } else {
                            let (ca, cb) = (a.constraint_hint(), b.constraint_hint());
                            what.push(match (ca, cb) {
                                (Some(ca), Some(cb)) if ca != cb => format!("limits {ca} → {cb}"),
                                (None, Some(cb)) => format!("now {cb}"),
                                (Some(ca), None) => format!("no longer {ca}"),
                                _ => "its allowed values changed".to_owned(),
                            });
                        }
                    }
                    _ => {}
                }
                match (o.required, n.required) {
                    (false, true) => what.push("now required".into()),
                    (true, false) => what.push("now optional".into()),
                    _ => {}
                }
                if o.secret != n.secret {
                    what.push(if n.secret { "now secret".into() } else { "no longer secret".into() });
                }
                if !what.is_empty() {
                    d.changed.push((path.clone(), what.join(", ")));
                }
            }
        }
        path.truncate(len);
    }
    for n in new.iter().filter(|n| !old.iter().any(|o| o.name == n.name)) {
        let len = path.len();
        push_segment(path, &n.name);
        d.added.push(path.clone());
        path.truncate(len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::parse_schema;
    use serde_json::json;

    #[test]
    fn lists_added_removed_and_changed_fields() {
        let old = parse_schema(&json!({"inputs": {
            "topic": {"type": "str", "required": true}, "tone": "str", "words": "int",
            "opts": {"type": "object", "schema": {"a": "str", "b": "int"}}}}))
        .unwrap();
        let new = parse_schema(&json!({"type": "object", "required": ["topic", "tone"], "properties": {
            "topic": {"type": "string"}, "tone": {"type": "string"}, "words": {"type": "integer", "maximum": 500},
            "opts": {"type": "object", "properties": {"a": {"type": "integer"}, "c": {"type": "string"}}},
            "audience": {"type": "string"}}}))
        .unwrap();
        let d = diff(&old, &new);
        assert_eq!(d.added, ["/audience", "/opts/c"]);
        assert_eq!(d.removed, ["/opts/b"]);
        assert_eq!(
            d.changed,
            [
                ("/opts/a".to_owned(), "text → whole number".to_owned()),
                ("/tone".to_owned(), "now required".to_owned()),
                ("/words".to_owned(), "now ≤ 500".to_owned()),
            ]
        );
        assert!(diff(&new, &new).is_empty());
    }
}
