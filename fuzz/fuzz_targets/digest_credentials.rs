//! `Proxy-Authorization` value parser (`auth::Credentials::parse`).
//!
//! Invariants: every field is a slice of the input; the scheme is matched without regard to
//! case; writing the parsed fields back as `Digest name="value", ...` and parsing again gives
//! the same fields (where a value can be written as a quoted string unchanged).
#![no_main]

use libfuzzer_sys::fuzz_target;
use siproxd_rs::auth::{Credentials, CredentialsError};

#[path = "common/mod.rs"]
mod common;
use common::within;

fuzz_target!(|data: &[u8]| {
    let c = match Credentials::parse(data) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.to_string();
            if std::str::from_utf8(data).is_err() {
                assert_eq!(e, CredentialsError::NotUtf8);
            }
            return;
        }
    };
    let fields = fields(&c);
    for (_, v) in &fields {
        if let Some(v) = v {
            assert!(
                within(data, v.as_bytes()),
                "field is not a slice of the input"
            );
        }
    }

    // The scheme is case-insensitive: flipping its case changes nothing.
    let text = std::str::from_utf8(data).expect("parsed input is UTF-8");
    let start = text.len() - text.trim_start().len();
    let mut flipped = data.to_vec();
    for b in &mut flipped[start..start + 6] {
        *b ^= 0x20;
    }
    assert_eq!(
        Credentials::parse(&flipped).map(|f| fields_owned(&f)),
        Ok(owned(&fields))
    );

    // Round trip through a canonical quoted form.
    if fields.iter().all(|(_, v)| v.is_none_or(quotable)) {
        let mut canon = String::from("Digest ");
        let mut first = true;
        for (name, v) in &fields {
            if let Some(v) = v {
                if !first {
                    canon.push_str(", ");
                }
                first = false;
                canon.push_str(&format!("{name}=\"{v}\""));
            }
        }
        if first {
            return; // "Digest " alone: nothing to write back
        }
        let again = Credentials::parse(canon.as_bytes())
            .unwrap_or_else(|e| panic!("canonical form {canon:?} rejected: {e:?}"));
        assert_eq!(
            fields_owned(&again),
            owned(&fields),
            "canonical form {canon:?}"
        );
    }
});

/// A value that reads back unchanged from `"value"`: no quote, and backslashes only as whole
/// escape pairs (the parser returns quoted values raw, escapes included).
fn quotable(v: &str) -> bool {
    let b = v.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => return false,
            b'\\' if i + 1 >= b.len() => return false,
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    true
}

type Fields<'a> = [(&'static str, Option<&'a str>); 10];

fn fields<'a>(c: &Credentials<'a>) -> Fields<'a> {
    [
        ("username", c.username),
        ("realm", c.realm),
        ("nonce", c.nonce),
        ("uri", c.uri),
        ("response", c.response),
        ("algorithm", c.algorithm),
        ("qop", c.qop),
        ("nc", c.nc),
        ("cnonce", c.cnonce),
        ("opaque", c.opaque),
    ]
}

fn owned(f: &Fields<'_>) -> Vec<Option<String>> {
    f.iter().map(|(_, v)| v.map(str::to_string)).collect()
}

fn fields_owned(c: &Credentials<'_>) -> Vec<Option<String>> {
    owned(&fields(c))
}
