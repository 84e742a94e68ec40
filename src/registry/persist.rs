//! Registration file format (decisions §7; siproxd's format behaviour §6 is read for
//! migration). Text in, text out: the caller does the file I/O (atomic write, read at start).
//!
//! Current format, one line per live binding after a version line:
//!
//! ```text
//! siproxd-rs-registrations 1
//! # reg_url masq_url true_url source expires
//! sip:alice@example.com sip:alice@203.0.113.5 sip:alice@192.168.1.10:5060 192.168.1.10:5060 1795000000
//! ```
//!
//! Fields are separated by one space; inside a field every byte that is not printable ASCII,
//! and `%` itself, is written `%XX`, so no value can split a line or a field. `expires` is
//! absolute Unix seconds. Lines starting with `#` and blank lines are ignored.

use core::fmt::{self, Write as _};
use std::net::SocketAddr;

use super::{Binding, BindingState, Entry, Registry, Uri, UriError};
use crate::limits::URI_SIZE;
use crate::logging::REG;

/// First word of the version line.
pub const HEADER: &str = "siproxd-rs-registrations";
/// The format version written.
pub const VERSION: u32 = 1;
const LEGACY_MARK: &str = "****:";

/// One live binding as saved: everything needed to route an incoming call after a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedBinding {
    pub reg_url: Uri,
    pub masq_url: Uri,
    pub true_url: Uri,
    pub source: SocketAddr,
    /// Absolute expiry, Unix seconds.
    pub expires_unix: u64,
}

/// Why a line of a registration file was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadProblem {
    /// The first line is neither our version line nor a siproxd `****:` record.
    UnknownFormat,
    UnsupportedVersion,
    /// A record does not have the 5 fields.
    FieldCount(usize),
    /// A `%` not followed by two hex digits.
    BadEscape,
    /// A field is longer than any URI a slot can hold.
    FieldTooLong,
    /// A field decodes to bytes that are not UTF-8.
    NotUtf8,
    BadUri {
        field: &'static str,
        error: UriError,
    },
    BadSource,
    BadExpiry,
    /// siproxd format: a line where a `****:<active>:<expires>` record was expected.
    LegacyBadRecord,
    /// siproxd format: an active record without its three URI lines.
    LegacyTruncated,
    /// siproxd format: an active record with an empty URI line.
    LegacyEmptyUri(&'static str),
    /// siproxd format (which has no source address): the contact host is not an IP address,
    /// so no address to route to can be derived.
    LegacyNoSource,
}

impl fmt::Display for LoadProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadProblem::UnknownFormat => {
                write!(f, "not a registration file (expected `{HEADER} {VERSION}`)")
            }
            LoadProblem::UnsupportedVersion => {
                write!(f, "unsupported format version (this build reads {VERSION})")
            }
            LoadProblem::FieldCount(n) => write!(f, "{n} fields, expected 5"),
            LoadProblem::BadEscape => f.write_str("bad %-escape"),
            LoadProblem::FieldTooLong => write!(f, "field longer than {URI_SIZE} bytes"),
            LoadProblem::NotUtf8 => f.write_str("field is not UTF-8"),
            LoadProblem::BadUri { field, error } => write!(f, "{field}: {error}"),
            LoadProblem::BadSource => f.write_str("source is not an IP address and port"),
            LoadProblem::BadExpiry => f.write_str("expiry is not a number of Unix seconds"),
            LoadProblem::LegacyBadRecord => {
                f.write_str("expected a `****:<active>:<expires>` record")
            }
            LoadProblem::LegacyTruncated => f.write_str("record ends before its three URI lines"),
            LoadProblem::LegacyEmptyUri(field) => write!(f, "{field} is empty"),
            LoadProblem::LegacyNoSource => {
                f.write_str("contact host is not an IP address, no source address to route to")
            }
        }
    }
}

/// A skipped record: 1-based line number and reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadWarning {
    pub line: usize,
    pub problem: LoadProblem,
}

impl fmt::Display for LoadWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.problem)
    }
}

/// Result of parsing a registration file: the good records and one warning per bad one.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub records: Vec<SavedBinding>,
    pub warnings: Vec<LoadWarning>,
    /// The file was in siproxd's `****:` format.
    pub legacy: bool,
}

/// What [`Registry::restore`] did with the records.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RestoreReport {
    pub restored: usize,
    /// Already expired at load time.
    pub expired: usize,
    /// No room (table full, or more contacts for one AOR than fit).
    pub dropped: usize,
}

/// Escapes what passes through it, so a `Display` value can be written as one field.
struct Escaper<'a, W: fmt::Write>(&'a mut W);

impl<W: fmt::Write> fmt::Write for Escaper<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            if b.is_ascii_graphic() && b != b'%' {
                self.0.write_char(char::from(b))?;
            } else {
                write!(self.0, "%{b:02X}")?;
            }
        }
        Ok(())
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn unescape(field: &str) -> Result<heapless::Vec<u8, URI_SIZE>, LoadProblem> {
    let mut out = heapless::Vec::new();
    let mut bytes = field.bytes();
    while let Some(b) = bytes.next() {
        let b = if b == b'%' {
            let hi = bytes.next().and_then(hex).ok_or(LoadProblem::BadEscape)?;
            let lo = bytes.next().and_then(hex).ok_or(LoadProblem::BadEscape)?;
            hi << 4 | lo
        } else {
            b
        };
        out.push(b).map_err(|_| LoadProblem::FieldTooLong)?;
    }
    Ok(out)
}

fn parse_uri_field(field: &str, name: &'static str) -> Result<Uri, LoadProblem> {
    let bytes = unescape(field)?;
    let text = core::str::from_utf8(&bytes).map_err(|_| LoadProblem::NotUtf8)?;
    Uri::parse(text).map_err(|error| LoadProblem::BadUri { field: name, error })
}

fn parse_record(line: &str) -> Result<SavedBinding, LoadProblem> {
    let mut fields = line.split_ascii_whitespace();
    let (Some(reg), Some(masq), Some(contact), Some(source), Some(expires), None) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) else {
        return Err(LoadProblem::FieldCount(
            line.split_ascii_whitespace().count(),
        ));
    };
    Ok(SavedBinding {
        reg_url: parse_uri_field(reg, "reg_url")?,
        masq_url: parse_uri_field(masq, "masq_url")?,
        true_url: parse_uri_field(contact, "true_url")?,
        source: source.parse().map_err(|_| LoadProblem::BadSource)?,
        expires_unix: expires.parse().map_err(|_| LoadProblem::BadExpiry)?,
    })
}

/// Parses a registration file in the current or in siproxd's format. Never fails: bad
/// records are skipped and reported in [`Loaded::warnings`].
pub fn parse_saved(text: &str) -> Loaded {
    let mut loaded = Loaded::default();
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i.saturating_add(1), l));
    let Some((_, first)) = lines.clone().find(|(_, l)| !l.trim().is_empty()) else {
        return loaded;
    };
    if first.starts_with(LEGACY_MARK) {
        loaded.legacy = true;
        parse_legacy(lines, &mut loaded);
        return loaded;
    }
    let Some((header_line, header)) = lines.find(|(_, l)| !l.trim().is_empty()) else {
        return loaded;
    };
    let mut words = header.split_ascii_whitespace();
    if words.next() != Some(HEADER) {
        loaded.warnings.push(LoadWarning {
            line: header_line,
            problem: LoadProblem::UnknownFormat,
        });
        return loaded;
    }
    if words.next().and_then(|v| v.parse::<u32>().ok()) != Some(VERSION) || words.next().is_some() {
        loaded.warnings.push(LoadWarning {
            line: header_line,
            problem: LoadProblem::UnsupportedVersion,
        });
        return loaded;
    }
    for (n, line) in lines {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match parse_record(line) {
            Ok(rec) => loaded.records.push(rec),
            Err(problem) => loaded.warnings.push(LoadWarning { line: n, problem }),
        }
    }
    loaded
}

fn legacy_record(line: &str) -> Option<(bool, Option<u64>)> {
    let rest = line.strip_prefix(LEGACY_MARK)?;
    let (active, expires) = rest.split_once(':')?;
    let active = match active.trim() {
        "0" => false,
        "1" => true,
        _ => return None,
    };
    let expires = expires.trim();
    // Inactive slots carry stale, possibly negative values; only active ones need a time.
    let parsed = expires.parse::<u64>().ok();
    if parsed.is_none() && expires.parse::<i64>().is_err() {
        return None;
    }
    Some((active, parsed))
}

fn parse_legacy<'a>(lines: impl Iterator<Item = (usize, &'a str)>, loaded: &mut Loaded) {
    let mut lines = lines.peekable();
    while let Some((n, line)) = lines.next() {
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            continue;
        }
        let warn = |loaded: &mut Loaded, line: usize, problem| {
            loaded.warnings.push(LoadWarning { line, problem });
        };
        let Some((active, expires)) = legacy_record(line) else {
            warn(loaded, n, LoadProblem::LegacyBadRecord);
            continue;
        };
        if !active {
            continue;
        }
        // true_url, masq_url, reg_url follow; a new record line means this one is cut short.
        let mut uris: [Option<(usize, &str)>; 3] = [None; 3];
        for slot in uris.iter_mut() {
            match lines.peek() {
                Some((_, l)) if !l.starts_with(LEGACY_MARK) => {
                    *slot = lines
                        .next()
                        .map(|(n, l)| (n, l.trim_end_matches(['\r', '\n'])));
                }
                _ => break,
            }
        }
        let [Some(t), Some(m), Some(r)] = uris else {
            warn(loaded, n, LoadProblem::LegacyTruncated);
            continue;
        };
        let parse = |(line, text): (usize, &str), field: &'static str| {
            let text = text.trim();
            if text.is_empty() {
                return Err(LoadWarning {
                    line,
                    problem: LoadProblem::LegacyEmptyUri(field),
                });
            }
            Uri::parse(text).map_err(|error| LoadWarning {
                line,
                problem: LoadProblem::BadUri { field, error },
            })
        };
        let record = (|| {
            let true_url = parse(t, "true_url")?;
            let masq_url = parse(m, "masq_url")?;
            let reg_url = parse(r, "reg_url")?;
            let expires_unix = expires.ok_or(LoadWarning {
                line: n,
                problem: LoadProblem::BadExpiry,
            })?;
            let ip = true_url.host_ip().ok_or(LoadWarning {
                line: t.0,
                problem: LoadProblem::LegacyNoSource,
            })?;
            let source = SocketAddr::new(ip, true_url.port_or_default());
            Ok(SavedBinding {
                reg_url,
                masq_url,
                true_url,
                source,
                expires_unix,
            })
        })();
        match record {
            Ok(rec) => loaded.records.push(rec),
            Err(w) => loaded.warnings.push(w),
        }
    }
}

impl Registry {
    /// Writes every live, unexpired binding in the current format. `unix_now` is the wall
    /// clock at the same instant as `now`, to store absolute expiry times.
    pub fn save<W: fmt::Write>(&self, now: u64, unix_now: u64, out: &mut W) -> fmt::Result {
        writeln!(out, "{HEADER} {VERSION}")?;
        writeln!(out, "# reg_url masq_url true_url source expires")?;
        for (_, entry) in self.iter() {
            for b in entry.live_bindings(now) {
                let left = b.expires.saturating_sub(now);
                write!(Escaper(out), "{}", entry.reg_url)?;
                out.write_char(' ')?;
                write!(Escaper(out), "{}", entry.masq_url)?;
                out.write_char(' ')?;
                write!(Escaper(out), "{}", b.true_url)?;
                writeln!(out, " {} {}", b.source, unix_now.saturating_add(left))?;
            }
        }
        Ok(())
    }

    /// Adds loaded bindings as live ones. Records already expired at `unix_now` are skipped;
    /// records for an AOR already in the table join its slot.
    pub fn restore(&mut self, now: u64, unix_now: u64, saved: &[SavedBinding]) -> RestoreReport {
        let mut report = RestoreReport::default();
        for rec in saved {
            let Some(left) = rec.expires_unix.checked_sub(unix_now).filter(|l| *l > 0) else {
                report.expired = report.expired.saturating_add(1);
                continue;
            };
            let slot = match self.find_aor(&rec.reg_url) {
                Some(slot) => Some(slot),
                None => self
                    .occupy(Entry {
                        reg_url: rec.reg_url.clone(),
                        masq_url: rec.masq_url.clone(),
                        bindings: heapless::Vec::new(),
                    })
                    .ok(),
            };
            let binding = Binding {
                true_url: rec.true_url.clone(),
                source: rec.source,
                expires: now.saturating_add(left),
                state: BindingState::Live,
                updated: now,
            };
            let entry = slot.and_then(|s| self.entry_mut(s));
            let stored = match entry {
                Some(e) => match e
                    .bindings
                    .iter_mut()
                    .find(|b| b.true_url.same_url(&rec.true_url))
                {
                    Some(existing) => {
                        if existing.expires < binding.expires {
                            *existing = binding;
                        }
                        true
                    }
                    None => e.bindings.push(binding).is_ok(),
                },
                None => false,
            };
            if stored {
                report.restored = report.restored.saturating_add(1);
            } else {
                report.dropped = report.dropped.saturating_add(1);
            }
        }
        self.changed();
        log::debug!(
            target: REG,
            "restored {} registrations ({} expired, {} dropped)",
            report.restored,
            report.expired,
            report.dropped
        );
        report
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn escaper_escapes_space_percent_and_controls() {
        let mut s = String::new();
        write!(Escaper(&mut s), "a b%c\n\u{e9}").unwrap();
        assert_eq!(s, "a%20b%25c%0A%C3%A9");
        assert_eq!(&unescape(&s).unwrap()[..], "a b%c\n\u{e9}".as_bytes());
        assert_eq!(unescape("a%2"), Err(LoadProblem::BadEscape));
        assert_eq!(unescape("a%zz"), Err(LoadProblem::BadEscape));
        assert_eq!(
            unescape(&"x".repeat(URI_SIZE + 1)),
            Err(LoadProblem::FieldTooLong)
        );
    }

    #[test]
    fn legacy_record_line() {
        assert_eq!(
            legacy_record("****:1:1795000000"),
            Some((true, Some(1795000000)))
        );
        assert_eq!(legacy_record("****:0:-5"), Some((false, None)));
        assert_eq!(legacy_record("****:2:5"), None);
        assert_eq!(legacy_record("****:1:x"), None);
        assert_eq!(legacy_record("sip:a@b"), None);
    }
}
