//! JSON Schema (as LangServe, MCP tools, A2A skills and pydantic publish it) into the
//! same model as the native type strings.
//!
//! Agents are remote and untrusted, and real schemas are where other form generators
//! break (`$ref` cycles, `anyOf` of objects), so every walk here is bounded:
//! - nesting deeper than `MAX_DEPTH` is an error (as for the native format);
//! - a `$ref` is inlined while that is cheap; a recursive one (a tree of nodes), or any
//!   past `INLINE_BUDGET` kinds, becomes `FieldKind::Ref` to one shared definition, so a
//!   schema whose refs fan out exponentially stays linear in size;
//! - enums and unions have caps; past them the field is a JSON editor, with a warning.
//!
//! Keywords the model has no place for (`not`, `if`/`then`, `dependentRequired`, …) are
//! ignored: the form stays usable and the agent still checks its own inputs.

use super::model::{Additional, FieldKind, InputSchema, SchemaError, Variant};
use super::MAX_DEPTH;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

#[cfg(test)]
mod tests;
mod typed;

use typed::{is_null_schema, nullable_of, percent_decode, shown, variant_title};

/// Kinds produced before `$ref`s stop being inlined (they become lazy `Ref`s).
const INLINE_BUDGET: usize = 1_000;
/// Most options an `enum` becomes a select with.
pub const MAX_ENUM: usize = 1_000;
/// Most variants of a `oneOf`/`anyOf`.
pub const MAX_VARIANTS: usize = 64;
/// Most definitions a schema may have `Ref`s to.
const MAX_DEFS: usize = 500;

/// Whether `v` looks like a JSON Schema for an object (rather than the native
/// `{FIELD: SPEC}` map): `"type": "object"` with `properties`, or a `$ref` to it.
pub fn looks_like_json_schema(v: &Value) -> bool {
    let Some(o) = v.as_object() else { return false };
    let object_type = match o.get("type") {
        Some(Value::String(t)) => t == "object",
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "object"),
        _ => false,
    };
    (object_type && (o.get("properties").is_some_and(Value::is_object) || !o.contains_key("properties")))
        || (o.get("$ref").is_some_and(Value::is_string) && (o.contains_key("$defs") || o.contains_key("definitions")))
}

/// Reads `schema` (an object schema) as the run's inputs; `body` is the whole `/schema`
/// answer, where `$ref`s are also looked up.
pub fn parse(schema: &Value, body: &Value) -> Result<InputSchema, SchemaError> {
    let mut r = Reader {
        roots: [schema, body],
        stack: Vec::new(),
        names: BTreeMap::new(),
        wanted: BTreeSet::new(),
        kinds: 0,
        fields: 0,
        warnings: Vec::new(),
    };
    let mut path = String::new();
    let (fields, additional) = match r.kind(schema, &mut path, 0)? {
        FieldKind::Object { fields, additional } => (fields, additional),
        FieldKind::Map { value, .. } => (Vec::new(), Additional::Kind { kind: value }),
        // A root that is not an object (e.g. `"type": "string"`) cannot be a run's inputs.
        other => {
            return Err(SchemaError::new(format!(
                "The input schema describes {} rather than an object of inputs",
                other.type_label()
            )))
        }
    };
    // Definitions that `Ref`s point at, each read once (reading one may want others).
    let mut defs = BTreeMap::new();
    while let Some(name) = r.wanted.iter().find(|n| !defs.contains_key(*n)).cloned() {
        if defs.len() >= MAX_DEFS {
            return Err(SchemaError::new(format!("The schema has more than {MAX_DEFS} recursive definitions")));
        }
        let pointer = r.names.get(&name).cloned().unwrap_or_default();
        let target = r.resolve(&pointer).expect("only resolvable refs are wanted");
        r.stack = vec![name.clone()];
        let mut path = format!("#{pointer}");
        let kind = r.kind(target, &mut path, 0)?;
        defs.insert(name, kind);
    }
    let title = |v: &Value| v.get("title").and_then(Value::as_str).map(str::to_owned);
    Ok(InputSchema {
        workflow: body.get("workflow").and_then(Value::as_str).map(str::to_owned).or_else(|| title(schema)),
        fields,
        outputs: Vec::new(),
        additional,
        defs,
        blank_is_value: true,
        warnings: r.warnings,
    })
}

struct Reader<'a> {
    /// Where `#/…` pointers are resolved: the input schema, then the whole answer.
    roots: [&'a Value; 2],
    /// Refs being inlined right now: meeting one again is a cycle.
    stack: Vec<String>,
    /// Ref name → JSON Pointer (without the `#`).
    names: BTreeMap<String, String>,
    /// Names `Ref`s point at, to be read into `defs`.
    wanted: BTreeSet<String>,
    kinds: usize,
    fields: usize,
    warnings: Vec<String>,
}

impl<'a> Reader<'a> {
    fn kind(&mut self, s: &Value, path: &mut String, depth: usize) -> Result<FieldKind, SchemaError> {
        if depth > MAX_DEPTH {
            return Err(SchemaError::new(format!(
                "Field {}: the schema is nested more than {MAX_DEPTH} levels deep",
                shown(path)
            )));
        }
        self.kinds += 1;
        let o = match s {
            Value::Object(o) => o,
            // `true` (anything) and `false` (nothing) as schemas.
            Value::Bool(_) => return Ok(FieldKind::Json { type_name: None }),
            _ => {
                return Err(SchemaError::new(format!(
                    "Field {}: a schema must be a JSON object or true/false",
                    shown(path)
                )))
            }
        };
        if let Some(r) = o.get("$ref").and_then(Value::as_str) {
            return self.reference(r, path, depth);
        }
        if let Some(Value::Array(parts)) = o.get("allOf") {
            let merged = self.merge_all_of(o, parts, path)?;
            return self.kind(&merged, path, depth + 1);
        }
        if let Some(c) = o.get("const") {
            return Ok(FieldKind::Enum { options: vec![c.clone()] });
        }
        if let Some(Value::Array(options)) = o.get("enum") {
            return Ok(self.enumeration(options, path));
        }
        for (key, exclusive) in [("oneOf", true), ("anyOf", false)] {
            if let Some(Value::Array(variants)) = o.get(key) {
                return self.union(variants, exclusive, path, depth);
            }
        }
        match o.get("type") {
            Some(Value::String(t)) => self.typed(t, o, path, depth),
            Some(Value::Array(types)) => {
                let names: Vec<&str> = types.iter().filter_map(Value::as_str).collect();
                let nullable = names.contains(&"null");
                let rest: Vec<&str> = names.iter().copied().filter(|t| *t != "null").collect();
                let kind = match rest.as_slice() {
                    [] if nullable => return Ok(FieldKind::Enum { options: vec![Value::Null] }),
                    [] => FieldKind::Json { type_name: None },
                    [one] => self.typed(one, o, path, depth)?,
                    many => {
                        let mut variants = Vec::new();
                        for t in many.iter().take(MAX_VARIANTS) {
                            let kind = self.typed(t, o, path, depth)?;
                            variants.push(Variant { title: kind.type_label(), kind });
                        }
                        FieldKind::Choice { variants, exclusive: false }
                    }
                };
                Ok(if nullable { nullable_of(kind) } else { kind })
            }
            _ => {
                // No type: what the keywords imply.
                let implied = if ["properties", "additionalProperties", "required"].iter().any(|k| o.contains_key(*k)) {
                    "object"
                } else if o.contains_key("items") || o.contains_key("prefixItems") {
                    "array"
                } else if ["minLength", "maxLength", "pattern", "format"].iter().any(|k| o.contains_key(*k)) {
                    "string"
                } else if ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"]
                    .iter()
                    .any(|k| o.contains_key(*k))
                {
                    "number"
                } else {
                    return Ok(FieldKind::Json { type_name: None });
                };
                self.typed(implied, o, path, depth)
            }
        }
    }

    fn reference(&mut self, r: &str, path: &mut String, depth: usize) -> Result<FieldKind, SchemaError> {
        let Some(pointer) = r.strip_prefix('#') else {
            self.warn(format!("Field {}: {r:?} is outside this schema and is not followed; enter JSON", shown(path)));
            return Ok(FieldKind::Json { type_name: Some(r.to_owned()) });
        };
        let pointer = percent_decode(pointer);
        let Some(target) = self.resolve(&pointer) else {
            self.warn(format!("Field {}: {r:?} points at nothing in this schema; enter JSON", shown(path)));
            return Ok(FieldKind::Json { type_name: Some(r.to_owned()) });
        };
        let name = self.name_for(&pointer);
        let recursive = self.stack.contains(&name);
        if recursive || self.kinds > INLINE_BUDGET || depth >= MAX_DEPTH / 2 {
            self.wanted.insert(name.clone());
            return Ok(FieldKind::Ref { name });
        }
        self.stack.push(name);
        let kind = self.kind(target, path, depth + 1);
        self.stack.pop();
        kind
    }

    /// The pointer's target in the first root that has it (`""` is the root itself).
    fn resolve(&self, pointer: &str) -> Option<&'a Value> {
        self.roots.iter().find_map(|root| root.pointer(pointer))
    }

    /// A readable, unique name for a ref target: its last segment ("Tree"), or the whole
    /// pointer when two targets share a last segment.
    fn name_for(&mut self, pointer: &str) -> String {
        let last = pointer.rsplit('/').next().unwrap_or("").replace("~1", "/").replace("~0", "~");
        let name = if last.is_empty() { "root".to_owned() } else { last };
        match self.names.get(&name) {
            Some(p) if p != pointer => {
                let full = format!("#{pointer}");
                self.names.entry(full.clone()).or_insert_with(|| pointer.to_owned());
                full
            }
            _ => {
                self.names.insert(name.clone(), pointer.to_owned());
                name
            }
        }
    }

    fn enumeration(&mut self, options: &[Value], path: &str) -> FieldKind {
        if options.len() > MAX_ENUM {
            self.warn(format!(
                "Field {}: its {} allowed values are too many to list; enter JSON (the agent checks it)",
                shown(path),
                options.len()
            ));
            return FieldKind::Json { type_name: Some(format!("one of {} values", options.len())) };
        }
        FieldKind::Enum { options: options.to_vec() }
    }

    fn union(
        &mut self,
        variants: &[Value],
        exclusive: bool,
        path: &mut String,
        depth: usize,
    ) -> Result<FieldKind, SchemaError> {
        let (nulls, rest): (Vec<&Value>, Vec<&Value>) = variants.iter().partition(|v| is_null_schema(v));
        let nullable = !nulls.is_empty();
        if rest.len() > MAX_VARIANTS {
            self.warn(format!(
                "Field {}: its {} alternatives are too many to offer; enter JSON (the agent checks it)",
                shown(path),
                rest.len()
            ));
            return Ok(FieldKind::Json { type_name: Some(format!("one of {} shapes", rest.len())) });
        }
        let kind = match rest.as_slice() {
            [] => return Ok(FieldKind::Enum { options: vec![Value::Null] }),
            [one] => self.kind(one, path, depth + 1)?,
            many => {
                let mut kinds = Vec::with_capacity(many.len());
                for v in many {
                    kinds.push((*v, self.kind(v, path, depth + 1)?));
                }
                // Alternatives that are all fixed values are one select.
                if kinds.iter().all(|(_, k)| matches!(k, FieldKind::Enum { .. })) {
                    let mut options = Vec::new();
                    for (_, k) in kinds {
                        if let FieldKind::Enum { options: o } = k {
                            options.extend(o);
                        }
                    }
                    return Ok(self.maybe_null(FieldKind::Enum { options }, nullable));
                }
                let mut variants: Vec<Variant> = Vec::with_capacity(kinds.len());
                for (i, (v, kind)) in kinds.into_iter().enumerate() {
                    let mut title = variant_title(v, &kind).unwrap_or_else(|| format!("Option {}", i + 1));
                    if variants.iter().any(|x| x.title == title) {
                        title = format!("{title} ({})", i + 1);
                    }
                    variants.push(Variant { title, kind });
                }
                FieldKind::Choice { variants, exclusive }
            }
        };
        Ok(self.maybe_null(kind, nullable))
    }

    fn maybe_null(&self, kind: FieldKind, nullable: bool) -> FieldKind {
        if nullable {
            nullable_of(kind)
        } else {
            kind
        }
    }

    /// `allOf` as one schema: the parts' (resolved) keywords merged into the parent's,
    /// `properties` joined and `required` unioned; otherwise the first value wins.
    fn merge_all_of(&mut self, parent: &Map<String, Value>, parts: &[Value], path: &str) -> Result<Value, SchemaError> {
        let mut merged: Map<String, Value> = parent.clone();
        merged.remove("allOf");
        let mut seen = 0;
        // In order: the first part's keywords win, and its properties come first.
        let mut queue: std::collections::VecDeque<&Value> = parts.iter().collect();
        while let Some(part) = queue.pop_front() {
            seen += 1;
            if seen > MAX_VARIANTS {
                self.warn(format!("Field {}: its allOf has too many parts; the rest are ignored", shown(path)));
                break;
            }
            let Some(o) = part.as_object() else { continue };
            let o = match o.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix('#')) {
                Some(p) => match self.resolve(&percent_decode(p)).and_then(Value::as_object) {
                    Some(t) => t,
                    None => continue,
                },
                None => o,
            };
            if let Some(Value::Array(more)) = o.get("allOf") {
                queue.extend(more.iter());
            }
            for (k, v) in o {
                match (k.as_str(), merged.get_mut(k)) {
                    ("allOf" | "$ref", _) => {}
                    ("properties", Some(Value::Object(props))) => {
                        if let Value::Object(more) = v {
                            for (name, p) in more {
                                props.entry(name.clone()).or_insert_with(|| p.clone());
                            }
                        }
                    }
                    ("required", Some(Value::Array(req))) => {
                        if let Value::Array(more) = v {
                            for r in more {
                                if !req.contains(r) {
                                    req.push(r.clone());
                                }
                            }
                        }
                    }
                    (_, Some(_)) => {}
                    (_, None) => {
                        merged.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        Ok(Value::Object(merged))
    }

    fn warn(&mut self, message: String) {
        if self.warnings.len() < 50 && !self.warnings.contains(&message) {
            self.warnings.push(message);
        }
    }
}
