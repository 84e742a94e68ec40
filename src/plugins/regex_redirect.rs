//! plugin_regex (behaviour §8.2): the To URI of a call a phone on the LAN makes is matched
//! against `plugin_regex_pattern` rules in order; the first that matches rewrites it with its
//! `plugin_regex_replace` (`\1`..`\9` name groups) and the INVITE is answered 302 with the
//! result, marked `;redirected=regex` so the new INVITE is not rewritten again. As in siproxd,
//! a rule whose group 1 took part in the match replaces the first occurrence only, any other
//! rule every occurrence. The ACK of the 302 is swallowed through the redirect cache.

use super::redirect::{add_param, already_redirected, uri_buffer};
use super::regex::{expand, Regex, Scratch};
use super::{BuildError, Ctx, Decision, Plugin};
use crate::config::Config;
use crate::logging::Quoted;
use crate::sip::Uri;

/// The loop-prevention marker this plugin adds and honours.
const MARK: &str = "regex";
/// siproxd's buffer: longer To URIs are not rewritten, and no result grows beyond it.
const MAX_LEN: usize = 2048;

#[derive(Debug)]
struct Rule {
    desc: String,
    re: Regex,
    replace: String,
}

#[derive(Debug)]
pub struct RegexRedirect {
    rules: Vec<Rule>,
    /// The rewritten To URI (then the 302's Contact) and the expanded replacement, rebuilt
    /// in place per call; the matcher's memory.
    out: String,
    text: String,
    scratch: Scratch,
}

pub fn build(cfg: &Config) -> Result<Box<dyn Plugin>, BuildError> {
    let p = &cfg.plugins;
    let (d, pa, r) = (
        &p.plugin_regex_desc,
        &p.plugin_regex_pattern,
        &p.plugin_regex_replace,
    );
    let mut rules = Vec::with_capacity(pa.len());
    // Unequal lists were refused by `config::validate`; zip pairs what is there.
    for (i, ((desc, pattern), replace)) in d.iter().zip(pa).zip(r).enumerate() {
        let re = Regex::new(pattern).map_err(|e| {
            BuildError::at(
                "plugin_regex_pattern",
                i,
                format!("rule {}: {e}", Quoted(desc)),
            )
        })?;
        rules.push(Rule {
            desc: desc.clone(),
            re,
            replace: replace.clone(),
        });
    }
    Ok(Box::new(RegexRedirect::new(rules)))
}

/// Appends `s` to `out` unless that makes it longer than [`MAX_LEN`].
fn put(out: &mut String, s: &str) -> Option<()> {
    (out.len() + s.len() <= MAX_LEN).then(|| out.push_str(s))
}

/// The rule applied to `subject` into `out` (`text` holds the expanded replacement), or
/// `None` when it does not match (or the result would exceed [`MAX_LEN`]). The replacement
/// is expanded once, from the first match.
fn apply(
    rule: &Rule,
    subject: &str,
    out: &mut String,
    text: &mut String,
    scratch: &mut Scratch,
) -> Option<()> {
    // Every occurrence's match counts against one budget: a long subject with many
    // occurrences would otherwise cost MAX_STEPS per occurrence.
    let mut steps = 0;
    let caps = rule.re.captures_budget(subject, scratch, &mut steps)?;
    let (ms, me) = caps.first().copied().flatten()?;
    text.clear();
    expand(&rule.replace, subject, &caps, |s| put(text, s))?;
    out.clear();
    put(out, subject.get(..ms)?)?;
    put(out, text)?;
    let mut rest = subject.get(me..)?;
    let mut empty = ms == me;
    if caps.get(1).copied().flatten().is_none() {
        // Every further occurrence too.
        loop {
            if empty {
                // An empty match: step over one character so the loop ends.
                let Some(c) = rest.chars().next() else { break };
                put(out, rest.get(..c.len_utf8())?)?;
                rest = rest.get(c.len_utf8()..)?;
            }
            let Some((s, e)) = rule
                .re
                .captures_budget(rest, scratch, &mut steps)
                .and_then(|c| c.first().copied().flatten())
            else {
                break;
            };
            put(out, rest.get(..s)?)?;
            put(out, text)?;
            rest = rest.get(e..)?;
            empty = s == e;
        }
        // Out of budget is not "no more occurrences": no half-rewritten URI.
        if steps > super::regex::MAX_STEPS {
            return None;
        }
    }
    put(out, rest)
}

impl RegexRedirect {
    fn new(rules: Vec<Rule>) -> RegexRedirect {
        RegexRedirect {
            rules,
            out: uri_buffer(),
            text: String::with_capacity(MAX_LEN),
            scratch: Scratch::default(),
        }
    }

    /// The new target for a To URI, into `self.out`: the first matching rule's result, if
    /// it is a URI.
    fn rewrite(&mut self, to: &str) -> Option<&str> {
        if to.len() > MAX_LEN {
            return None;
        }
        let (out, text, scratch) = (&mut self.out, &mut self.text, &mut self.scratch);
        let rule = self
            .rules
            .iter()
            .find(|r| apply(r, to, out, text, scratch).is_some())?;
        if Uri::parse(out.as_bytes()).is_err() {
            log::warn!(
                "plugin_regex: rule {} turned {to} into {}, not a URI: not redirected",
                Quoted(&rule.desc),
                Quoted(out)
            );
            return None;
        }
        log::info!(
            "plugin_regex: rule {} redirects {to} to {out}",
            Quoted(&rule.desc)
        );
        add_param(out, "redirected=regex")?;
        Some(out.as_str())
    }
}

impl Plugin for RegexRedirect {
    fn name(&self) -> &'static str {
        "regex"
    }

    fn determine_target(&mut self, ctx: &Ctx<'_, '_>) -> Decision<'_> {
        let msg = ctx.msg;
        // The ACK of our 302 is the redirect cache's business.
        if msg.method() != Some(b"INVITE") || !ctx.from_lan_phone() || already_redirected(msg, MARK)
        {
            return Decision::Continue;
        }
        let Some(to) = msg
            .to()
            .ok()
            .and_then(|t| std::str::from_utf8(t.uri.raw).ok())
        else {
            return Decision::Continue;
        };
        match self.rewrite(to) {
            Some(contact) => Decision::Redirect(contact),
            None => Decision::Continue,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::redirect::tests::{alice_registered, ctx, PHONE, REMOTE};
    use crate::plugins::tests::load_errors;

    fn plugin(rules: &[(&str, &str, &str)]) -> Result<Box<dyn Plugin>, BuildError> {
        let col = |i: usize| -> Vec<String> {
            rules
                .iter()
                .map(|r| [r.0, r.1, r.2][i].to_string())
                .collect()
        };
        let cfg = Config {
            plugins: crate::config::PluginConfig {
                plugin_regex_desc: col(0),
                plugin_regex_pattern: col(1),
                plugin_regex_replace: col(2),
                ..Default::default()
            },
            ..Config::default()
        };
        build(&cfg)
    }

    fn decide<'p>(p: &'p mut dyn Plugin, ruri: &str, to: &str) -> Decision<'p> {
        let reg = alice_registered();
        ctx("INVITE", ruri, to, PHONE, true, &reg, move |c| {
            p.determine_target(c)
        })
    }

    const NATIONAL: (&str, &str, &str) =
        ("national", "^sip:0([1-9][0-9]*)@(.*)$", "sip:+49\\1@\\2");

    #[test]
    fn a_rule_with_groups_rewrites_the_to_uri_once() {
        let mut p = plugin(&[NATIONAL]).unwrap();
        assert_eq!(
            decide(
                &mut *p,
                "sip:0301234@example.com",
                "<sip:0301234@example.com>"
            ),
            Decision::Redirect("sip:+49301234@example.com;redirected=regex")
        );
    }

    #[test]
    fn a_rule_without_groups_replaces_every_occurrence() {
        let mut p = plugin(&[("host", "old\\.example", "new.example")]).unwrap();
        assert_eq!(
            decide(
                &mut *p,
                "sip:bob@old.example",
                "<sip:bob@old.example;maddr=old.example>"
            ),
            Decision::Redirect("sip:bob@new.example;maddr=new.example;redirected=regex")
        );
        // Case-insensitive, as siproxd compiles with REG_ICASE.
        let mut p = plugin(&[("star", "\\*", "")]).unwrap();
        assert_eq!(
            decide(&mut *p, "sip:*3*1@EXAMPLE.com", "<sip:*3*1@EXAMPLE.com>"),
            Decision::Redirect("sip:31@EXAMPLE.com;redirected=regex")
        );
    }

    #[test]
    fn the_first_matching_rule_wins_and_a_non_matching_call_goes_on() {
        let mut p = plugin(&[
            ("none", "^sip:999", "sip:x"),
            NATIONAL,
            ("other", "^sip:0", "sip:other"),
        ])
        .unwrap();
        assert_eq!(
            decide(&mut *p, "sip:030@example.com", "<sip:030@example.com>"),
            Decision::Redirect("sip:+4930@example.com;redirected=regex")
        );
        assert_eq!(
            decide(&mut *p, "sip:bob@example.com", "<sip:bob@example.com>"),
            Decision::Continue
        );
    }

    #[test]
    fn a_marked_request_an_incoming_one_or_a_bad_result_goes_on() {
        let mut p = plugin(&[NATIONAL]).unwrap();
        assert_eq!(
            decide(
                &mut *p,
                "sip:+49301234@example.com;redirected=regex",
                "<sip:0301234@example.com>"
            ),
            Decision::Continue
        );
        let reg = alice_registered();
        let d = ctx(
            "INVITE",
            "sip:030@example.com",
            "<sip:030@example.com>",
            REMOTE,
            false,
            &reg,
            |c| p.determine_target(c),
        );
        assert_eq!(d, Decision::Continue, "from the Internet");
        let mut p = plugin(&[("broken", "^sip:", "no uri ")]).unwrap();
        assert_eq!(
            decide(&mut *p, "sip:030@example.com", "<sip:030@example.com>"),
            Decision::Continue,
            "the result does not parse as a URI"
        );
    }

    #[test]
    fn empty_matches_end_and_long_results_are_refused() {
        let rule = |p: &str, r: &str| Rule {
            desc: "t".into(),
            re: Regex::new(p).unwrap(),
            replace: r.into(),
        };
        let run = |r: Rule, subject: &str| {
            let (mut out, mut text) = (String::new(), String::new());
            apply(&r, subject, &mut out, &mut text, &mut Scratch::default()).map(|()| out)
        };
        assert_eq!(run(rule("x*", "-"), "ab").unwrap(), "-a-b-");
        let big = "a".repeat(100);
        assert_eq!(run(rule("a", &big), &"a".repeat(30)), None);
        assert_eq!(run(rule("z", "y"), "ab"), None);
    }

    #[test]
    fn a_to_uri_longer_than_siproxd_s_buffer_is_not_rewritten() {
        let mut p = RegexRedirect::new(vec![Rule {
            desc: "any".into(),
            re: Regex::new("^sip:").unwrap(),
            replace: "sip:x".into(),
        }]);
        let fits = format!("sip:{}@h", "1".repeat(MAX_LEN - 10));
        assert!(p.rewrite(&fits).is_some());
        let long = format!("sip:{}@h", "1".repeat(MAX_LEN));
        assert_eq!(p.rewrite(&long), None);
    }

    #[test]
    fn bad_rules_are_start_up_errors_naming_the_directive() {
        let e = plugin(&[("bad", "(unclosed", "x")])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("plugin_regex_pattern") && e.contains("bad"),
            "{e}"
        );
        // Unequal lists are refused while loading, at the entry without partners.
        let e = load_errors(
            "load_plugin = plugin_regex.la\nplugin_regex_desc = a\nplugin_regex_pattern = a\n\
             plugin_regex_pattern = b\nplugin_regex_replace = x\n",
        );
        assert!(e.contains("t.conf:4: plugin_regex_pattern:"), "{e}");
        // A pattern that does not compile is named with its file and line.
        let e = load_errors(
            "load_plugin = plugin_regex.la\nplugin_regex_desc = a\nplugin_regex_desc = b\n\
             plugin_regex_pattern = ^1\nplugin_regex_pattern = (x\nplugin_regex_replace = x\n\
             plugin_regex_replace = y\n",
        );
        assert!(
            e.contains("t.conf:5: plugin_regex_pattern: rule \"b\""),
            "{e}"
        );
    }
}
