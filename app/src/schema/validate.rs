//! Checking a run's inputs against an agent's schema: the form runs this before sending,
//! the server again before forwarding, so both report the same errors at the same paths.

use super::formats;
use super::model::{Additional, Bounds, Field, FieldKind, InputSchema, Variant};
use super::pattern::Pattern;
use super::{push_segment, MAX_ERRORS};
use crate::error::FieldError;
use serde_json::{Map, Value};
use std::fmt::Write;

/// Checks `inputs` against `schema` and returns them unchanged if they fit. Otherwise
/// returns every problem found (at most `MAX_ERRORS`), each at its JSON Pointer path
/// (`/items/2/name`). Keys the schema does not name are kept unless it forbids them.
pub fn validate_inputs(schema: &InputSchema, inputs: &Value) -> Result<Map<String, Value>, Vec<FieldError>> {
    let Some(map) = inputs.as_object() else {
        return Err(vec![FieldError::new("/", "Inputs must be a JSON object")]);
    };
    let mut c = Checker::new(schema);
    c.object(&schema.fields, &schema.additional, map, &mut String::new(), 0);
    if c.exhausted {
        // Said once, at the top: the inputs are not known to be wrong, just too costly
        // to check; they are not passed on unchecked.
        c.errs.insert(0, FieldError::new("/", "These inputs are too large to check against this schema"));
    }
    if c.errs.is_empty() {
        Ok(map.clone())
    } else {
        Err(c.errs)
    }
}

/// Whether `value` is a valid value of `kind` (a `Ref` resolved through `schema`'s defs).
/// The form uses it to pick which variant of a choice a prefilled value is.
pub fn fits(schema: &InputSchema, kind: &FieldKind, value: &Value) -> bool {
    let mut c = Checker::new(schema);
    c.value(kind, value, false, &mut String::new(), 0);
    c.errs.is_empty() && !c.exhausted
}

/// Value nesting the checker follows (a recursive `Ref` is bounded by the value, and
/// serde_json stops parsing at 128 levels anyway).
const MAX_VALUE_DEPTH: usize = 128;
/// Work done on one validation: `anyOf` inside `anyOf` inside `anyOf` re-checks the same
/// values once per combination, so hostile schemas are cut off here.
const MAX_STEPS: usize = 1_000_000;

struct Checker<'s> {
    schema: &'s InputSchema,
    errs: Vec<FieldError>,
    steps: usize,
    /// Past `MAX_STEPS`: everything stops, and the result is an error.
    exhausted: bool,
    /// Compiled patterns of this run, by source (a pattern on a list item compiles once).
    patterns: Vec<(&'s str, Option<Pattern>)>,
}

impl<'s> Checker<'s> {
    fn new(schema: &'s InputSchema) -> Self {
        Checker { schema, errs: Vec::new(), steps: 0, exhausted: false, patterns: Vec::new() }
    }

    fn full(&self) -> bool {
        self.errs.len() >= MAX_ERRORS || self.exhausted
    }

    fn push(&mut self, path: &str, message: impl Into<String>) {
        if self.errs.len() < MAX_ERRORS {
            self.errs.push(FieldError::new(path, message));
        }
    }

    /// The fields of one object, and what it allows besides them.
    fn object(
        &mut self,
        fields: &'s [Field],
        additional: &'s Additional,
        map: &Map<String, Value>,
        path: &mut String,
        depth: usize,
    ) {
        for field in fields {
            if self.full() {
                return;
            }
            let len = path.len();
            push_segment(path, &field.name);
            match map.get(&field.name) {
                Some(Value::Null) if field.required && field.kind.accepts_null() => {}
                // The form prefills defaults, so a missing required value is an error
                // even when the field has a default.
                None | Some(Value::Null) if field.required => self.push(path, "This field is required"),
                None | Some(Value::Null) => {}
                Some(value) => self.value(&field.kind, value, field.required, path, depth + 1),
            }
            path.truncate(len);
        }
        let extra = || map.keys().filter(|k| !fields.iter().any(|f| &f.name == *k));
        match additional {
            Additional::Any => {}
            Additional::None => {
                for key in extra() {
                    let len = path.len();
                    push_segment(path, key);
                    self.push(path, "This object takes no such field");
                    path.truncate(len);
                }
            }
            Additional::Kind { kind } => {
                for key in extra() {
                    if self.full() {
                        return;
                    }
                    let len = path.len();
                    push_segment(path, key);
                    self.value(kind, &map[key], false, path, depth + 1);
                    path.truncate(len);
                }
            }
        }
    }

    /// One value of `kind` at `path`; `required` makes blank text an error too.
    fn value(&mut self, kind: &'s FieldKind, value: &Value, required: bool, path: &mut String, depth: usize) {
        self.steps += 1;
        self.exhausted |= self.steps > MAX_STEPS;
        if self.full() {
            return;
        }
        if depth > MAX_VALUE_DEPTH {
            return self.push(path, "Nested too deeply");
        }
        match kind {
            FieldKind::Text { min_len, max_len, pattern, format } => {
                let Some(s) = value.as_str() else { return self.push(path, "Must be text") };
                if required && s.trim().is_empty() && !self.schema.blank_is_value {
                    return self.push(path, "This field is required");
                }
                // An empty optional value is "not given"; constraints apply to content.
                if s.is_empty() && !required {
                    return;
                }
                let chars = s.chars().count() as u64;
                if let Some(min) = min_len.filter(|m| chars < *m) {
                    self.push(path, format!("Must be at least {min} character{}", plural(min)));
                }
                if let Some(max) = max_len.filter(|m| chars > *m) {
                    self.push(path, format!("Must be at most {max} character{}", plural(max)));
                }
                if let Some(p) = pattern {
                    if self.pattern(p).is_some_and(|re| !re.is_match(s)) {
                        self.push(path, super::pattern_words::pattern_error(p));
                    }
                }
                if let Some(problem) = format.as_deref().and_then(|f| formats::problem(f, s)) {
                    self.push(path, problem);
                }
            }
            FieldKind::Integer { bounds } => {
                match value.as_i64().map(|i| i as f64).or(value.as_u64().map(|u| u as f64)) {
                    Some(n) => self.bounds(bounds, n, path),
                    None => self.push(path, "Must be a whole number"),
                }
            }
            FieldKind::Number { bounds } => match value.as_f64() {
                Some(n) => self.bounds(bounds, n, path),
                None => self.push(path, "Must be a number"),
            },
            FieldKind::Boolean if !value.is_boolean() => self.push(path, "Must be true or false"),
            FieldKind::Boolean => {}
            FieldKind::Enum { options } => {
                if !options.iter().any(|o| o == value) {
                    self.push(path, one_of(options));
                }
            }
            FieldKind::List { item, prefix, min_items, max_items } => {
                let Some(items) = value.as_array() else {
                    return self.push(path, "Must be a list");
                };
                let n = items.len() as u64;
                if let Some(min) = min_items.filter(|m| n < *m) {
                    self.push(path, format!("Needs at least {min} item{}", plural(min)));
                }
                if let Some(max) = max_items.filter(|m| n > *m) {
                    self.push(path, format!("Takes at most {max} item{}", plural(max)));
                }
                for (i, v) in items.iter().enumerate() {
                    if self.full() {
                        return;
                    }
                    let len = path.len();
                    let _ = write!(path, "/{i}");
                    self.value(prefix.get(i).unwrap_or(item), v, false, path, depth + 1);
                    path.truncate(len);
                }
            }
            FieldKind::Map { key, value: value_kind } => {
                let Some(map) = value.as_object() else {
                    return self.push(path, "Must be an object");
                };
                for (k, v) in map {
                    if self.full() {
                        return;
                    }
                    let len = path.len();
                    push_segment(path, k);
                    if let Some(problem) = key_problem(key, k) {
                        self.push(path, format!("Key \"{k}\" {problem}"));
                    }
                    self.value(value_kind, v, false, path, depth + 1);
                    path.truncate(len);
                }
            }
            FieldKind::Object { fields, additional } => match value.as_object() {
                Some(map) => self.object(fields, additional, map, path, depth),
                None => self.push(path, "Must be an object"),
            },
            FieldKind::Choice { variants, exclusive } => self.choice(variants, *exclusive, value, path, depth),
            FieldKind::Nullable { inner } => {
                if !value.is_null() {
                    self.value(inner, value, required, path, depth);
                }
            }
            FieldKind::Ref { name } => {
                // A schema built by hand without its defs: nothing to check.
                if let Some(kind) = self.schema.defs.get(name) {
                    self.value(kind, value, required, path, depth + 1)
                }
            }
            FieldKind::Json { .. } => {}
        }
    }

    /// A value that must fit one (`exclusive`) or at least one of `variants`. When none
    /// fits, the errors of the closest variant are reported (for objects: the one whose
    /// discriminating `const` field matches, else the one with the fewest errors), so the
    /// form can still show them on the right fields.
    fn choice(&mut self, variants: &'s [Variant], exclusive: bool, value: &Value, path: &mut String, depth: usize) {
        let mut fitting = Vec::new();
        let mut best: Option<(usize, Vec<FieldError>)> = None;
        for (i, v) in variants.iter().enumerate() {
            let saved = std::mem::take(&mut self.errs);
            self.value(&v.kind, value, false, path, depth + 1);
            let errs = std::mem::replace(&mut self.errs, saved);
            if self.exhausted {
                return;
            }
            if errs.is_empty() {
                fitting.push(i);
                if !exclusive {
                    return;
                }
            } else {
                let tagged = discriminates(&v.kind, value);
                let score = if tagged { 0 } else { errs.len() + 1 };
                if best.as_ref().is_none_or(|(s, _)| score < *s) {
                    best = Some((score, errs));
                }
            }
        }
        match fitting.len() {
            1 => {}
            0 => {
                let names: Vec<&str> = variants.iter().map(|v| v.title.as_str()).collect();
                match best {
                    // Errors inside the value (not about its whole shape) are useful.
                    Some((_, errs)) if errs.iter().all(|e| e.field.len() > path.len()) => {
                        for e in errs {
                            self.push(&e.field, e.message);
                        }
                    }
                    _ => self.push(path, format!("Must be one of: {}", names.join(", "))),
                }
            }
            _ if exclusive => {
                let names: Vec<&str> = fitting.iter().map(|i| variants[*i].title.as_str()).collect();
                self.push(path, format!("Fits more than one of: {} (it must fit exactly one)", names.join(", ")));
            }
            _ => {}
        }
    }

    fn bounds(&mut self, b: &Bounds, n: f64, path: &str) {
        let shown = |x: f64| if x.fract() == 0.0 && x.abs() < 1e15 { format!("{}", x as i64) } else { x.to_string() };
        if let Some(min) = b.min {
            if b.exclusive_min && n <= min {
                self.push(path, format!("Must be greater than {}", shown(min)));
            } else if n < min {
                self.push(path, format!("Must be at least {}", shown(min)));
            }
        }
        if let Some(max) = b.max {
            if b.exclusive_max && n >= max {
                self.push(path, format!("Must be less than {}", shown(max)));
            } else if n > max {
                self.push(path, format!("Must be at most {}", shown(max)));
            }
        }
        if let Some(m) = b.multiple_of {
            let q = n / m;
            // Floating point: 0.3 / 0.1 is 2.9999999999999996.
            if !q.is_finite() || (q - q.round()).abs() > 1e-9 * q.abs().max(1.0) {
                self.push(path, format!("Must be a multiple of {}", shown(m)));
            }
        }
    }

    /// The compiled pattern, once per source; `None` if this platform cannot compile it
    /// (then it is not checked: the parse already warned where it could).
    fn pattern(&mut self, source: &'s str) -> Option<&Pattern> {
        let i = match self.patterns.iter().position(|(s, _)| *s == source) {
            Some(i) => i,
            None => {
                self.patterns.push((source, Pattern::new(source).ok()));
                self.patterns.len() - 1
            }
        };
        self.patterns[i].1.as_ref()
    }
}

/// Whether an object variant's fixed (`const`) field matches `value`: the variant the
/// value says it is, as pydantic's discriminated unions do.
fn discriminates(kind: &FieldKind, value: &Value) -> bool {
    let FieldKind::Object { fields, .. } = kind else { return false };
    fields.iter().any(|f| match &f.kind {
        FieldKind::Enum { options } if options.len() == 1 => value.get(&f.name) == Some(&options[0]),
        _ => false,
    })
}

fn one_of(options: &[Value]) -> String {
    let shown: Vec<String> = options
        .iter()
        .take(10)
        .map(|o| match o {
            Value::String(s) => s.clone(),
            Value::Null => "(empty)".into(),
            o => o.to_string(),
        })
        .collect();
    let more = if options.len() > 10 { format!(" (and {} more)", options.len() - 10) } else { String::new() };
    format!("Must be one of: {}{more}", shown.join(", "))
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Why a map key (always a string in JSON) does not parse as the key kind, if it does not.
/// Only scalar key kinds can be checked; anything else accepts any key.
fn key_problem(kind: &FieldKind, key: &str) -> Option<&'static str> {
    let ok = match kind {
        FieldKind::Integer { .. } => key.parse::<i64>().is_ok(),
        FieldKind::Number { .. } => key.parse::<f64>().is_ok_and(f64::is_finite),
        FieldKind::Boolean => matches!(key, "true" | "false"),
        _ => true,
    };
    match (ok, kind) {
        (true, _) => None,
        (_, FieldKind::Integer { .. }) => Some("must be a whole number"),
        (_, FieldKind::Number { .. }) => Some("must be a number"),
        _ => Some("must be true or false"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::parse_schema;
    use serde_json::json;

    fn schema(inputs: Value) -> InputSchema {
        parse_schema(&json!({ "inputs": inputs })).unwrap()
    }

    /// The (path, message) pairs of a failed validation.
    fn errors(s: &InputSchema, inputs: Value) -> Vec<(String, String)> {
        validate_inputs(s, &inputs).unwrap_err().into_iter().map(|e| (e.field, e.message)).collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn reference_agent_inputs() {
        let s = parse_schema(&json!({"workflow":"article_writer","inputs":{"topic":{"type":"str","required":true},"tone":{"type":"str","default":"professional"},"length":{"type":"str","default":"medium"}}})).unwrap();
        let ok = validate_inputs(&s, &json!({"topic": "Rust", "tone": "casual", "extra": 1})).unwrap();
        assert_eq!(Value::Object(ok), json!({"topic": "Rust", "tone": "casual", "extra": 1}));
        assert_eq!(errors(&s, json!({})), pairs(&[("/topic", "This field is required")]));
        assert_eq!(errors(&s, json!({"topic": "  "})), pairs(&[("/topic", "This field is required")]));
        assert_eq!(errors(&s, json!({"topic": null})), pairs(&[("/topic", "This field is required")]));
        assert_eq!(
            errors(&s, json!({"topic": 5, "tone": false})),
            pairs(&[("/topic", "Must be text"), ("/tone", "Must be text")])
        );
        // Optional text may be blank or absent.
        assert!(validate_inputs(&s, &json!({"topic": "x", "tone": "", "length": null})).is_ok());
    }

    #[test]
    fn inputs_must_be_an_object() {
        let s = schema(json!({}));
        for bad in [json!([]), json!("x"), json!(null), json!(1)] {
            assert_eq!(errors(&s, bad), pairs(&[("/", "Inputs must be a JSON object")]));
        }
        assert!(validate_inputs(&s, &json!({"anything": [1, 2]})).is_ok());
    }

    #[test]
    fn scalars() {
        let s = schema(json!({"i": "int", "n": "float", "b": "bool", "j": "any", "u": "mystery"}));
        let ok = json!({"i": -3, "n": 2.5, "b": true, "j": {"x": [null]}, "u": "whatever"});
        assert!(validate_inputs(&s, &ok).is_ok());
        assert!(validate_inputs(&s, &json!({"i": u64::MAX, "n": 7})).is_ok());
        assert_eq!(
            errors(&s, json!({"i": 3.0, "n": "2", "b": "true"})),
            pairs(&[("/i", "Must be a whole number"), ("/n", "Must be a number"), ("/b", "Must be true or false")])
        );
        assert_eq!(errors(&s, json!({"i": "3"})), pairs(&[("/i", "Must be a whole number")]));
        // Required with a default: still required (the form prefills the default).
        let s = schema(json!({"k": {"type": "int", "required": true, "default": 3}}));
        assert_eq!(errors(&s, json!({})), pairs(&[("/k", "This field is required")]));
        // A required Json field accepts any present value but not a missing one.
        let s = schema(json!({"j": {"type": "any", "required": true}}));
        assert!(validate_inputs(&s, &json!({"j": false})).is_ok());
        assert_eq!(errors(&s, json!({"j": null})), pairs(&[("/j", "This field is required")]));
    }

    #[test]
    fn lists() {
        let s = schema(json!({"tags": "list[str]", "any": "list", "grid": "list[list[int]]"}));
        assert!(validate_inputs(&s, &json!({"tags": [], "any": [1, "a", null], "grid": [[1], []]})).is_ok());
        assert_eq!(
            errors(&s, json!({"tags": "a", "any": {}, "grid": [[1, "x"], 2, [3.5]]})),
            pairs(&[
                ("/tags", "Must be a list"),
                ("/any", "Must be a list"),
                ("/grid/0/1", "Must be a whole number"),
                ("/grid/1", "Must be a list"),
                ("/grid/2/0", "Must be a whole number"),
            ])
        );
        // Items are not "required": an empty string item is fine, a null one is not text.
        assert_eq!(errors(&s, json!({"tags": ["", null]})), pairs(&[("/tags/1", "Must be text")]));
    }

    #[test]
    fn maps_check_keys_and_values() {
        let s = schema(json!({
            "m": "dict", "counts": "dict[str, int]", "by_id": "dict[int, str]",
            "by_x": "dict[float, bool]", "flags": "dict[bool, list[str]]"
        }));
        let ok = json!({
            "m": {"a": [1]}, "counts": {"a/b": 1}, "by_id": {"-7": "x"},
            "by_x": {"1.5e3": true}, "flags": {"true": ["a"], "false": []}
        });
        assert!(validate_inputs(&s, &ok).is_ok());
        assert_eq!(
            errors(
                &s,
                json!({
                    "m": [], "counts": {"a/b": "1", "c~": 2}, "by_id": {"x": "y", "2": 3},
                    "by_x": {"NaN": true, "inf": false}, "flags": {"yes": [1]}
                })
            ),
            pairs(&[
                ("/m", "Must be an object"),
                ("/counts/a~1b", "Must be a whole number"),
                ("/by_id/x", "Key \"x\" must be a whole number"),
                ("/by_id/2", "Must be text"),
                ("/by_x/NaN", "Key \"NaN\" must be a number"),
                ("/by_x/inf", "Key \"inf\" must be a number"),
                ("/flags/yes", "Key \"yes\" must be true or false"),
                ("/flags/yes/0", "Must be text"),
            ])
        );
    }

    #[test]
    fn objects_nest_and_keep_extra_keys() {
        let s = schema(json!({
            "config": {"type": "object", "required": true, "schema": {
                "name": {"type": "str", "required": true},
                "size": "int",
                "inner": {"type": "object", "schema": {"flag": {"type": "bool", "required": true}}}
            }},
            "items": "list[object]",
            "opt": {"type": "object", "schema": {"must": {"type": "str", "required": true}}}
        }));
        let ok = json!({"config": {"name": "n", "extra": [1], "inner": {"flag": false}}, "items": [{}, {"a": 1}]});
        let got = validate_inputs(&s, &ok).unwrap();
        assert_eq!(Value::Object(got), ok);
        assert_eq!(
            errors(&s, json!({"config": {"size": 1.5, "inner": {}}, "items": [{}, 3], "opt": {}})),
            pairs(&[
                ("/config/name", "This field is required"),
                ("/config/size", "Must be a whole number"),
                ("/config/inner/flag", "This field is required"),
                ("/items/1", "Must be an object"),
                ("/opt/must", "This field is required"),
            ])
        );
        assert_eq!(errors(&s, json!({"config": "x"})), pairs(&[("/config", "Must be an object")]));
    }

    #[test]
    fn deep_paths_in_lists_of_objects() {
        // A list of objects with known fields, as JSON Schema will produce.
        let person = FieldKind::object(vec![Field { required: true, ..Field::new("name", FieldKind::text()) }]);
        let s = InputSchema { fields: vec![Field::new("items", FieldKind::list(person))], ..InputSchema::default() };
        assert_eq!(
            errors(&s, json!({"items": [{"name": "a"}, {"name": "b"}, {"name": ""}, {"name": 1}]})),
            pairs(&[("/items/2/name", "This field is required"), ("/items/3/name", "Must be text")])
        );
    }

    #[test]
    fn collects_many_errors_up_to_the_cap() {
        let s = schema(json!({"a": "int", "b": "int", "nums": "list[int]"}));
        let errs = errors(&s, json!({"a": "x", "b": "y", "nums": [1, "2", "3"]}));
        assert_eq!(errs.len(), 4);
        let many: Vec<Value> = (0..100_000).map(|i| json!(i.to_string())).collect();
        let errs = validate_inputs(&s, &json!({"a": "x", "nums": many})).unwrap_err();
        assert_eq!(errs.len(), MAX_ERRORS);
        assert_eq!(errs[0].field, "/a");
        assert_eq!(errs[99].field, "/nums/98");
    }

    #[test]
    fn odd_defaults_do_not_break_validation() {
        let s =
            schema(json!({"n": {"type": "int", "default": "lots"}, "l": {"type": "list[int]", "default": {"x": 1}}}));
        assert!(validate_inputs(&s, &json!({})).is_ok());
        assert_eq!(errors(&s, json!({"n": "lots"})), pairs(&[("/n", "Must be a whole number")]));
    }
}
