//! plugin_stripheader (behaviour §8.2): removes headers from every forwarded message, by name
//! (`plugin_stripheader_remove = Name`: every line of it) or only the comma-separated
//! elements whose whole value equals a given one, ignoring case (`Name:value`; a line left
//! without elements goes). Names match ignoring case, compact forms included.

use std::fmt::Write as _;

use super::{BuildError, Ctx, Plugin, PluginEdits};
use crate::config::Config;
use crate::sip::{Header, HeaderName};

#[derive(Debug)]
struct Rule {
    kind: HeaderName,
    name: String,
    value: Option<String>,
}

impl Rule {
    fn names(&self, h: &Header<'_>) -> bool {
        match self.kind {
            HeaderName::Other => h.name.eq_ignore_ascii_case(self.name.as_bytes()),
            k => h.kind == k,
        }
    }
}

#[derive(Debug)]
pub struct StripHeader {
    rules: Vec<Rule>,
}

pub fn build(cfg: &Config) -> Result<Box<dyn Plugin>, BuildError> {
    let mut rules = Vec::new();
    for (i, entry) in cfg.plugins.plugin_stripheader_remove.iter().enumerate() {
        let (name, value) = match entry.split_once(':') {
            Some((n, v)) => (n.trim(), Some(v.trim())),
            None => (entry.trim(), None),
        };
        let bad = |b: u8| b <= b' ' || b == b',' || b >= 0x7f;
        if name.is_empty() || name.bytes().any(bad) || value == Some("") {
            return Err(BuildError::at(
                "plugin_stripheader_remove",
                i,
                format!(
                    "{} is not Header or Header:value",
                    crate::logging::Quoted(entry)
                ),
            ));
        }
        rules.push(Rule {
            kind: HeaderName::from_bytes(name.as_bytes()),
            name: name.to_string(),
            value: value.map(str::to_string),
        });
    }
    Ok(Box::new(StripHeader { rules }))
}

impl Plugin for StripHeader {
    fn name(&self) -> &'static str {
        "stripheader"
    }

    fn pre_proxy(&mut self, ctx: &Ctx<'_, '_>, edits: &mut PluginEdits) {
        for h in ctx.msg.headers() {
            if !self.rules.iter().any(|r| r.names(&h)) {
                continue;
            }
            // A bare name removes the line; else the values named go (no list is built:
            // the rules are walked again per element).
            if self.rules.iter().any(|r| r.value.is_none() && r.names(&h)) {
                edits.remove_headers.push(h.index);
                continue;
            }
            let stripped = |e: &[u8]| {
                self.rules.iter().any(|r| {
                    r.names(&h)
                        && r.value
                            .as_ref()
                            .is_some_and(|v| e.eq_ignore_ascii_case(v.as_bytes()))
                })
            };
            // One edit per line: the kept elements replace the value (or the line goes).
            if !h.values().any(stripped) {
                continue;
            }
            if h.values().all(stripped) {
                edits.remove_headers.push(h.index);
                continue;
            }
            edits.replace(ctx.msg, h.value, |text| {
                for (i, e) in h.values().filter(|e| !stripped(e)).enumerate() {
                    if i > 0 {
                        text.push_str(", ");
                    }
                    // Into the buffer's room: String's fmt::Write allocates only to grow.
                    let _ = write!(text, "{}", crate::logging::Lossy(e));
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::tests::with_ctx;

    fn plugin(entries: &[&str]) -> Result<Box<dyn Plugin>, BuildError> {
        let mut cfg = Config::default();
        cfg.plugins.plugin_stripheader_remove = entries.iter().map(|s| s.to_string()).collect();
        build(&cfg)
    }

    const MSG: &str = "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKp1\r\nFrom: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: c1@h\r\nCSeq: 1 INVITE\r\nAllow: INVITE, ACK, bye, UPDATE\r\nX-Secret: a\r\nx-secret: b\r\nSupported: timer\r\nContent-Length: 0\r\n\r\n";

    /// The header lines removed and the values replaced, as text.
    fn strip(entries: &[&str], text: &str) -> (Vec<String>, Vec<(String, String)>) {
        let mut p = plugin(entries).unwrap();
        let mut out = (Vec::new(), Vec::new());
        with_ctx(text, |ctx| {
            let mut e = PluginEdits::default();
            p.pre_proxy(ctx, &mut e);
            for &i in &e.remove_headers {
                let line = ctx.msg.header(i).unwrap().line;
                out.0
                    .push(String::from_utf8_lossy(line).trim_end().to_string());
            }
            for (old, new) in e.replacements() {
                let old = &ctx.msg.buffer()[old];
                out.1
                    .push((String::from_utf8_lossy(old).into_owned(), new.to_string()));
            }
        });
        out
    }

    #[test]
    fn a_name_removes_every_instance_ignoring_case() {
        let (removed, replaced) = strip(&["X-SECRET"], MSG);
        assert_eq!(removed, ["X-Secret: a", "x-secret: b"]);
        assert!(replaced.is_empty());
        // Compact forms are the same header.
        let compact = MSG.replace("Supported: timer", "k: timer");
        let (removed, _) = strip(&["supported"], &compact);
        assert_eq!(removed, ["k: timer"]);
    }

    #[test]
    fn a_value_removes_only_equal_elements() {
        let (removed, replaced) = strip(&["Allow:BYE", "allow: update"], MSG);
        assert!(removed.is_empty());
        assert_eq!(
            replaced,
            [(
                "INVITE, ACK, bye, UPDATE".to_string(),
                "INVITE, ACK".to_string()
            )]
        );
        // Only whole values: "a" is not a part of "ab".
        let (removed, _) = strip(&["X-Secret:B"], MSG);
        assert_eq!(removed, ["x-secret: b"]);
        let (removed, replaced) = strip(&["Supported:time"], MSG);
        assert!(removed.is_empty() && replaced.is_empty());
        // A bare name wins over a value for the same header.
        let (removed, replaced) = strip(&["Allow:ACK", "Allow"], MSG);
        assert_eq!(removed, ["Allow: INVITE, ACK, bye, UPDATE"]);
        assert!(replaced.is_empty());
    }

    #[test]
    fn bad_entries_are_errors_naming_the_directive() {
        for bad in ["", ":x", "X-A:", "Two words"] {
            let e = plugin(&[bad]).unwrap_err().to_string();
            assert!(e.contains("plugin_stripheader_remove"), "{e}");
        }
        assert!(plugin(&["Allow: INVITE"]).is_ok());
    }
}
