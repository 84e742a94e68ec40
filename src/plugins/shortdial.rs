//! plugin_shortdial (behaviour §8.2): a phone on the LAN dials a short code shaped like
//! `plugin_shortdial_akey` (same length, same first character, e.g. `*01` for akey `*00`);
//! the INVITE is answered 302 with the To URI's user replaced by `plugin_shortdial_entry`
//! number n (the rest of the code), and the phone calls that instead. Its ACK is swallowed.
//! With the plugin on, real numbers of that shape cannot be dialled (as in siproxd).

use super::redirect::{uri_buffer, with_user};
use super::{BuildError, Ctx, Decision, Plugin};
use crate::config::Config;
use crate::logging::{Lossy, Quoted};
use crate::sip::Uri;

#[derive(Debug)]
pub struct ShortDial {
    akey: String,
    entries: Vec<String>,
    /// The Contact of the 302, rebuilt in place per redirect.
    contact: String,
}

pub fn build(cfg: &Config) -> Result<Box<dyn Plugin>, BuildError> {
    let p = &cfg.plugins;
    let akey = p.plugin_shortdial_akey.clone().unwrap_or_default();
    // A key of one character leaves no digits for the entry number.
    if akey.chars().count() < 2 {
        return Err(BuildError::new(
            "plugin_shortdial_akey",
            format!(
                "must be set to the short-code pattern, e.g. *00 (is {})",
                Quoted(&akey)
            ),
        ));
    }
    if p.plugin_shortdial_entry.is_empty() {
        return Err(BuildError::new(
            "plugin_shortdial_entry",
            "at least one entry is needed".into(),
        ));
    }
    Ok(Box::new(ShortDial {
        akey,
        entries: p.plugin_shortdial_entry.clone(),
        contact: uri_buffer(),
    }))
}

/// The entry a dialled user names: same length as the key, same first character, and the
/// rest the number n of an entry (1-based).
fn entry<'e>(akey: &str, entries: &'e [String], user: &[u8]) -> Option<&'e str> {
    let (first, rest) = user.split_first()?;
    if user.len() != akey.len() || Some(first) != akey.as_bytes().first() {
        return None;
    }
    if rest.is_empty() || !rest.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n: usize = std::str::from_utf8(rest).ok()?.parse().ok()?;
    entries.get(n.checked_sub(1)?).map(String::as_str)
}

/// The Contact of the 302 into `out`: the To URI with the entry's user, and its host if the
/// entry is `user@host` (a trailing `@` keeps the To host).
fn target(out: &mut String, to: &Uri<'_>, entry: &str) -> Option<()> {
    match entry.split_once('@') {
        Some((user, host)) if !host.is_empty() => {
            with_user(out, to, &[user.as_bytes()], Some(host))
        }
        Some((user, _)) => with_user(out, to, &[user.as_bytes()], None),
        None => with_user(out, to, &[entry.as_bytes()], None),
    }
}

impl Plugin for ShortDial {
    fn name(&self) -> &'static str {
        "shortdial"
    }

    fn determine_target(&mut self, ctx: &Ctx<'_, '_>) -> Decision<'_> {
        let msg = ctx.msg;
        let method = msg.method();
        if !matches!(method, Some(b"INVITE" | b"ACK")) || !ctx.from_lan_phone() {
            return Decision::Continue;
        }
        let Some(user) = msg
            .request_uri_raw()
            .and_then(|r| Uri::parse(r).ok())
            .and_then(|u| u.user)
        else {
            return Decision::Continue;
        };
        let Some(entry) = entry(&self.akey, &self.entries, user) else {
            return Decision::Continue;
        };
        if method == Some(b"ACK") {
            // The ACK of our 302 (any ACK of this shape: siproxd keeps no list here).
            return Decision::Drop("ACK of a short-dial redirect");
        }
        let built = msg
            .to()
            .ok()
            .and_then(|to| target(&mut self.contact, &to.uri, entry));
        if built.is_none() {
            log::warn!(
                "plugin_shortdial: cannot build a target from the To URI and entry {}",
                Quoted(entry)
            );
            return Decision::Continue;
        }
        log::info!(
            "plugin_shortdial: redirecting {} to {}",
            Lossy(user),
            self.contact
        );
        Decision::Redirect(&self.contact)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::redirect::tests::{alice_registered, ctx, PHONE, REMOTE};
    use crate::registry::Registry;

    fn plugin(akey: &str, entries: &[&str]) -> Result<Box<dyn Plugin>, BuildError> {
        let cfg = Config {
            plugins: crate::config::PluginConfig {
                plugin_shortdial_akey: Some(akey.into()),
                plugin_shortdial_entry: entries.iter().map(|e| e.to_string()).collect(),
                ..Default::default()
            },
            ..Config::default()
        };
        build(&cfg)
    }

    fn decide<'p>(
        p: &'p mut dyn Plugin,
        method: &str,
        ruri: &str,
        to: &str,
        reg: &Registry,
    ) -> Decision<'p> {
        ctx(method, ruri, to, PHONE, true, reg, move |c| {
            p.determine_target(c)
        })
    }

    #[test]
    fn short_code_n_redirects_to_entry_n_with_the_to_uri() {
        let reg = alice_registered();
        let mut p = plugin("*00", &["100", "200"]).unwrap();
        assert_eq!(
            decide(
                &mut *p,
                "INVITE",
                "sip:*01@example.com",
                "<sip:*01@example.com>",
                &reg
            ),
            Decision::Redirect("sip:100@example.com")
        );
        assert_eq!(
            decide(
                &mut *p,
                "INVITE",
                "sip:*02@example.com",
                "<sip:*02@example.com:5070>",
                &reg
            ),
            Decision::Redirect("sip:200@example.com:5070"),
            "the To URI's port is kept"
        );
    }

    #[test]
    fn an_entry_user_at_host_replaces_the_host_and_a_trailing_at_keeps_it() {
        let reg = alice_registered();
        let mut p = plugin("*00", &["bob@other.net", "0301234@"]).unwrap();
        assert_eq!(
            decide(
                &mut *p,
                "INVITE",
                "sip:*01@example.com",
                "<sip:*01@example.com>",
                &reg
            ),
            Decision::Redirect("sip:bob@other.net")
        );
        assert_eq!(
            decide(
                &mut *p,
                "INVITE",
                "sip:*02@example.com",
                "<sip:*02@example.com>",
                &reg
            ),
            Decision::Redirect("sip:0301234@example.com")
        );
    }

    #[test]
    fn codes_of_another_shape_or_out_of_range_go_on() {
        let reg = alice_registered();
        let mut p = plugin("*00", &["100"]).unwrap();
        for user in ["*1", "*001", "#01", "*00", "*02", "*0a", "bob"] {
            let ruri = format!("sip:{user}@example.com");
            assert_eq!(
                decide(&mut *p, "INVITE", &ruri, "<sip:x@example.com>", &reg),
                Decision::Continue,
                "{user}"
            );
        }
    }

    #[test]
    fn the_ack_of_a_short_code_is_consumed_and_other_methods_go_on() {
        let reg = alice_registered();
        let mut p = plugin("*00", &["100"]).unwrap();
        assert!(matches!(
            decide(
                &mut *p,
                "ACK",
                "sip:*01@example.com",
                "<sip:*01@example.com>",
                &reg
            ),
            Decision::Drop(_)
        ));
        assert_eq!(
            decide(
                &mut *p,
                "BYE",
                "sip:*01@example.com",
                "<sip:*01@example.com>",
                &reg
            ),
            Decision::Continue
        );
    }

    #[test]
    fn only_outgoing_requests_are_redirected() {
        let mut p = plugin("*00", &["100"]).unwrap();
        let reg = alice_registered();
        let d = ctx(
            "INVITE",
            "sip:*01@example.com",
            "<sip:*01@example.com>",
            REMOTE,
            false,
            &reg,
            |c| p.determine_target(c),
        );
        assert_eq!(d, Decision::Continue, "from the Internet");
        let empty = Registry::new(1);
        assert_eq!(
            decide(
                &mut *p,
                "INVITE",
                "sip:*01@example.com",
                "<sip:*01@example.com>",
                &empty
            ),
            Decision::Continue,
            "an unregistered LAN host: direction unknown"
        );
    }

    #[test]
    fn a_missing_key_or_no_entries_is_a_start_up_error_naming_the_directive() {
        let e = plugin("", &["100"]).unwrap_err().to_string();
        assert!(e.contains("plugin_shortdial_akey"), "{e}");
        let e = plugin("*00", &[]).unwrap_err().to_string();
        assert!(e.contains("plugin_shortdial_entry"), "{e}");
    }
}
