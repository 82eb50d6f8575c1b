//! The old tool stored some run inputs and outputs as Python `repr` text
//! (`{'topic': 'AI', 'ok': True, 'x': None}`), not JSON. This reads that subset of Python
//! literals (dicts, lists, tuples, strings, numbers, True/False/None) into JSON, so the
//! imported history holds real JSON. Depth is bounded: hostile text cannot overflow the stack.

use serde_json::{Map, Number, Value};

const MAX_DEPTH: usize = 128;

pub fn parse(text: &str) -> Option<Value> {
    let mut p = Parser { s: text.as_bytes(), i: 0, text };
    let v = p.value(0)?;
    p.ws();
    (p.i == p.s.len()).then_some(v)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    text: &'a str,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        self.ws();
        if self.s.get(self.i) == Some(&b) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Option<Value> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.ws();
        match *self.s.get(self.i)? {
            b'{' => {
                self.i += 1;
                let mut map = Map::new();
                loop {
                    if self.eat(b'}') {
                        return Some(Value::Object(map));
                    }
                    let key = match self.value(depth + 1)? {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    if !self.eat(b':') {
                        return None;
                    }
                    map.insert(key, self.value(depth + 1)?);
                    if !self.eat(b',') {
                        return self.eat(b'}').then_some(Value::Object(map));
                    }
                }
            }
            open @ (b'[' | b'(') => {
                self.i += 1;
                let close = if open == b'[' { b']' } else { b')' };
                let mut items = Vec::new();
                loop {
                    if self.eat(close) {
                        return Some(Value::Array(items));
                    }
                    items.push(self.value(depth + 1)?);
                    if !self.eat(b',') {
                        return self.eat(close).then_some(Value::Array(items));
                    }
                }
            }
            q @ (b'\'' | b'"') => self.string(q),
            _ => self.word(),
        }
    }

    fn string(&mut self, quote: u8) -> Option<Value> {
        self.i += 1;
        let mut out = String::new();
        loop {
            let rest = &self.text[self.i..];
            let mut chars = rest.char_indices();
            let (_, c) = chars.next()?;
            self.i += c.len_utf8();
            match c {
                c if c as u32 == quote as u32 => return Some(Value::String(out)),
                '\\' => {
                    let (_, e) = self.text[self.i..].char_indices().next()?;
                    self.i += e.len_utf8();
                    match e {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        '0' => out.push('\0'),
                        'x' | 'u' | 'U' => {
                            let len = match e {
                                'x' => 2,
                                'u' => 4,
                                _ => 8,
                            };
                            let hex = self.text.get(self.i..self.i + len)?;
                            out.push(char::from_u32(u32::from_str_radix(hex, 16).ok()?)?);
                            self.i += len;
                        }
                        other => out.push(other),
                    }
                }
                c => out.push(c),
            }
        }
    }

    fn word(&mut self) -> Option<Value> {
        let start = self.i;
        while self.i < self.s.len()
            && !matches!(self.s[self.i], b',' | b':' | b'}' | b']' | b')')
            && !self.s[self.i].is_ascii_whitespace()
        {
            self.i += 1;
        }
        match &self.text[start..self.i] {
            "True" => Some(Value::Bool(true)),
            "False" => Some(Value::Bool(false)),
            "None" => Some(Value::Null),
            w => {
                if let Ok(n) = w.parse::<i64>() {
                    Some(Value::Number(n.into()))
                } else {
                    w.parse::<f64>().ok().and_then(Number::from_f64).map(Value::Number)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_reprs_become_json() {
        assert_eq!(
            parse("{'topic': 'AI', 'ok': True, 'x': None, 'n': [1, 2.5, (3, 'a')], \"q\": 'it\\'s'}").unwrap(),
            json!({"topic": "AI", "ok": true, "x": null, "n": [1, 2.5, [3, "a"]], "q": "it's"})
        );
        assert_eq!(parse("{}").unwrap(), json!({}));
        assert_eq!(parse("None").unwrap(), Value::Null);
        assert_eq!(parse("{'a': 'é\\n'}").unwrap(), json!({"a": "é\n"}));
        assert_eq!(parse("{1: 'x', 'trail': [1,],}").unwrap(), json!({"1": "x", "trail": [1]}));
    }

    #[test]
    fn anything_else_is_refused_not_guessed() {
        for bad in ["{'a': }", "{'a' 1}", "datetime.datetime(2026, 1, 1)", "'open", "[1, 2", "{'a': 1} trailing"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        let deep = "[".repeat(100_000);
        assert_eq!(parse(&deep), None, "deep nesting is refused, not a stack overflow");
    }
}
