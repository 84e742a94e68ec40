//! Just enough JSON for the status snapshot, without serde: an escaping string writer and a
//! strict reader (RFC 8259 grammar, no extensions) that returns errors as values and never
//! panics, whatever the input.
//!
//! The reader builds an owned [`Value`] tree. Nesting is limited to
//! [`STATUS_JSON_MAX_DEPTH`] so hostile input cannot exhaust the stack; integers are kept exact
//! as `u64`/`i64` (packet and byte counters must not lose precision through `f64`); any other
//! number (a fraction, an exponent, an integer beyond 64 bits) is kept as its text, checked
//! against the JSON grammar. Nothing is converted to floating point: our snapshot has no such
//! numbers, and a decimal-to-binary float parser would cost the router binary 17 kB.

use core::fmt;

use crate::limits::STATUS_JSON_MAX_DEPTH;

/// A parsed JSON value. Object members keep their order; duplicate keys are kept as read
/// (the snapshot decoder rejects them where it matters).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
}

/// A JSON number: integers exactly when they fit, otherwise the number as written.
#[derive(Debug, Clone, PartialEq)]
pub enum Number {
    Unsigned(u64),
    /// A negative integer that fits `i64`.
    Negative(i64),
    /// Any other number (`3.5`, `1e3`, `18446744073709551616`): its text, which follows the
    /// JSON number grammar; not an integer, so never a counter.
    Other(Box<str>),
}

impl Value {
    /// The value as an unsigned integer (no fractions, no negatives).
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Number(Number::Unsigned(n)) => Some(*n),
            Value::Number(Number::Negative(n)) => u64::try_from(*n).ok(),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&[(String, Value)]> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// Compact JSON text of the value (an [`Number::Other`] is written as its text, so it
    /// must come from the reader or follow the JSON number grammar).
    pub fn write(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(true) => out.push_str("true"),
            Value::Bool(false) => out.push_str("false"),
            Value::Number(n) => write_number(out, n),
            Value::String(s) => write_str(out, s),
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Value::Object(members) => {
                out.push('{');
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_str(out, k);
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }
}

fn write_number(out: &mut String, n: &Number) {
    use fmt::Write as _;
    // Writing into a String cannot fail.
    let _ = match n {
        Number::Unsigned(v) => write!(out, "{v}"),
        Number::Negative(v) => write!(out, "{v}"),
        Number::Other(text) => out.write_str(text),
    };
}

/// Appends `s` as a quoted JSON string. `"` and `\` are escaped, and so is every control
/// character (C0, DEL and C1), so the file stays one readable line per record and nothing in
/// it can act on a terminal that displays it.
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    let mut plain_from = 0;
    for (i, c) in s.char_indices() {
        let escaped: Option<&str> = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            '\u{8}' => Some("\\b"),
            '\u{c}' => Some("\\f"),
            c if c.is_control() => None,
            _ => continue,
        };
        out.push_str(s.get(plain_from..i).unwrap_or_default());
        match escaped {
            Some(e) => out.push_str(e),
            None => push_u_escape(out, u32::from(c)),
        }
        plain_from = i + c.len_utf8();
    }
    out.push_str(s.get(plain_from..).unwrap_or_default());
    out.push('"');
}

/// Appends bytes from the network (a Call-ID, a URI) as a JSON string: valid UTF-8 is kept,
/// each invalid sequence becomes U+FFFD.
pub fn write_bytes(out: &mut String, bytes: &[u8]) {
    let mut text = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        text.push_str(chunk.valid());
        if !chunk.invalid().is_empty() {
            text.push(char::REPLACEMENT_CHARACTER);
        }
    }
    write_str(out, &text);
}

fn push_u_escape(out: &mut String, code: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push_str("\\u");
    for shift in [12u32, 8, 4, 0] {
        let nibble = (code >> shift) & 0xf;
        let digit = HEX.get(nibble as usize).copied().unwrap_or(b'0');
        out.push(char::from(digit));
    }
}

/// What is wrong with a JSON text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The text ends inside a value (or is empty).
    UnexpectedEnd,
    /// A byte that cannot start or continue what the grammar expects here.
    Unexpected { found: u8, expected: &'static str },
    /// A raw control character (below U+0020) inside a string.
    ControlInString,
    /// A backslash followed by something other than `"\/bfnrtu`.
    BadEscape(u8),
    /// `\u` not followed by four hex digits.
    BadUnicodeEscape,
    /// A `\uD800`-`\uDFFF` escape that is not a high+low surrogate pair.
    LoneSurrogate,
    /// String bytes that are not UTF-8.
    InvalidUtf8,
    /// A number that does not follow the JSON grammar (leading zero, lone `-`, `1.`, `1e`).
    BadNumber,
    /// Arrays/objects nested deeper than [`STATUS_JSON_MAX_DEPTH`].
    TooDeep,
    /// Something other than whitespace after the value.
    TrailingData,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::UnexpectedEnd => write!(f, "unexpected end of input"),
            ErrorKind::Unexpected { found, expected } => {
                write!(f, "found {}, expected {expected}", ShowByte(*found))
            }
            ErrorKind::ControlInString => write!(f, "unescaped control character in a string"),
            ErrorKind::BadEscape(b) => write!(f, "invalid escape \\{}", ShowByte(*b)),
            ErrorKind::BadUnicodeEscape => write!(f, "\\u must be followed by 4 hex digits"),
            ErrorKind::LoneSurrogate => write!(f, "unpaired UTF-16 surrogate in a \\u escape"),
            ErrorKind::InvalidUtf8 => write!(f, "invalid UTF-8 in a string"),
            ErrorKind::BadNumber => write!(f, "malformed number"),
            ErrorKind::TooDeep => {
                write!(f, "nested deeper than {STATUS_JSON_MAX_DEPTH} levels")
            }
            ErrorKind::TrailingData => write!(f, "data after the end of the JSON value"),
        }
    }
}

/// Shows a byte readably in messages: printable ASCII quoted, anything else in hex.
struct ShowByte(u8);

impl fmt::Display for ShowByte {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_ascii_graphic() {
            write!(f, "'{}'", char::from(self.0))
        } else {
            write!(f, "byte 0x{:02x}", self.0)
        }
    }
}

/// A JSON syntax error and where it is (byte offset, and 1-based line and column in bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub offset: usize,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.kind
        )
    }
}

impl std::error::Error for Error {}

/// Parses one JSON value filling all of `input` (surrounding whitespace allowed).
pub fn parse(input: &[u8]) -> Result<Value, Error> {
    let mut p = Parser { input, pos: 0 };
    let value = p.value(0)?;
    p.skip_ws();
    if p.pos < input.len() {
        return Err(p.error(ErrorKind::TrailingData));
    }
    Ok(value)
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn error(&self, kind: ErrorKind) -> Error {
        self.error_at(kind, self.pos)
    }

    fn error_at(&self, kind: ErrorKind, offset: usize) -> Error {
        let before = self.input.get(..offset).unwrap_or(self.input);
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |nl| nl + 1);
        Error {
            kind,
            offset,
            line,
            column: offset - line_start + 1,
        }
    }

    /// Error for the current byte, or end of input if there is none.
    fn unexpected(&self, expected: &'static str) -> Error {
        match self.peek() {
            Some(found) => self.error(ErrorKind::Unexpected { found, expected }),
            None => self.error(ErrorKind::UnexpectedEnd),
        }
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, Error> {
        self.skip_ws();
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string().map(Value::String),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number().map(Value::Number),
            _ => Err(self.unexpected("a value")),
        }
    }

    fn literal(&mut self, word: &'static str, value: Value) -> Result<Value, Error> {
        for &want in word.as_bytes() {
            if self.peek() != Some(want) {
                return Err(self.unexpected(word));
            }
            self.pos += 1;
        }
        Ok(value)
    }

    fn enter(&self, depth: usize) -> Result<(), Error> {
        if depth > STATUS_JSON_MAX_DEPTH {
            Err(self.error(ErrorKind::TooDeep))
        } else {
            Ok(())
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, Error> {
        self.enter(depth)?;
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Array(items));
        }
        loop {
            items.push(self.value(depth)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.unexpected("',' or ']'")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, Error> {
        self.enter(depth)?;
        self.pos += 1; // '{'
        let mut members = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Object(members));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.unexpected("a string (member name)"));
            }
            let key = self.string()?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.unexpected("':'"));
            }
            self.pos += 1;
            let value = self.value(depth)?;
            members.push((key, value));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(members));
                }
                _ => return Err(self.unexpected("',' or '}'")),
            }
        }
    }

    /// Reads a string starting at its opening quote.
    fn string(&mut self) -> Result<String, Error> {
        self.pos += 1; // '"'
        let mut out = String::new();
        loop {
            // A run of plain bytes; '"' and '\\' are ASCII, so a run never splits a UTF-8
            // sequence and can be validated on its own.
            let start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            let run = self.input.get(start..self.pos).unwrap_or_default();
            match core::str::from_utf8(run) {
                Ok(s) => out.push_str(s),
                Err(e) => {
                    return Err(self.error_at(ErrorKind::InvalidUtf8, start + e.valid_up_to()))
                }
            }
            match self.peek() {
                None => return Err(self.error(ErrorKind::UnexpectedEnd)),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    out.push(self.escape()?);
                }
                Some(_) => return Err(self.error(ErrorKind::ControlInString)),
            }
        }
    }

    /// Decodes the escape after a backslash.
    fn escape(&mut self) -> Result<char, Error> {
        let Some(b) = self.peek() else {
            return Err(self.error(ErrorKind::UnexpectedEnd));
        };
        let c = match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let escape_at = self.pos.saturating_sub(1);
                self.pos += 1;
                let first = self.hex4()?;
                let code = match first {
                    0xd800..=0xdbff => {
                        if self.peek() != Some(b'\\')
                            || self.input.get(self.pos + 1).copied() != Some(b'u')
                        {
                            return Err(self.error_at(ErrorKind::LoneSurrogate, escape_at));
                        }
                        self.pos += 2;
                        let second = self.hex4()?;
                        if !(0xdc00..=0xdfff).contains(&second) {
                            return Err(self.error_at(ErrorKind::LoneSurrogate, escape_at));
                        }
                        0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00)
                    }
                    0xdc00..=0xdfff => {
                        return Err(self.error_at(ErrorKind::LoneSurrogate, escape_at))
                    }
                    other => other,
                };
                return char::from_u32(code)
                    .ok_or_else(|| self.error_at(ErrorKind::LoneSurrogate, escape_at));
            }
            other => return Err(self.error(ErrorKind::BadEscape(other))),
        };
        self.pos += 1;
        Ok(c)
    }

    fn hex4(&mut self) -> Result<u32, Error> {
        let mut code = 0u32;
        for _ in 0..4 {
            let digit = self
                .peek()
                .and_then(|b| char::from(b).to_digit(16))
                .ok_or_else(|| self.error(ErrorKind::BadUnicodeEscape))?;
            code = (code << 4) | digit;
            self.pos += 1;
        }
        Ok(code)
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<Number, Error> {
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let int_start = self.pos;
        let int_digits = self.digits();
        if int_digits == 0 || (int_digits > 1 && self.input.get(int_start) == Some(&b'0')) {
            return Err(self.error_at(ErrorKind::BadNumber, start));
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            integer = false;
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.error_at(ErrorKind::BadNumber, start));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            integer = false;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.error_at(ErrorKind::BadNumber, start));
            }
        }
        // Only ASCII digits, signs, '.', 'e' were consumed, so this is valid UTF-8.
        let text = self
            .input
            .get(start..self.pos)
            .and_then(|t| core::str::from_utf8(t).ok())
            .unwrap_or_default();
        if integer {
            if negative {
                if let Ok(v) = text.parse::<i64>() {
                    return Ok(Number::Negative(v));
                }
            } else if let Ok(v) = text.parse::<u64>() {
                return Ok(Number::Unsigned(v));
            }
        }
        Ok(Number::Other(text.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(s: &str) -> Result<Value, Error> {
        parse(s.as_bytes())
    }

    fn kind(s: &[u8]) -> ErrorKind {
        parse(s).unwrap_err().kind
    }

    fn escaped(s: &str) -> String {
        let mut out = String::new();
        write_str(&mut out, s);
        out
    }

    #[test]
    fn parses_every_kind_of_value() {
        let v =
            parse_str(r#" {"a": [1, -2, 3.5, 1e3, true, false, null, "x"], "b": {}} "#).unwrap();
        assert_eq!(
            v,
            Value::Object(vec![
                (
                    "a".into(),
                    Value::Array(vec![
                        Value::Number(Number::Unsigned(1)),
                        Value::Number(Number::Negative(-2)),
                        Value::Number(Number::Other("3.5".into())),
                        Value::Number(Number::Other("1e3".into())),
                        Value::Bool(true),
                        Value::Bool(false),
                        Value::Null,
                        Value::String("x".into()),
                    ])
                ),
                ("b".into(), Value::Object(vec![])),
            ])
        );
    }

    #[test]
    fn integers_stay_exact_up_to_u64_max() {
        let v = parse_str("18446744073709551615").unwrap();
        assert_eq!(v.as_u64(), Some(u64::MAX));
        // One more no longer fits an integer: kept as written, so not a counter.
        let v = parse_str("18446744073709551616").unwrap();
        assert_eq!(v.as_u64(), None);
        assert_eq!(
            v,
            Value::Number(Number::Other("18446744073709551616".into()))
        );
        let v = parse_str("-9223372036854775809").unwrap();
        assert_eq!(
            v,
            Value::Number(Number::Other("-9223372036854775809".into()))
        );
        assert_eq!(v.as_u64(), None);
        assert_eq!(parse_str("-0").unwrap().as_u64(), Some(0));
        assert_eq!(parse_str("-1").unwrap().as_u64(), None);
    }

    #[test]
    fn string_escapes_decode() {
        let v = parse_str(r#""a\"b\\c\/d\b\f\n\r\t\u00e9\u20ac\ud83d\ude00""#).unwrap();
        assert_eq!(v.as_str(), Some("a\"b\\c/d\u{8}\u{c}\n\r\té€😀"));
        // Raw UTF-8 passes through.
        assert_eq!(parse_str("\"é😀\"").unwrap().as_str(), Some("é😀"));
    }

    #[test]
    fn surrogates_must_pair() {
        assert_eq!(kind(br#""\ud83d""#), ErrorKind::LoneSurrogate);
        assert_eq!(kind(br#""\ud83dx""#), ErrorKind::LoneSurrogate);
        assert_eq!(kind(br#""\ud83d\u0041""#), ErrorKind::LoneSurrogate);
        assert_eq!(kind(br#""\ude00""#), ErrorKind::LoneSurrogate);
        assert_eq!(kind(br#""\u12g4""#), ErrorKind::BadUnicodeEscape);
        assert_eq!(kind(br#""\ud83d\u12""#), ErrorKind::BadUnicodeEscape);
    }

    #[test]
    fn rejects_what_json_does_not_allow() {
        assert_eq!(kind(b""), ErrorKind::UnexpectedEnd);
        assert_eq!(kind(b"   "), ErrorKind::UnexpectedEnd);
        assert_eq!(kind(b"[1,2"), ErrorKind::UnexpectedEnd);
        assert_eq!(kind(b"\"abc"), ErrorKind::UnexpectedEnd);
        assert_eq!(kind(b"\"a\\"), ErrorKind::UnexpectedEnd);
        assert_eq!(
            kind(b"[1,]"),
            ErrorKind::Unexpected {
                found: b']',
                expected: "a value"
            }
        );
        assert_eq!(
            kind(b"{\"a\":1,}"),
            ErrorKind::Unexpected {
                found: b'}',
                expected: "a string (member name)"
            }
        );
        assert_eq!(
            kind(b"{'a':1}"),
            ErrorKind::Unexpected {
                found: b'\'',
                expected: "a string (member name)"
            }
        );
        assert_eq!(
            kind(b"{\"a\" 1}"),
            ErrorKind::Unexpected {
                found: b'1',
                expected: "':'"
            }
        );
        assert_eq!(
            kind(b"[1 2]"),
            ErrorKind::Unexpected {
                found: b'2',
                expected: "',' or ']'"
            }
        );
        assert_eq!(
            kind(b"tru"),
            ErrorKind::UnexpectedEnd,
            "a truncated literal is an early end"
        );
        assert_eq!(
            kind(b"nul1"),
            ErrorKind::Unexpected {
                found: b'1',
                expected: "null"
            }
        );
        assert_eq!(kind(b"\"a\tb\""), ErrorKind::ControlInString);
        assert_eq!(kind(b"\"\\x\""), ErrorKind::BadEscape(b'x'));
        assert_eq!(kind(b"\"\xff\""), ErrorKind::InvalidUtf8);
        assert_eq!(kind(b"\"\xc3\""), ErrorKind::InvalidUtf8);
        for bad in [&b"01"[..], b"-", b"1.", b".5", b"1e", b"1e+", b"-01", b"+1"] {
            assert!(
                matches!(
                    kind(bad),
                    ErrorKind::BadNumber | ErrorKind::Unexpected { .. }
                ),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(kind(b"01"), ErrorKind::BadNumber);
        // Beyond any float, but JSON: kept as written (never a counter), as is any fraction.
        assert_eq!(
            parse_str("1e999").unwrap(),
            Value::Number(Number::Other("1e999".into()))
        );
        assert_eq!(
            parse_str("[-0.5E-7]").unwrap().as_array().map(<[_]>::len),
            Some(1)
        );
        assert_eq!(
            parse_str("-0.5E-7").unwrap(),
            Value::Number(Number::Other("-0.5E-7".into()))
        );
        assert_eq!(kind(b"{} x"), ErrorKind::TrailingData);
        assert_eq!(kind(b"1 2"), ErrorKind::TrailingData);
        assert_eq!(
            kind(b"NaN"),
            ErrorKind::Unexpected {
                found: b'N',
                expected: "a value"
            }
        );
    }

    #[test]
    fn depth_is_limited_without_recursing_into_the_stack() {
        let ok = "[".repeat(STATUS_JSON_MAX_DEPTH) + &"]".repeat(STATUS_JSON_MAX_DEPTH);
        assert!(parse_str(&ok).is_ok());
        let deep = "[".repeat(STATUS_JSON_MAX_DEPTH + 1) + &"]".repeat(STATUS_JSON_MAX_DEPTH + 1);
        assert_eq!(parse_str(&deep).unwrap_err().kind, ErrorKind::TooDeep);
        // Far deeper input fails at the limit instead of overflowing the stack.
        let hostile = "[{\"a\":".repeat(200_000);
        assert_eq!(parse_str(&hostile).unwrap_err().kind, ErrorKind::TooDeep);
    }

    #[test]
    fn error_position_is_line_and_column() {
        let e = parse_str("{\n  \"a\": 1,\n  \"b\" 2\n}").unwrap_err();
        assert_eq!((e.line, e.column, e.offset), (3, 7, 18));
        assert_eq!(e.to_string(), "line 3, column 7: found '2', expected ':'");
        let e = parse(b"[\"ok\", \"\x01\"]").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 1, column 9: unescaped control character in a string"
        );
        let e = parse(b"[\"ab\xfe\"]").unwrap_err();
        assert_eq!((e.kind, e.column), (ErrorKind::InvalidUtf8, 5));
    }

    #[test]
    fn writer_escapes_quotes_backslashes_and_controls() {
        assert_eq!(escaped("plain é"), "\"plain é\"");
        assert_eq!(escaped("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(escaped("\n\r\t\u{8}\u{c}"), r#""\n\r\t\b\f""#);
        assert_eq!(escaped("\u{0}\u{1b}[31m"), r#""\u0000\u001b[31m""#);
        assert_eq!(escaped("\u{7f}\u{85}"), r#""\u007f\u0085""#);
        assert_eq!(escaped("😀"), "\"😀\"");
    }

    #[test]
    fn writer_replaces_invalid_utf8() {
        let mut out = String::new();
        write_bytes(&mut out, b"ok\xff\xfe-\xc3(\xe2\x82\xac");
        assert_eq!(out, "\"ok\u{fffd}\u{fffd}-\u{fffd}(€\"");
    }

    #[test]
    fn value_write_round_trips() {
        let text = r#"{"a":[1,-2,0.25,true,false,null,"\u0001\"x"],"b":{"c":[]}}"#;
        let v = parse_str(text).unwrap();
        let mut out = String::new();
        v.write(&mut out);
        assert_eq!(out, text);
        assert_eq!(parse_str(&out).unwrap(), v);
    }
}
