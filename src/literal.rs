//! A small, strict parser for the subset of Python literals that NPY headers
//! use: strings, integers, `True`/`False`/`None`, tuples, lists and dicts.
//!
//! It never evaluates anything, never panics, bounds nesting depth, and
//! allocates at most in proportion to its input.

use crate::error::{Error, Location, Result};

/// Maximum nesting depth of tuples/lists/dicts.
pub const MAX_DEPTH: usize = 32;

/// A parsed Python literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A `str` literal (already unescaped).
    Str(String),
    /// An integer literal.
    Int(i128),
    /// `True` or `False`.
    Bool(bool),
    /// `None`.
    None,
    /// `( ... )`
    Tuple(Vec<Value>),
    /// `[ ... ]`
    List(Vec<Value>),
    /// `{ k: v, ... }` in source order.
    Dict(Vec<(Value, Value)>),
}

impl Value {
    /// A short name of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "str",
            Value::Int(_) => "int",
            Value::Bool(_) => "bool",
            Value::None => "None",
            Value::Tuple(_) => "tuple",
            Value::List(_) => "list",
            Value::Dict(_) => "dict",
        }
    }
}

/// Parses one literal spanning all of `src` (surrounding whitespace allowed).
/// `err` builds the error for a message and an offset into `src`.
pub fn parse(src: &str, err: &dyn Fn(String, u64) -> Error) -> Result<Value> {
    let mut p = Parser {
        s: src.as_bytes(),
        src,
        pos: 0,
        err,
    };
    p.ws();
    let v = p.value(0)?;
    p.ws();
    if p.pos != p.s.len() {
        return Err(p.fail("unexpected text after the literal"));
    }
    Ok(v)
}

/// An error builder for header-level parsing.
pub fn header_error(reason: String, offset: u64) -> Error {
    Error::InvalidHeader {
        reason,
        at: Location::offset(offset),
    }
}

/// An error builder for descriptor parsing.
pub fn descr_error(reason: String, offset: u64) -> Error {
    Error::InvalidDescr {
        reason,
        at: Location::offset(offset),
    }
}

struct Parser<'s> {
    s: &'s [u8],
    src: &'s str,
    pos: usize,
    err: &'s dyn Fn(String, u64) -> Error,
}

impl Parser<'_> {
    fn fail(&self, msg: &str) -> Error {
        (self.err)(msg.to_string(), self.pos as u64)
    }

    fn ws(&mut self) {
        while let Some(&c) = self.s.get(self.pos) {
            if c == b' ' || c == b'\t' || c == b'\n' || c == b'\r' {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn value(&mut self, depth: usize) -> Result<Value> {
        if depth > MAX_DEPTH {
            return Err(self.fail("literal nested too deeply"));
        }
        match self.peek() {
            None => Err(self.fail("unexpected end of literal")),
            Some(quote @ (b'\'' | b'"')) => self.string(quote).map(Value::Str),
            Some(b'(') => {
                let (items, trailing) = self.seq(b')', depth)?;
                // `(x)` is just x in Python; `(x,)` is a 1-tuple.
                match <[Value; 1]>::try_from(items) {
                    Ok([single]) if !trailing => Ok(single),
                    Ok(one) => Ok(Value::Tuple(one.into())),
                    Err(items) => Ok(Value::Tuple(items)),
                }
            }
            Some(b'[') => Ok(Value::List(self.seq(b']', depth)?.0)),
            Some(b'{') => self.dict(depth),
            Some(c) if c == b'-' || c == b'+' || c.is_ascii_digit() => self.int(),
            Some(c) if c.is_ascii_alphabetic() => {
                let start = self.pos;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
                {
                    self.pos += 1;
                }
                match &self.src[start..self.pos] {
                    "True" => Ok(Value::Bool(true)),
                    "False" => Ok(Value::Bool(false)),
                    "None" => Ok(Value::None),
                    _ => {
                        self.pos = start;
                        Err(self.fail("unknown name in literal"))
                    }
                }
            }
            Some(_) => Err(self.fail("unexpected character in literal")),
        }
    }

    /// Parses `open item, item, ... close`; returns items and whether a
    /// trailing comma was present.
    fn seq(&mut self, close: u8, depth: usize) -> Result<(Vec<Value>, bool)> {
        self.pos += 1; // opening bracket
        let mut items = Vec::new();
        let mut trailing = false;
        loop {
            self.ws();
            if self.peek() == Some(close) {
                self.pos += 1;
                return Ok((items, trailing));
            }
            items.push(self.value(depth + 1)?);
            self.ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    trailing = true;
                }
                Some(c) if c == close => {
                    self.pos += 1;
                    return Ok((items, false));
                }
                _ => return Err(self.fail("expected ',' or closing bracket")),
            }
        }
    }

    fn dict(&mut self, depth: usize) -> Result<Value> {
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.ws();
            if self.peek() == Some(b'}') {
                self.pos += 1;
                return Ok(Value::Dict(items));
            }
            let k = self.value(depth + 1)?;
            self.ws();
            if self.peek() != Some(b':') {
                return Err(self.fail("expected ':' in dict"));
            }
            self.pos += 1;
            self.ws();
            let v = self.value(depth + 1)?;
            items.push((k, v));
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Dict(items));
                }
                _ => return Err(self.fail("expected ',' or '}' in dict")),
            }
        }
    }

    fn int(&mut self) -> Result<Value> {
        let start = self.pos;
        let neg = match self.peek() {
            Some(b'-') => {
                self.pos += 1;
                true
            }
            Some(b'+') => {
                self.pos += 1;
                false
            }
            _ => false,
        };
        let digits_start = self.pos;
        let mut v: i128 = 0;
        while let Some(c) = self.peek() {
            if c.is_ascii_digit() {
                v = v
                    .checked_mul(10)
                    .and_then(|v| v.checked_add(i128::from(c - b'0')))
                    .ok_or_else(|| self.fail("integer literal too large"))?;
                self.pos += 1;
            } else if c == b'_' && self.pos > digits_start {
                self.pos += 1;
            } else {
                break;
            }
        }
        if self.pos == digits_start {
            self.pos = start;
            return Err(self.fail("expected digits"));
        }
        // Python 2 long suffix, found in very old files.
        if matches!(self.peek(), Some(b'L') | Some(b'l')) {
            self.pos += 1;
        }
        Ok(Value::Int(if neg { -v } else { v }))
    }

    /// A string literal; `self.pos` is at its opening `quote`.
    fn string(&mut self, quote: u8) -> Result<String> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.fail("unterminated string"));
            };
            if c == quote {
                self.pos += 1;
                return Ok(out);
            }
            if c == b'\n' {
                return Err(self.fail("newline in string"));
            }
            if c == b'\\' {
                self.pos += 1;
                let Some(e) = self.peek() else {
                    return Err(self.fail("unterminated escape"));
                };
                self.pos += 1;
                match e {
                    b'\\' => out.push('\\'),
                    b'\'' => out.push('\''),
                    b'"' => out.push('"'),
                    b'n' => out.push('\n'),
                    b't' => out.push('\t'),
                    b'r' => out.push('\r'),
                    b'0' => out.push('\0'),
                    b'x' => out.push(self.hex_escape(2)?),
                    b'u' => out.push(self.hex_escape(4)?),
                    b'U' => out.push(self.hex_escape(8)?),
                    _ => return Err(self.fail("unsupported escape in string")),
                }
                continue;
            }
            // Copy one UTF-8 character.
            let rest = &self.src[self.pos..];
            let Some(ch) = rest.chars().next() else {
                return Err(self.fail("unterminated string"));
            };
            out.push(ch);
            self.pos += ch.len_utf8();
        }
    }

    fn hex_escape(&mut self, n: usize) -> Result<char> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.s.len())
            .ok_or_else(|| self.fail("truncated escape"))?;
        let hex = self
            .src
            .get(self.pos..end)
            .ok_or_else(|| self.fail("bad escape"))?;
        let v = u32::from_str_radix(hex, 16).map_err(|_| self.fail("bad hex escape"))?;
        self.pos = end;
        char::from_u32(v).ok_or_else(|| self.fail("escape is not a valid character"))
    }
}

/// Formats a string the way Python's `repr(str)` does.
pub fn py_repr_str(s: &str, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if !py_printable(c) => {
                let v = c as u32;
                if v < 0x100 {
                    out.push_str(&format!("\\x{v:02x}"));
                } else if v < 0x10000 {
                    out.push_str(&format!("\\u{v:04x}"));
                } else {
                    out.push_str(&format!("\\U{v:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

/// An approximation of Python's `str.isprintable` for single characters:
/// exact for ASCII and Latin-1, and for the common non-printable classes
/// (controls, separators, format characters, surrogates, private use).
fn py_printable(c: char) -> bool {
    let v = c as u32;
    match v {
        0x20..=0x7e => true,
        0..=0x1f | 0x7f..=0xa0 | 0xad => false,
        0x1680 | 0x2000..=0x200f | 0x2028..=0x202f | 0x205f..=0x206f | 0x3000 | 0xfeff => false,
        0xd800..=0xdfff | 0xe000..=0xf8ff | 0xfff9..=0xfffb => false,
        0xf0000.. => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Value> {
        parse(s, &header_error)
    }

    #[test]
    fn parses_header_dict() {
        let v = p("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }").unwrap();
        let Value::Dict(items) = v else { panic!() };
        assert_eq!(items.len(), 3);
        assert_eq!(items[2].1, Value::Tuple(vec![Value::Int(3), Value::Int(4)]));
    }

    #[test]
    fn one_tuples_and_parens() {
        assert_eq!(p("(5,)").unwrap(), Value::Tuple(vec![Value::Int(5)]));
        assert_eq!(p("(5)").unwrap(), Value::Int(5));
        assert_eq!(p("()").unwrap(), Value::Tuple(vec![]));
        assert_eq!(
            p("(3L, 4L)").unwrap(),
            Value::Tuple(vec![Value::Int(3), Value::Int(4)])
        );
    }

    #[test]
    fn strings_and_escapes() {
        assert_eq!(p(r#""it's""#).unwrap(), Value::Str("it's".into()));
        assert_eq!(p(r"'a\'b\x41\u00e9'").unwrap(), Value::Str("a'bAé".into()));
        assert!(p("'abc").is_err());
    }

    #[test]
    fn rejects_garbage_without_panic() {
        for s in [
            "",
            "{",
            "{'a' 1}",
            "[1,,2]",
            "abc",
            "((((",
            "99999999999999999999999999999999999999999",
            "'\\x4'",
        ] {
            assert!(p(s).is_err(), "{s}");
        }
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert!(matches!(p(&deep), Err(Error::InvalidHeader { .. })));
    }

    #[test]
    fn repr_matches_python() {
        let mut s = String::new();
        py_repr_str("it's", &mut s);
        assert_eq!(s, "\"it's\"");
        s.clear();
        py_repr_str("a\"b'c\\\n", &mut s);
        assert_eq!(s, "'a\"b\\'c\\\\\\n'");
        s.clear();
        py_repr_str("é\u{1}", &mut s);
        assert_eq!(s, "'é\\x01'");
    }
}
