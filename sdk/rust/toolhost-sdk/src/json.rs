//! A small, strict JSON reader and writer (RFC 8259), standard library only.
//!
//! What it does:
//! - [`parse`] reads one JSON text into a [`Value`]; nothing but whitespace may follow it.
//!   Arrays and objects nest at most [`DEFAULT_MAX_DEPTH`] levels ([`parse_with_depth`] takes
//!   another limit), so hostile input cannot exhaust the stack. Errors say what is wrong and the
//!   byte offset where it was found.
//! - [`Value`]'s `Display` (and [`Value::to_json`]) writes compact JSON: strings escaped as JSON
//!   requires (`"`, `\`, and control characters; everything else as UTF-8), object members in
//!   their order.
//!
//! Limits, by design:
//! - Objects keep their members in document order; a name that occurs twice is an error.
//! - Integers without fraction or exponent are kept exactly when they fit `i64` or `u64`; every
//!   other number is an `f64` (so a longer integer loses precision). A number too large for
//!   `f64` (`1e400`) is an error rather than infinity.
//! - Non-finite floats (NaN, infinities), which JSON cannot carry, are written as `null`.
//! - `\u` escapes must form valid Unicode scalar values: a lone surrogate is an error.
//! - No comments, trailing commas, single quotes or other extensions.

use std::collections::HashSet;
use std::fmt::{self, Write};

/// How deep arrays and objects may nest in [`parse`]: 64, as the host's own limit.
pub const DEFAULT_MAX_DEPTH: usize = 64;

/// A JSON number, kept exactly when it is an integer that fits 64 bits.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Number {
    /// A negative integer (or any integer built from an `i64`).
    Int(i64),
    /// A non-negative integer.
    UInt(u64),
    /// Anything else.
    Float(f64),
}

impl Number {
    /// The value as `i64` when it is an integer in range.
    pub fn as_i64(self) -> Option<i64> {
        match self {
            Number::Int(i) => Some(i),
            Number::UInt(u) => i64::try_from(u).ok(),
            Number::Float(_) => None,
        }
    }

    /// The value as `u64` when it is a non-negative integer in range.
    pub fn as_u64(self) -> Option<u64> {
        match self {
            Number::Int(i) => u64::try_from(i).ok(),
            Number::UInt(u) => Some(u),
            Number::Float(_) => None,
        }
    }

    /// The value as `f64` (integers beyond 2^53 are rounded).
    pub fn as_f64(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::UInt(u) => u as f64,
            Number::Float(f) => f,
        }
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Number::Int(i) => write!(f, "{}", i),
            Number::UInt(u) => write!(f, "{}", u),
            // `{:?}` is the shortest text that reads back as the same f64, with an exponent
            // for very large and very small magnitudes ("1e300"): always valid JSON when finite.
            Number::Float(x) if x.is_finite() => write!(f, "{:?}", x),
            Number::Float(_) => f.write_str("null"),
        }
    }
}

/// A JSON value. Objects are member lists in document order with unique names.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number.
    Number(Number),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object.
    Object(Vec<(String, Value)>),
}

impl Value {
    /// An object from `(name, value)` pairs, in that order. Later duplicates replace earlier
    /// members, so the result always has unique names. Meant for the handful of members of a
    /// result (each name is compared with the ones before it); build `Value::Object` directly,
    /// with unique names, for thousands.
    pub fn object<K: Into<String>, I: IntoIterator<Item = (K, Value)>>(members: I) -> Value {
        let mut out: Vec<(String, Value)> = Vec::new();
        for (k, v) in members {
            let k = k.into();
            match out.iter_mut().find(|(name, _)| *name == k) {
                Some(slot) => slot.1 = v,
                None => out.push((k, v)),
            }
        }
        Value::Object(out)
    }

    /// The member `name` of an object; `None` for a missing member or a value that is not an
    /// object.
    pub fn get(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Object(members) => members.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The number, if this is one.
    pub fn as_number(&self) -> Option<Number> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The members, if this is an object.
    pub fn as_object(&self) -> Option<&[(String, Value)]> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// The JSON type name: "null", "boolean", "number", "string", "array" or "object".
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }

    /// Compact JSON text of the value.
    pub fn to_json(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => f.write_str(if *b { "true" } else { "false" }),
            Value::Number(n) => write!(f, "{}", n),
            Value::String(s) => write_escaped(f, s),
            Value::Array(items) => {
                f.write_char('[')?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_char(',')?;
                    }
                    write!(f, "{}", item)?;
                }
                f.write_char(']')
            }
            Value::Object(members) => {
                f.write_char('{')?;
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        f.write_char(',')?;
                    }
                    write_escaped(f, k)?;
                    f.write_char(':')?;
                    write!(f, "{}", v)?;
                }
                f.write_char('}')
            }
        }
    }
}

/// Writes `s` as a JSON string literal, quotes included.
pub fn write_escaped<W: Write>(out: &mut W, s: &str) -> fmt::Result {
    out.write_char('"')?;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let escape = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            '\u{8}' => "\\b",
            '\u{c}' => "\\f",
            c if (c as u32) < 0x20 => "",
            _ => continue,
        };
        out.write_str(&s[start..i])?;
        if escape.is_empty() {
            write!(out, "\\u{:04x}", c as u32)?;
        } else {
            out.write_str(escape)?;
        }
        start = i + c.len_utf8();
    }
    out.write_str(&s[start..])?;
    out.write_char('"')
}

/// `s` as a JSON string literal, quotes included.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    // Writing into a String cannot fail.
    let _ = write_escaped(&mut out, s);
    out
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}
impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_owned())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Number(if i < 0 { Number::Int(i) } else { Number::UInt(i as u64) })
    }
}
impl From<i32> for Value {
    fn from(i: i32) -> Value {
        Value::from(i64::from(i))
    }
}
impl From<u64> for Value {
    fn from(u: u64) -> Value {
        Value::Number(Number::UInt(u))
    }
}
impl From<u32> for Value {
    fn from(u: u32) -> Value {
        Value::Number(Number::UInt(u64::from(u)))
    }
}
impl From<usize> for Value {
    fn from(u: usize) -> Value {
        Value::Number(Number::UInt(u as u64))
    }
}
impl From<f64> for Value {
    fn from(x: f64) -> Value {
        Value::Number(Number::Float(x))
    }
}
impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Value {
        Value::Array(items)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

/// Why a text is not JSON, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset in the input where the problem was found.
    pub offset: usize,
    /// What is wrong, e.g. "expected ',' or '}'".
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at offset {}", self.message, self.offset)
    }
}

impl std::error::Error for ParseError {}

/// Parses one JSON text, nesting at most [`DEFAULT_MAX_DEPTH`] levels.
pub fn parse(text: &str) -> Result<Value, ParseError> {
    parse_with_depth(text, DEFAULT_MAX_DEPTH)
}

/// Parses one JSON text, nesting at most `max_depth` levels (1: no array or object inside the
/// top-level one; 0: scalars only).
pub fn parse_with_depth(text: &str, max_depth: usize) -> Result<Value, ParseError> {
    let mut p = Parser {
        s: text.as_bytes(),
        text,
        pos: 0,
        max_depth,
    };
    p.skip_ws();
    let v = p.value(0)?;
    p.skip_ws();
    if p.pos != p.s.len() {
        return Err(p.error("unexpected text after the JSON value"));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
    max_depth: usize,
}

impl<'a> Parser<'a> {
    fn error(&self, message: &str) -> ParseError {
        ParseError {
            offset: self.pos,
            message: message.to_owned(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn literal(&mut self, word: &str, v: Value) -> Result<Value, ParseError> {
        if self.s[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(v)
        } else {
            Err(self.error("invalid literal"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, ParseError> {
        match self.peek() {
            None => Err(self.error("unexpected end of input")),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'"') => self.string().map(Value::String),
            Some(b'[') => self.array(depth + 1),
            Some(b'{') => self.object(depth + 1),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("unexpected character")),
        }
    }

    fn enter(&self, depth: usize) -> Result<(), ParseError> {
        if depth > self.max_depth {
            Err(self.error(&format!(
                "arrays and objects nest deeper than {} levels",
                self.max_depth
            )))
        } else {
            Ok(())
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, ParseError> {
        self.enter(depth)?;
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value(depth)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.error("expected ',' or ']'")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, ParseError> {
        self.enter(depth)?;
        self.pos += 1; // '{'
        let mut members: Vec<(String, Value)> = Vec::new();
        let mut names: HashSet<String> = HashSet::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Object(members));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a member name"));
            }
            let name_at = self.pos;
            let name = self.string()?;
            if !names.insert(name.clone()) {
                return Err(ParseError {
                    offset: name_at,
                    message: format!("duplicate member name {}", quote(&name)),
                });
            }
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.error("expected ':'"));
            }
            self.pos += 1;
            self.skip_ws();
            let v = self.value(depth)?;
            members.push((name, v));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(members));
                }
                _ => return Err(self.error("expected ',' or '}'")),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, ParseError> {
        let digits = self
            .s
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.error("truncated \\u escape"))?;
        let mut v = 0u32;
        for &d in digits {
            let n = (d as char)
                .to_digit(16)
                .ok_or_else(|| self.error("invalid \\u escape"))?;
            v = v * 16 + n;
        }
        self.pos += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<String, ParseError> {
        self.pos += 1; // '"'
        let mut out = String::new();
        loop {
            // Copy the run of plain characters at once; the input is UTF-8 (a &str), and the
            // run ends at an ASCII byte, so it is a whole number of characters.
            let start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(&self.text[start..self.pos]);
            match self.peek() {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let esc = self.peek().ok_or_else(|| self.error("unterminated string"))?;
                    self.pos += 1;
                    match esc {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => out.push(self.unicode_escape()?),
                        _ => {
                            self.pos -= 1;
                            return Err(self.error("invalid escape"));
                        }
                    }
                }
                Some(_) => return Err(self.error("control character in string")),
            }
        }
    }

    fn unicode_escape(&mut self) -> Result<char, ParseError> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                if self.s.get(self.pos..self.pos + 2) != Some(b"\\u") {
                    return Err(self.error("lone surrogate in \\u escape"));
                }
                self.pos += 2;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(self.error("lone surrogate in \\u escape"));
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(self.error("lone surrogate in \\u escape")),
            c => c,
        };
        char::from_u32(code).ok_or_else(|| self.error("invalid \\u escape"))
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<Value, ParseError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let int_start = self.pos;
        let n = self.digits();
        if n == 0 {
            return Err(self.error("expected a digit"));
        }
        if n > 1 && self.s[int_start] == b'0' {
            return Err(ParseError {
                offset: int_start,
                message: "leading zero in number".to_owned(),
            });
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.error("expected a digit after '.'"));
            }
            integer = false;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.error("expected a digit in the exponent"));
            }
            integer = false;
        }
        let text = &self.text[start..self.pos];
        if integer {
            if let Ok(u) = text.parse::<u64>() {
                return Ok(Value::Number(Number::UInt(u)));
            }
            if let Ok(i) = text.parse::<i64>() {
                return Ok(Value::Number(if i < 0 {
                    Number::Int(i)
                } else {
                    Number::UInt(i as u64)
                }));
            }
        }
        match text.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(Value::Number(Number::Float(x))),
            _ => Err(ParseError {
                offset: start,
                message: "number out of range".to_owned(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) -> String {
        parse(text).unwrap_or_else(|e| panic!("{}: {}", text, e)).to_json()
    }

    #[test]
    fn reads_and_writes_every_kind_of_value() {
        assert_eq!(
            round_trip(r#" {"a" : [1, -2, 3.5, true, false, null], "b": {"c": "d"}, "e": []} "#),
            r#"{"a":[1,-2,3.5,true,false,null],"b":{"c":"d"},"e":[]}"#
        );
        assert_eq!(round_trip("\"\""), "\"\"");
        assert_eq!(round_trip("{}"), "{}");
        assert_eq!(round_trip("0"), "0");
        assert_eq!(round_trip("-0"), "0");
    }

    #[test]
    fn numbers_keep_integers_exact_and_floats_round_trip() {
        assert_eq!(round_trip("18446744073709551615"), "18446744073709551615");
        assert_eq!(round_trip("-9223372036854775808"), "-9223372036854775808");
        assert_eq!(parse("1e2").unwrap(), Value::Number(Number::Float(100.0)));
        for x in [0.1, 1e300, 1e-7, -2.5e-300, 123456.789, 1.0, 5e-324] {
            let text = Value::from(x).to_json();
            assert_eq!(parse(&text).unwrap().as_number().unwrap().as_f64(), x, "{}", text);
        }
        assert_eq!(Value::from(f64::NAN).to_json(), "null");
        assert_eq!(Value::from(f64::INFINITY).to_json(), "null");
        assert!(parse("1e400").is_err());
        assert_eq!(
            parse("99999999999999999999").unwrap().as_number().unwrap().as_f64(),
            1e20
        );
    }

    #[test]
    fn strings_escape_and_unescape() {
        let s = "quote \" backslash \\ newline \n tab \t nul \u{0} bell \u{7} del \u{7f} é 😀";
        let text = quote(s);
        assert_eq!(
            text,
            "\"quote \\\" backslash \\\\ newline \\n tab \\t nul \\u0000 bell \\u0007 del \u{7f} é 😀\""
        );
        assert_eq!(parse(&text).unwrap(), Value::String(s.to_owned()));
        assert_eq!(
            parse(r#""\u00e9\ud83d\ude00\/""#).unwrap(),
            Value::String("é😀/".to_owned())
        );
    }

    #[test]
    fn rejects_what_is_not_json() {
        let bad = [
            ("", 0),
            ("[1,]", 3),
            ("{\"a\":1,}", 7),
            ("01", 0),
            ("1.", 2),
            ("-", 1),
            ("nul", 0),
            ("\"a", 2),
            ("\"\\x\"", 2),
            ("\"\\ud800\"", 7),
            ("\"\\udc00\"", 7),
            ("\"tab\there\"", 4),
            ("[1] 2", 4),
            ("{\"a\":1,\"a\":2}", 7),
            ("{a:1}", 1),
            ("[1 2]", 3),
            ("\u{feff}1", 0),
        ];
        for (text, offset) in bad {
            let e = parse(text).expect_err(text);
            assert_eq!(e.offset, offset, "{:?}: {}", text, e);
        }
    }

    #[test]
    fn limits_nesting_depth() {
        let ok = "[".repeat(64) + &"]".repeat(64);
        assert!(parse(&ok).is_ok());
        let deep = "[".repeat(65) + &"]".repeat(65);
        let e = parse(&deep).unwrap_err();
        assert!(e.message.contains("deeper than 64"), "{}", e);
        assert!(parse_with_depth("1", 0).is_ok());
        assert!(parse_with_depth("[]", 0).is_err());
        // Far beyond any stack: refused, not a crash.
        assert!(parse(&"[".repeat(1_000_000)).is_err());
    }

    #[test]
    fn builds_objects_with_unique_names() {
        let v = Value::object([("a", Value::from(1)), ("b", Value::from("x")), ("a", Value::from(2))]);
        assert_eq!(v.to_json(), r#"{"a":2,"b":"x"}"#);
        assert_eq!(v.get("b").and_then(Value::as_str), Some("x"));
        assert_eq!(v.get("c"), None);
        assert_eq!(Value::from(Option::<u32>::None), Value::Null);
    }
}
