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

use super::model::{Additional, Bounds, Field, FieldKind, InputSchema, SchemaError, Variant};
use super::pattern::Pattern;
use super::{push_segment, MAX_DEPTH, MAX_FIELDS, MAX_NAME_LEN};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

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

impl Reader<'_> {
    fn typed(
        &mut self,
        t: &str,
        o: &Map<String, Value>,
        path: &mut String,
        depth: usize,
    ) -> Result<FieldKind, SchemaError> {
        Ok(match t {
            "string" => {
                let pattern = match o.get("pattern").and_then(Value::as_str) {
                    Some(p) => match Pattern::new(p) {
                        Ok(_) => Some(p.to_owned()),
                        // Valid, but too costly for the server to run: the browser's
                        // engine still checks it in the form.
                        Err(why) if Pattern::syntax_ok(p) => {
                            self.warn(format!(
                                "Field {}: its pattern /{p}/ is checked in the form only: {why}",
                                shown(path)
                            ));
                            Some(p.to_owned())
                        }
                        Err(why) => {
                            self.warn(format!(
                                "Field {}: its pattern /{p}/ cannot be used ({why}); values are not checked against it",
                                shown(path)
                            ));
                            None
                        }
                    },
                    None => None,
                };
                FieldKind::Text {
                    min_len: o.get("minLength").and_then(Value::as_u64).filter(|n| *n > 0),
                    max_len: o.get("maxLength").and_then(Value::as_u64),
                    pattern,
                    format: o.get("format").and_then(Value::as_str).map(str::to_owned),
                }
            }
            "integer" => FieldKind::Integer { bounds: bounds(o) },
            "number" => FieldKind::Number { bounds: bounds(o) },
            "boolean" => FieldKind::Boolean,
            "null" => FieldKind::Enum { options: vec![Value::Null] },
            "array" => {
                let mut prefix = Vec::new();
                let mut max_items = o.get("maxItems").and_then(Value::as_u64);
                let tuple = match (o.get("prefixItems"), o.get("items")) {
                    (Some(Value::Array(p)), _) => Some((p, o.get("items"))),
                    // Drafts 4–7: `items` as an array is a tuple, `additionalItems` the rest.
                    (None, Some(Value::Array(p))) => Some((p, o.get("additionalItems"))),
                    _ => None,
                };
                let rest = match tuple {
                    Some((items, rest)) => {
                        for (i, item) in items.iter().enumerate().take(MAX_VARIANTS) {
                            let len = path.len();
                            path.push_str(&format!("/{i}"));
                            let kind = self.kind(item, path, depth + 1);
                            path.truncate(len);
                            prefix.push(kind?);
                        }
                        rest
                    }
                    None => o.get("items"),
                };
                let item = match rest {
                    Some(Value::Bool(false)) => {
                        max_items = Some(max_items.map_or(prefix.len() as u64, |m| m.min(prefix.len() as u64)));
                        FieldKind::Json { type_name: None }
                    }
                    Some(s @ (Value::Object(_) | Value::Bool(true))) => {
                        let len = path.len();
                        path.push_str("/*");
                        let kind = self.kind(s, path, depth + 1);
                        path.truncate(len);
                        kind?
                    }
                    _ => FieldKind::Json { type_name: None },
                };
                FieldKind::List {
                    item: Box::new(item),
                    prefix,
                    min_items: o.get("minItems").and_then(Value::as_u64).filter(|n| *n > 0),
                    max_items,
                }
            }
            "object" => {
                let additional = match o.get("additionalProperties") {
                    Some(Value::Bool(false)) => Additional::None,
                    Some(s @ Value::Object(_)) => {
                        let len = path.len();
                        path.push_str("/*");
                        let kind = self.kind(s, path, depth + 1);
                        path.truncate(len);
                        match kind? {
                            FieldKind::Json { type_name: None } => Additional::Any,
                            kind => Additional::Kind { kind: Box::new(kind) },
                        }
                    }
                    _ => Additional::Any,
                };
                let required: Vec<&str> = match o.get("required") {
                    Some(Value::Array(r)) => r.iter().filter_map(Value::as_str).collect(),
                    _ => Vec::new(),
                };
                let mut fields = match o.get("properties") {
                    Some(Value::Object(props)) => self.fields(props, &required, path, depth)?,
                    Some(_) => {
                        return Err(SchemaError::new(format!(
                            "Field {}: \"properties\" must be an object",
                            shown(path)
                        )))
                    }
                    None => Vec::new(),
                };
                // Required names without a property schema must still be present.
                for name in required {
                    if !fields.iter().any(|f| f.name == name) && fields.len() < MAX_FIELDS {
                        fields.push(Field { required: true, ..Field::new(name, FieldKind::Json { type_name: None }) });
                    }
                }
                // In the agent's order (`properties` as sent; serde_json keeps it on the server).
                match additional {
                    // Only extra keys, all of one kind: a map.
                    Additional::Kind { kind } if fields.is_empty() => {
                        FieldKind::Map { key: Box::new(FieldKind::text()), value: kind }
                    }
                    additional => FieldKind::Object { fields, additional },
                }
            }
            other => FieldKind::Json { type_name: Some(other.chars().take(100).collect()) },
        })
    }

    fn fields(
        &mut self,
        props: &Map<String, Value>,
        required: &[&str],
        path: &mut String,
        depth: usize,
    ) -> Result<Vec<Field>, SchemaError> {
        self.fields += props.len();
        if self.fields > MAX_FIELDS {
            return Err(SchemaError::new(format!("The schema has more than {MAX_FIELDS} fields")));
        }
        let mut fields = Vec::with_capacity(props.len());
        for (name, prop) in props {
            if name.chars().count() > MAX_NAME_LEN {
                return Err(SchemaError::new(format!(
                    "Field name \"{}…\" is longer than {MAX_NAME_LEN} characters",
                    name.chars().take(40).collect::<String>()
                )));
            }
            let len = path.len();
            push_segment(path, name);
            let kind = self.kind(prop, path, depth + 1);
            path.truncate(len);
            let required = required.contains(&name.as_str());
            let mut kind = kind?;
            // An optional field may be left out, which is how the form says "none": an
            // optional `T | null` is just an optional T.
            if !required {
                if let FieldKind::Nullable { inner } = kind {
                    kind = *inner;
                }
            }
            let meta = prop.as_object();
            let text = |key: &str| meta.and_then(|m| m.get(key)).and_then(Value::as_str).map(str::to_owned);
            let flag = |key: &str| meta.and_then(|m| m.get(key)) == Some(&Value::Bool(true));
            let password = |k: &FieldKind| matches!(k, FieldKind::Text { format: Some(f), .. } if f == "password");
            let secret = flag("writeOnly")
                || flag("x-secret")
                || flag("secret")
                || password(&kind)
                || matches!(&kind, FieldKind::Nullable { inner } if password(inner));
            fields.push(Field {
                name: name.clone(),
                required,
                default: meta.and_then(|m| m.get("default")).filter(|v| !v.is_null()).cloned(),
                description: text("description"),
                title: text("title")
                    .filter(|t| !t.eq_ignore_ascii_case(&super::humanize(name)) && !t.trim().is_empty()),
                secret,
                kind,
            });
        }
        // In the agent's order, as sent.
        Ok(fields)
    }
}

fn nullable_of(kind: FieldKind) -> FieldKind {
    match kind {
        // Already accepting null.
        k if k.accepts_null() => k,
        k => FieldKind::Nullable { inner: Box::new(k) },
    }
}

fn is_null_schema(v: &Value) -> bool {
    match v.as_object() {
        Some(o) => {
            o.get("type") == Some(&Value::String("null".into()))
                || o.get("const") == Some(&Value::Null)
                || o.get("enum").and_then(Value::as_array).is_some_and(|e| e.len() == 1 && e[0].is_null())
        }
        None => false,
    }
}

/// A variant's name in the form's choice: its `title`, the `$ref` it names, the value of
/// a `const` property that tells variants apart (a discriminator), or its type.
fn variant_title(v: &Value, kind: &FieldKind) -> Option<String> {
    let o = v.as_object()?;
    if let Some(t) = o.get("title").and_then(Value::as_str).filter(|t| !t.trim().is_empty()) {
        return Some(t.to_owned());
    }
    if let Some(r) = o.get("$ref").and_then(Value::as_str) {
        return r.rsplit('/').next().filter(|s| !s.is_empty()).map(str::to_owned);
    }
    if let FieldKind::Object { fields, .. } = kind {
        let tag = fields.iter().find_map(|f| match &f.kind {
            FieldKind::Enum { options } if options.len() == 1 => options[0].as_str().map(str::to_owned),
            _ => None,
        });
        if tag.is_some() {
            return tag;
        }
    }
    Some(kind.type_label())
}

fn bounds(o: &Map<String, Value>) -> Bounds {
    let num = |k: &str| o.get(k).and_then(Value::as_f64).filter(|f| f.is_finite());
    let mut b = Bounds {
        min: num("minimum"),
        max: num("maximum"),
        multiple_of: num("multipleOf").filter(|m| *m > 0.0),
        ..Bounds::default()
    };
    // Draft 6+: exclusive bounds are numbers; draft 4: booleans that modify min/max.
    match o.get("exclusiveMinimum") {
        Some(Value::Bool(true)) => b.exclusive_min = b.min.is_some(),
        Some(v) => {
            if let Some(x) = v.as_f64().filter(|f| f.is_finite()) {
                if b.min.is_none_or(|m| x >= m) {
                    b.min = Some(x);
                    b.exclusive_min = true;
                }
            }
        }
        None => {}
    }
    match o.get("exclusiveMaximum") {
        Some(Value::Bool(true)) => b.exclusive_max = b.max.is_some(),
        Some(v) => {
            if let Some(x) = v.as_f64().filter(|f| f.is_finite()) {
                if b.max.is_none_or(|m| x <= m) {
                    b.max = Some(x);
                    b.exclusive_max = true;
                }
            }
        }
        None => {}
    }
    b
}

/// `%25` → `%` etc. in a `$ref` fragment (URI encoding of the JSON Pointer).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_owned())
}

fn shown(path: &str) -> &str {
    if path.is_empty() {
        "(inputs)"
    } else {
        path
    }
}

#[cfg(test)]
mod tests {
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
            &[
                (json!("a"), "at least 2 characters"),
                (json!("abcde"), "at most 4 characters"),
                (json!(3), "Must be text"),
            ],
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
        let s = parse_schema(
            &json!({"type": "object", "properties": {"a": {"type": "string", "pattern": "^(?=a)(a+)+$"}}}),
        )
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
        check(
            json!({"type": "number", "multipleOf": 0.1}),
            &[json!(0.3), json!(2)],
            &[(json!(0.25), "multiple of 0.1")],
        );
        check(json!({"type": "integer", "multipleOf": 5}), &[json!(15)], &[(json!(7), "multiple of 5")]);
        check(json!({"type": "boolean"}), &[json!(true)], &[(json!("true"), "true or false")]);
        assert_eq!(
            kind_of(json!({"type": "integer", "minimum": 1, "maximum": 5})).constraint_hint().as_deref(),
            Some("1 to 5")
        );
    }

    #[test]
    fn enums_consts_and_type_lists() {
        check(
            json!({"enum": ["a", "b", 3, null]}),
            &[json!("a"), json!(3)],
            &[(json!("c"), "one of: a, b, 3, (empty)")],
        );
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
        let s = parse_schema(&json!({"type": "object", "properties": {"u": {"$ref": "#/$defs/U30"}}, "$defs": defs}))
            .unwrap();
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
}
