//! Each JSON Schema `type` and an object's properties into the model's kinds and fields,
//! and the small readings they share (bounds, nullability, variant titles).

use super::{Reader, MAX_VARIANTS};
use crate::schema::model::{Additional, Bounds, Field, FieldKind, SchemaError};
use crate::schema::pattern::Pattern;
use crate::schema::{push_segment, MAX_FIELDS, MAX_NAME_LEN};
use serde_json::{Map, Value};

impl Reader<'_> {
    pub(super) fn typed(
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

    pub(super) fn fields(
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
                    .filter(|t| !t.eq_ignore_ascii_case(&crate::schema::humanize(name)) && !t.trim().is_empty()),
                secret,
                kind,
            });
        }
        // In the agent's order, as sent.
        Ok(fields)
    }
}

pub(super) fn nullable_of(kind: FieldKind) -> FieldKind {
    match kind {
        // Already accepting null.
        k if k.accepts_null() => k,
        k => FieldKind::Nullable { inner: Box::new(k) },
    }
}

pub(super) fn is_null_schema(v: &Value) -> bool {
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
pub(super) fn variant_title(v: &Value, kind: &FieldKind) -> Option<String> {
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
pub(super) fn percent_decode(s: &str) -> String {
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

pub(super) fn shown(path: &str) -> &str {
    if path.is_empty() {
        "(inputs)"
    } else {
        path
    }
}
