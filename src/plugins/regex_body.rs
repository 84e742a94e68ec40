//! plugin_regex_body (behaviour §8.2): the rules `plugin_regex_body_desc/_pattern/_replace`
//! rewrite the body of every message, in any direction, before the proxy's own SDP rewrite
//! (the "fix" stage). Every matching rule applies, each up to 10 times; Content-Length follows.
//! siproxd's defect is fixed: nothing is truncated. A body the rules cannot be applied to
//! (not UTF-8, a NUL byte, a result larger than a message may be) is left unchanged with a
//! warning.

use super::regex::{Regex, Scratch};
use super::{BuildError, Ctx, Plugin};
use crate::config::Config;
use crate::logging::Quoted;
use crate::sip::Editor;

/// Times one rule is applied to one body (siproxd's limit; it stops a rule whose replacement
/// matches again).
const PASSES: usize = 10;

#[derive(Debug)]
struct Rule {
    desc: String,
    re: Regex,
    replace: String,
}

#[derive(Debug)]
pub struct RegexBody {
    rules: Vec<Rule>,
    /// The body as rewritten so far and the next pass's result (swapped after each pass),
    /// as large as a message; the matcher's memory.
    cur: String,
    next: String,
    scratch: Scratch,
}

pub fn build(cfg: &Config) -> Result<Box<dyn Plugin>, BuildError> {
    let p = &cfg.plugins;
    let n = p.plugin_regex_body_pattern.len();
    let mut rules = Vec::with_capacity(n);
    // Unequal lists were refused by `config::validate`; zip pairs what is there.
    for (i, ((desc, pat), rep)) in p
        .plugin_regex_body_desc
        .iter()
        .zip(&p.plugin_regex_body_pattern)
        .zip(&p.plugin_regex_body_replace)
        .enumerate()
    {
        let re = Regex::new(pat)
            .map_err(|e| BuildError::at("plugin_regex_body_pattern", i, e.to_string()))?;
        rules.push(Rule {
            desc: desc.clone(),
            re,
            replace: rep.clone(),
        });
    }
    let buf = || String::with_capacity(crate::limits::SIP_MAX_MESSAGE);
    Ok(Box::new(RegexBody {
        rules,
        cur: buf(),
        next: buf(),
        scratch: Scratch::default(),
    }))
}

impl RegexBody {
    /// Whether the body was rewritten (into `self.cur`); `false` when it stays as it is.
    fn rewrite(&mut self, body: &[u8], room: usize) -> bool {
        if body.is_empty() || self.rules.is_empty() {
            return false;
        }
        let text = match std::str::from_utf8(body) {
            Ok(t) if !t.contains('\0') => t,
            _ => {
                log::warn!("plugin_regex_body: body is not text, left unchanged");
                return false;
            }
        };
        let mut changed = false;
        for r in &self.rules {
            for _ in 0..PASSES {
                let cur = if changed { self.cur.as_str() } else { text };
                let (next, scratch) = (&mut self.next, &mut self.scratch);
                if r.re.replace_into(cur, &r.replace, next, scratch).is_none() || next == cur {
                    break;
                }
                log::debug!("plugin_regex_body: rule {} applied", Quoted(&r.desc));
                std::mem::swap(&mut self.cur, &mut self.next);
                changed = true;
                if self.cur.len() > room {
                    log::warn!(
                        "plugin_regex_body: rule {} makes the body too large, left unchanged",
                        Quoted(&r.desc)
                    );
                    return false;
                }
            }
        }
        changed
    }
}

impl Plugin for RegexBody {
    fn name(&self) -> &'static str {
        "regex_body"
    }

    fn fixes(&self) -> bool {
        true
    }

    fn fix(&mut self, ctx: &Ctx<'_, '_>, out: &mut Vec<u8>) -> bool {
        let msg = ctx.msg;
        let head = msg.body_range().start.saturating_sub(msg.start_offset());
        // The message must still fit a datagram (and the proxy's edits some room).
        let room = crate::limits::SIP_MAX_MESSAGE.saturating_sub(head + 64);
        if !self.rewrite(msg.body(), room) {
            return false;
        }
        let mut ed = Editor::new(msg);
        ed.set_body(self.cur.as_bytes());
        out.clear();
        match ed.emit_vec(out) {
            Ok(_) => true,
            Err(e) => {
                log::warn!("plugin_regex_body: body left unchanged: {e}");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::tests::load_errors;
    use crate::plugins::tests::with_ctx;
    use crate::sip::{Framing, Message};

    fn plugin(rules: &[(&str, &str)]) -> Result<Box<dyn Plugin>, BuildError> {
        let mut cfg = Config::default();
        let p = &mut cfg.plugins;
        for (i, (pat, rep)) in rules.iter().enumerate() {
            p.plugin_regex_body_desc.push(format!("rule {i}"));
            p.plugin_regex_body_pattern.push(pat.to_string());
            p.plugin_regex_body_replace.push(rep.to_string());
        }
        build(&cfg)
    }

    fn message(body: &str) -> String {
        format!("MESSAGE sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKp1\r\nFrom: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: c1@h\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}", body.len())
    }

    /// The fixed message, or `None` if the plugin left it alone.
    fn fix(p: &mut Box<dyn Plugin>, text: &str) -> Option<String> {
        let mut out = Vec::new();
        let mut fixed = false;
        with_ctx(text, |ctx| fixed = p.fix(ctx, &mut out));
        fixed.then(|| String::from_utf8(out).unwrap())
    }

    fn body_of(text: &str) -> String {
        let m = Message::parse(text.as_bytes(), Framing::Stream).unwrap();
        String::from_utf8(m.body().to_vec()).unwrap()
    }

    #[test]
    fn every_matching_rule_applies_and_content_length_follows() {
        let mut p = plugin(&[("secret", "public!"), ("(a+)b", "<\\1>"), ("nomatch", "x")]).unwrap();
        let out = fix(&mut p, &message("a secret aab, ab\r\n")).unwrap();
        // Framing::Stream checks that Content-Length covers exactly the new body.
        assert_eq!(body_of(&out), "a public! <aa>, <a>\r\n");
    }

    #[test]
    fn a_rule_applies_at_most_ten_times() {
        let mut p = plugin(&[("x", "xx")]).unwrap();
        let out = fix(&mut p, &message("x")).unwrap();
        assert_eq!(body_of(&out), "x".repeat(11));
        let mut p = plugin(&[("a", "b")]).unwrap();
        let out = fix(&mut p, &message(&"a".repeat(12))).unwrap();
        assert_eq!(body_of(&out), format!("{}aa", "b".repeat(10)));
    }

    #[test]
    fn no_match_no_body_or_no_text_leaves_the_message_alone() {
        let mut p = plugin(&[("zzz", "y")]).unwrap();
        assert_eq!(fix(&mut p, &message("abc")), None);
        assert_eq!(fix(&mut p, &message("")), None);
        let mut p = plugin(&[("a", "b")]).unwrap();
        assert_eq!(fix(&mut p, &message("a\0a")), None);
    }

    #[test]
    fn a_body_growing_past_a_message_is_never_truncated_but_left_unchanged() {
        let big = "y".repeat(1700);
        let mut p = plugin(&[("x", &big)]).unwrap();
        // Ten passes would make 17 kB of body: too large, so nothing changes.
        assert_eq!(fix(&mut p, &message("xxxxxxxxxxxx")), None);
        let out = fix(&mut p, &message("x")).unwrap();
        assert_eq!(body_of(&out), big);
    }

    #[test]
    fn unequal_lists_and_bad_patterns_are_errors_naming_the_directive() {
        let e = load_errors("load_plugin = plugin_regex_body\nplugin_regex_body_pattern = a\n");
        assert!(e.contains("t.conf:2: plugin_regex_body_pattern:"), "{e}");
        let e = plugin(&[("(a", "b")]).unwrap_err().to_string();
        assert!(
            e.contains("plugin_regex_body_pattern") && e.contains("(a"),
            "{e}"
        );
    }
}
