//! The form's "raw JSON" view: the same inputs as text. Errors, which the validator
//! reports by JSON Pointer, are shown with the line of the text they are about, found by
//! a small scanner that follows the text's structure (no second parser in the bundle).

use crate::error::FieldError;
use serde_json::Value;

/// Parses the raw text as the inputs object; the error says where and why.
pub fn parse(text: &str) -> Result<serde_json::Map<String, Value>, String> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("The inputs must be a JSON object: { \"field\": value, … }".to_owned()),
        Err(e) => Err(format!("Line {}, column {}: {}", e.line(), e.column(), clean(&e.to_string()))),
    }
}

/// serde_json's message without its own " at line L column C" tail (we say it first).
fn clean(message: &str) -> &str {
    message.split(" at line ").next().unwrap_or(message)
}

/// Each error with the (1-based) line its path starts on, where the text has it; errors
/// about a missing field point at the line of the object that lacks it.
pub fn with_lines(text: &str, errors: &[FieldError]) -> Vec<(Option<usize>, FieldError)> {
    let lines = pointer_lines(text);
    errors
        .iter()
        .map(|e| {
            let mut path = e.field.as_str();
            let line = loop {
                if let Some((_, l)) = lines.iter().find(|(p, _)| p == path) {
                    break Some(*l);
                }
                match path.rfind('/') {
                    Some(i) if !path.is_empty() => path = &path[..i],
                    _ => break None,
                }
            };
            (line, e.clone())
        })
        .collect()
}

/// The JSON Pointer of every value in `text` (valid JSON) and the line it starts on.
pub fn pointer_lines(text: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut line = 1;
    // Per open container: its pointer, whether it is an array, and the next index.
    let mut stack: Vec<(String, bool, usize)> = Vec::new();
    let mut key: Option<String> = None;
    let mut i = 0;
    // The pointer of the value starting here, from the container and pending key.
    let here = |stack: &Vec<(String, bool, usize)>, key: &Option<String>| -> String {
        match stack.last() {
            None => String::new(),
            Some((p, true, n)) => format!("{p}/{n}"),
            Some((p, false, _)) => {
                let k = key.clone().unwrap_or_default();
                format!("{p}/{}", k.replace('~', "~0").replace('/', "~1"))
            }
        }
    };
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => line += 1,
            b'"' => {
                // A string: a key if a ':' follows, else a value.
                let start = i;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                let raw = &text[start..=i.min(text.len() - 1)];
                let mut j = i + 1;
                while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                    j += 1;
                }
                let in_object = matches!(stack.last(), Some((_, false, _)));
                if in_object && bytes.get(j) == Some(&b':') && key.is_none() {
                    key = serde_json::from_str::<String>(raw).ok();
                } else {
                    out.push((here(&stack, &key), line));
                    advance(&mut stack, &mut key);
                }
            }
            b'{' | b'[' => {
                let p = here(&stack, &key);
                out.push((p.clone(), line));
                stack.push((p, bytes[i] == b'[', 0));
                key = None;
            }
            b'}' | b']' => {
                stack.pop();
                advance(&mut stack, &mut key);
            }
            b',' | b':' | b' ' | b'\t' | b'\r' => {}
            _ => {
                // A number, true, false or null.
                out.push((here(&stack, &key), line));
                while i + 1 < bytes.len() && !matches!(bytes[i + 1], b',' | b'}' | b']' | b'\n' | b' ' | b'\r' | b'\t')
                {
                    i += 1;
                }
                advance(&mut stack, &mut key);
            }
        }
        i += 1;
    }
    out
}

/// After a value: the next array index, or no pending key.
fn advance(stack: &mut [(String, bool, usize)], key: &mut Option<String>) {
    if let Some((_, is_array, n)) = stack.last_mut() {
        if *is_array {
            *n += 1;
        }
    }
    *key = None;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_gets_its_line() {
        let text = "{\n  \"a\": 1,\n  \"b/c\": [\n    true,\n    {\"d\": \"x\\\"y\"}\n  ],\n  \"e\": {}\n}";
        let lines = pointer_lines(text);
        let find = |p: &str| lines.iter().find(|(q, _)| q == p).map(|(_, l)| *l);
        assert_eq!(find(""), Some(1));
        assert_eq!(find("/a"), Some(2));
        assert_eq!(find("/b~1c"), Some(3));
        assert_eq!(find("/b~1c/0"), Some(4));
        assert_eq!(find("/b~1c/1"), Some(5));
        assert_eq!(find("/b~1c/1/d"), Some(5));
        assert_eq!(find("/e"), Some(7));
    }

    #[test]
    fn errors_point_at_their_line_or_their_parent() {
        let text = "{\n  \"topic\": 5,\n  \"opts\": {\n    \"n\": 1\n  }\n}";
        let errs = vec![
            FieldError::new("/topic", "Must be text"),
            FieldError::new("/opts/missing", "This field is required"),
            FieldError::new("/", "x"),
        ];
        let got: Vec<Option<usize>> = with_lines(text, &errs).into_iter().map(|(l, _)| l).collect();
        assert_eq!(got, [Some(2), Some(3), Some(1)]);
    }

    #[test]
    fn parse_errors_say_where() {
        assert_eq!(parse("{\n  \"a\": 1,\n}").unwrap_err(), "Line 3, column 1: trailing comma");
        assert!(parse("[1]").unwrap_err().contains("must be a JSON object"));
        assert_eq!(parse("{\"a\": [1]}").unwrap()["a"], serde_json::json!([1]));
    }
}
