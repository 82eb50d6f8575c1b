//! Type strings (`str`, `list[int]`, `dict[str, list[str]]`, ...) into `FieldKind`.
//! Agents are remote and untrusted: the parser is linear and depth-limited, and never fails.

use super::model::FieldKind;
use super::{MAX_DEPTH, MAX_TYPE_LEN};

/// Reads a type string; never fails. Unknown names become `Json` with the name kept;
/// malformed or over-deep strings become `Json` with the whole string kept (over-long
/// ones with its first `MAX_TYPE_LEN` characters).
pub fn parse_type(s: &str) -> FieldKind {
    parse_type_within(s, MAX_DEPTH)
}

/// `parse_type` with at most `max_depth` levels of `[...]` nesting, so a type string
/// inside a nested object only gets the depth budget the object left over.
pub(super) fn parse_type_within(s: &str, max_depth: usize) -> FieldKind {
    let s = s.trim();
    if s.len() > MAX_TYPE_LEN {
        return FieldKind::Json { type_name: Some(clip(s, MAX_TYPE_LEN)) };
    }
    if s.is_empty() {
        return FieldKind::Json { type_name: None };
    }
    let mut parser = TypeParser { src: s, pos: 0, max_depth };
    match parser.kind(0) {
        Some(kind) if parser.pos == s.len() => kind,
        _ => FieldKind::Json { type_name: Some(s.to_owned()) },
    }
}

/// A recursive-descent parser over `name` | `name[type, ...]`. Linear: each byte is
/// looked at once, and recursion stops at `max_depth`.
struct TypeParser<'a> {
    src: &'a str,
    pos: usize,
    max_depth: usize,
}

impl TypeParser<'_> {
    /// One type starting at `pos`; `None` if malformed or too deep.
    fn kind(&mut self, depth: usize) -> Option<FieldKind> {
        if depth > self.max_depth {
            return None;
        }
        let bytes = self.src.as_bytes();
        let start = self.pos;
        // The delimiters are ASCII, so the slices below stay on char boundaries.
        while self.pos < bytes.len() && !matches!(bytes[self.pos], b'[' | b']' | b',') {
            self.pos += 1;
        }
        let name = self.src[start..self.pos].trim();
        let mut args = Vec::new();
        if bytes.get(self.pos) == Some(&b'[') {
            self.pos += 1;
            loop {
                args.push(self.kind(depth + 1)?);
                let sep = bytes.get(self.pos).copied();
                self.pos += 1;
                match sep {
                    Some(b',') => {}
                    Some(b']') => break,
                    _ => return None,
                }
            }
            // Whitespace after `]` belongs to this type (`list[int] ]`, `dict[a[b] , c]`).
            while bytes.get(self.pos).is_some_and(u8::is_ascii_whitespace) {
                self.pos += 1;
            }
        }
        if name.is_empty() {
            return None;
        }
        let raw = self.src[start..self.pos].trim();
        named_kind(name, args, raw)
    }
}

/// The kind a (case-insensitive) type name with its arguments stands for. `None` for a
/// known name with the wrong number of arguments (`dict[str]`, `str[int]`).
fn named_kind(name: &str, mut args: Vec<FieldKind>, raw: &str) -> Option<FieldKind> {
    let lower = name.to_ascii_lowercase();
    let json = || Box::new(FieldKind::Json { type_name: None });
    let kind = match (lower.as_str(), args.len()) {
        ("str" | "string", 0) => FieldKind::text(),
        ("int" | "integer", 0) => FieldKind::integer(),
        ("float" | "number", 0) => FieldKind::number(),
        ("bool" | "boolean", 0) => FieldKind::Boolean,
        ("list", 0) => FieldKind::List { item: json(), prefix: Vec::new(), min_items: None, max_items: None },
        ("list", 1) => FieldKind::list(args.remove(0)),
        ("dict", 0) => FieldKind::Map { key: Box::new(FieldKind::text()), value: json() },
        ("dict", 2) => {
            let value = Box::new(args.remove(1));
            FieldKind::Map { key: Box::new(args.remove(0)), value }
        }
        // Its fields, if any, come from the SPEC's `schema` map (see `spec::parse_field`).
        ("object", 0) => FieldKind::object(Vec::new()),
        // `Optional[T]` is Python's "may be None"; whether it is required is stated separately.
        ("optional", 1) => args.remove(0),
        ("any" | "json", 0) => FieldKind::Json { type_name: None },
        (
            "str" | "string" | "int" | "integer" | "float" | "number" | "bool" | "boolean" | "list" | "dict" | "object"
            | "optional" | "any" | "json",
            _,
        ) => return None,
        _ => FieldKind::Json { type_name: Some(raw.to_owned()) },
    };
    Some(kind)
}

/// At most `max` chars of `s` (cut on a char boundary), for displaying hostile strings.
pub(super) fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => s[..i].to_owned(),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn b(kind: FieldKind) -> Box<FieldKind> {
        Box::new(kind)
    }
    fn json_kind(name: Option<&str>) -> FieldKind {
        FieldKind::Json { type_name: name.map(str::to_owned) }
    }
    fn list(item: FieldKind) -> FieldKind {
        FieldKind::list(item)
    }
    fn map(key: FieldKind, value: FieldKind) -> FieldKind {
        FieldKind::Map { key: b(key), value: b(value) }
    }

    #[test]
    fn parses_scalar_types_and_aliases() {
        use FieldKind::Boolean;
        let (text, integer, number) = (FieldKind::text(), FieldKind::integer(), FieldKind::number());
        for (s, kind) in [
            ("str", text.clone()),
            ("string", text.clone()),
            ("String", text.clone()),
            ("int", integer.clone()),
            ("Integer", integer),
            ("float", number.clone()),
            ("number", number),
            ("bool", Boolean),
            ("BOOLEAN", Boolean),
            ("  str  ", text),
            ("object", FieldKind::object(vec![])),
            ("any", json_kind(None)),
            ("Any", json_kind(None)),
            ("json", json_kind(None)),
            ("", json_kind(None)),
        ] {
            assert_eq!(parse_type(s), kind, "{s:?}");
        }
    }

    #[test]
    fn parses_containers() {
        use FieldKind::Boolean;
        assert_eq!(parse_type("list"), list(json_kind(None)));
        assert_eq!(parse_type("dict"), map(FieldKind::text(), json_kind(None)));
        assert_eq!(parse_type("list[int]"), list(FieldKind::integer()));
        assert_eq!(parse_type("List[str]"), list(FieldKind::text()));
        assert_eq!(parse_type("dict[str, int]"), map(FieldKind::text(), FieldKind::integer()));
        assert_eq!(parse_type("Dict[int,float]"), map(FieldKind::integer(), FieldKind::number()));
        assert_eq!(parse_type("list[list[int]]"), list(list(FieldKind::integer())));
        assert_eq!(parse_type("dict[str, list[str]]"), map(FieldKind::text(), list(FieldKind::text())));
        assert_eq!(
            parse_type(" dict [ str , dict[ int , list[ bool ] ] ] "),
            map(FieldKind::text(), map(FieldKind::integer(), list(Boolean)))
        );
        assert_eq!(parse_type("list[dict]"), list(map(FieldKind::text(), json_kind(None))));
        assert_eq!(parse_type("Optional[int]"), FieldKind::integer());
        assert_eq!(parse_type("list[Optional[str]]"), list(FieldKind::text()));
    }

    #[test]
    fn unknown_names_become_json_with_the_name_kept() {
        assert_eq!(parse_type("datetime"), json_kind(Some("datetime")));
        assert_eq!(parse_type("list[uuid]"), list(json_kind(Some("uuid"))));
        assert_eq!(parse_type("Tuple[int, str]"), json_kind(Some("Tuple[int, str]")));
        assert_eq!(
            parse_type("dict[str, Union[int, str]]"),
            map(FieldKind::text(), json_kind(Some("Union[int, str]")))
        );
    }

    #[test]
    fn malformed_types_become_json_with_the_whole_string() {
        for s in [
            "list[",
            "list[int",
            "dict[str]",
            "list[int]]",
            "list[]",
            "]",
            "[int]",
            "list[int,]",
            "dict[str, int, int]",
            "str[int]",
            "list[int] x",
            "list[[int]]",
            ",",
            "Optional[]",
        ] {
            assert_eq!(parse_type(s), json_kind(Some(s)), "{s:?}");
        }
    }

    #[test]
    fn over_deep_and_over_long_types_become_json_quickly() {
        let deep = |n: usize| format!("{}int{}", "list[".repeat(n), "]".repeat(n));
        let mut kind = FieldKind::integer();
        for _ in 0..MAX_DEPTH {
            kind = list(kind);
        }
        assert_eq!(parse_type(&deep(MAX_DEPTH)), kind);
        assert_eq!(parse_type(&deep(MAX_DEPTH + 1)), json_kind(Some(&deep(MAX_DEPTH + 1))));

        // 100,000 unclosed `list[`: rejected on length before any parsing, name clipped.
        let start = Instant::now();
        let hostile = "list[".repeat(100_000);
        match parse_type(&hostile) {
            FieldKind::Json { type_name: Some(n) } => assert_eq!(n.len(), MAX_TYPE_LEN),
            other => panic!("{other:?}"),
        }
        // Just under the length limit but far too deep: the depth limit catches it.
        let nested = deep(150);
        assert!(nested.len() < MAX_TYPE_LEN);
        assert_eq!(parse_type(&nested), json_kind(Some(&nested)));
        let multibyte = "é".repeat(MAX_TYPE_LEN);
        assert!(matches!(parse_type(&multibyte), FieldKind::Json { type_name: Some(_) }));
        assert!(start.elapsed() < Duration::from_secs(1));
    }
}
