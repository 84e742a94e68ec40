//! plugin_prefix (behaviour §8.2): every call a phone on the LAN makes is answered 302 with the
//! To URI's user prefixed by `plugin_prefix_akey` and marked `;redirected=prefix`, so the phone
//! calls the prefixed number and the marked INVITE is not redirected again. The ACK of the 302
//! is swallowed through the redirect cache (Call-ID, 20 s).

use super::redirect::{add_param, already_redirected, uri_buffer, with_user};
use super::{BuildError, Ctx, Decision, Plugin};
use crate::config::Config;
use crate::logging::Lossy;
use crate::sip::Uri;

/// The loop-prevention marker this plugin adds and honours.
const MARK: &str = "prefix";

#[derive(Debug)]
pub struct Prefix {
    akey: String,
    /// The Contact of the 302, rebuilt in place per redirect.
    contact: String,
}

pub fn build(cfg: &Config) -> Result<Box<dyn Plugin>, BuildError> {
    match cfg.plugins.plugin_prefix_akey.as_deref() {
        Some(a) if !a.is_empty() => Ok(Box::new(Prefix {
            akey: a.to_string(),
            contact: uri_buffer(),
        })),
        _ => Err(BuildError::new(
            "plugin_prefix_akey",
            "must be set to the prefix to dial".into(),
        )),
    }
}

impl Plugin for Prefix {
    fn name(&self) -> &'static str {
        "prefix"
    }

    fn determine_target(&mut self, ctx: &Ctx<'_, '_>) -> Decision<'_> {
        let msg = ctx.msg;
        // The ACK of our 302 is the redirect cache's business.
        if msg.method() != Some(b"INVITE") || !ctx.from_lan_phone() {
            return Decision::Continue;
        }
        let ruri_has_user = msg
            .request_uri_raw()
            .and_then(|r| Uri::parse(r).ok())
            .is_some_and(|u| u.user.is_some());
        if !ruri_has_user || already_redirected(msg, MARK) {
            return Decision::Continue;
        }
        let Ok(to) = msg.to() else {
            return Decision::Continue;
        };
        let to_user = to.uri.user.unwrap_or_default();
        let user = [self.akey.as_bytes(), to_user];
        if with_user(&mut self.contact, &to.uri, &user, None)
            .and_then(|()| add_param(&mut self.contact, "redirected=prefix"))
            .is_none()
        {
            if to.uri.is_sip() {
                log::warn!(
                    "plugin_prefix: the target for {} would exceed {} bytes: not redirected",
                    Lossy(to.uri.raw),
                    crate::limits::PLUGIN_URI_MAX
                );
            }
            return Decision::Continue;
        }
        log::info!(
            "plugin_prefix: redirecting {} to {}",
            Lossy(to_user),
            self.contact
        );
        Decision::Redirect(&self.contact)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::redirect::tests::{alice_registered, ctx, PHONE, REMOTE};

    fn plugin(akey: Option<&str>) -> Result<Box<dyn Plugin>, BuildError> {
        let cfg = Config {
            plugins: crate::config::PluginConfig {
                plugin_prefix_akey: akey.map(str::to_string),
                ..Default::default()
            },
            ..Config::default()
        };
        build(&cfg)
    }

    /// The decision of a fresh plugin (as its log text: it borrows from the plugin).
    fn decide(method: &str, ruri: &str, to: &str, src: &str, lan: bool) -> String {
        let mut p = plugin(Some("0")).unwrap();
        let reg = alice_registered();
        ctx(method, ruri, to, src, lan, &reg, |c| {
            p.determine_target(c).to_string()
        })
    }

    #[test]
    fn an_outgoing_invite_is_redirected_to_the_prefixed_to_user_marked() {
        assert_eq!(
            decide(
                "INVITE",
                "sip:301234@example.com",
                "<sip:301234@example.com;user=phone>",
                PHONE,
                true
            ),
            Decision::Redirect("sip:0301234@example.com;user=phone;redirected=prefix").to_string()
        );
    }

    #[test]
    fn a_marked_request_or_one_without_user_goes_on() {
        for (ruri, to) in [
            (
                "sip:0301234@example.com;redirected=prefix",
                "<sip:0301234@example.com>",
            ),
            (
                "sip:0301234@example.com",
                "<sip:0301234@example.com;redirected=prefix>",
            ),
            ("sip:example.com", "<sip:301234@example.com>"),
        ] {
            assert_eq!(
                decide("INVITE", ruri, to, PHONE, true),
                Decision::Continue.to_string(),
                "{ruri}"
            );
        }
    }

    #[test]
    fn only_outgoing_invites() {
        let to = "<sip:301234@example.com>";
        assert_eq!(
            decide("INVITE", "sip:301234@example.com", to, REMOTE, false),
            Decision::Continue.to_string()
        );
        assert_eq!(
            decide("MESSAGE", "sip:301234@example.com", to, PHONE, true),
            Decision::Continue.to_string()
        );
        assert_eq!(
            decide("ACK", "sip:301234@example.com", to, PHONE, true),
            Decision::Continue.to_string(),
            "the ACK is the redirect cache's"
        );
    }

    #[test]
    fn a_target_longer_than_the_bound_is_not_built() {
        let to = format!("<sip:1@h;p={}>", "x".repeat(2000));
        let reg = alice_registered();
        let decide = |akey: &str| {
            let mut p = plugin(Some(akey)).unwrap();
            ctx("INVITE", "sip:1@h", &to, PHONE, true, &reg, |c| {
                p.determine_target(c).to_string()
            })
        };
        assert!(decide(&"0".repeat(40)).starts_with("redirect to sip:"));
        assert_eq!(decide(&"0".repeat(100)), "continue");
    }

    #[test]
    fn no_key_is_a_start_up_error_naming_the_directive() {
        assert!(plugin(None)
            .unwrap_err()
            .to_string()
            .contains("plugin_prefix_akey"));
        assert!(plugin(Some(""))
            .unwrap_err()
            .to_string()
            .contains("plugin_prefix_akey"));
    }
}
