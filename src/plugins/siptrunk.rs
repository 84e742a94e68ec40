//! plugin_siptrunk (behaviour §8.2): a trunk delivers calls for many numbers to one account,
//! registered by one phone (a PBX) on the LAN. A request of unknown direction whose
//! Request-URI or To user matches a trunk's `plugin_siptrunk_numbers_regex` (the first trunk
//! that matches) goes to the phone registered as that trunk's `plugin_siptrunk_account`, as an
//! incoming request (Via, Record-Route and SDP handled as such), with its Request-URI kept so
//! the PBX sees the dialled number.

use super::regex::{Regex, Scratch};
use super::{BuildError, Ctx, Decision, Plugin};
use crate::config::Config;
use crate::logging::Quoted;
use crate::proxy::Hop;
use crate::registry::Uri as RegUri;
use crate::sansio::Transport;
use crate::sip::Uri;

#[derive(Debug)]
struct Trunk {
    name: String,
    account: RegUri,
    numbers: Regex,
}

#[derive(Debug)]
pub struct SipTrunk {
    trunks: Vec<Trunk>,
    /// The next hop of a routed request (the host rewritten in place) and the matcher's
    /// memory.
    hop: Hop,
    scratch: Scratch,
}

pub fn build(cfg: &Config) -> Result<Box<dyn Plugin>, BuildError> {
    let p = &cfg.plugins;
    let (n, a, r) = (
        &p.plugin_siptrunk_name,
        &p.plugin_siptrunk_account,
        &p.plugin_siptrunk_numbers_regex,
    );
    let mut trunks = Vec::with_capacity(n.len());
    // Unequal lists were refused by `config::validate`; zip pairs what is there.
    for (i, ((name, account), numbers)) in n.iter().zip(a).zip(r).enumerate() {
        let account = RegUri::parse(account).map_err(|e| {
            let m = format!(
                "trunk {}: {} is not a SIP URI ({e})",
                Quoted(name),
                Quoted(account)
            );
            BuildError::at("plugin_siptrunk_account", i, m)
        })?;
        let numbers = Regex::new(numbers).map_err(|e| {
            BuildError::at(
                "plugin_siptrunk_numbers_regex",
                i,
                format!("trunk {}: {e}", Quoted(name)),
            )
        })?;
        trunks.push(Trunk {
            name: name.clone(),
            account,
            numbers,
        });
    }
    Ok(Box::new(SipTrunk {
        trunks,
        hop: Hop {
            host: String::with_capacity(crate::limits::HOSTNAME_SIZE),
            port: None,
            transport: None,
        },
        scratch: Scratch::default(),
    }))
}

/// A URI's user as text.
fn user<'a>(uri: Option<Uri<'a>>) -> Option<&'a str> {
    uri.and_then(|u| u.user)
        .and_then(|u| std::str::from_utf8(u).ok())
}

impl Plugin for SipTrunk {
    fn name(&self) -> &'static str {
        "siptrunk"
    }

    fn unknown_direction(&mut self, ctx: &Ctx<'_, '_>) -> Decision<'_> {
        let msg = ctx.msg;
        let ruri_user = user(msg.request_uri_raw().and_then(|r| Uri::parse(r).ok()));
        let to_user = user(msg.to().ok().map(|t| t.uri));
        let scratch = &mut self.scratch;
        let mut hit = |t: &Trunk, u: Option<&str>| {
            u.is_some_and(|u| t.numbers.captures_in(u, scratch).is_some())
        };
        let matches = |t: &&Trunk| hit(t, ruri_user) || hit(t, to_user);
        // The first trunk serving the number, and only that one.
        let Some(trunk) = self.trunks.iter().find(matches) else {
            return Decision::Continue;
        };
        let now_s = ctx.now / 1000;
        let contact = ctx
            .registry
            .iter()
            .find(|(_, e)| e.reg_url().same_url(&trunk.account))
            .and_then(|(slot, e)| {
                e.live_bindings(now_s)
                    .max_by_key(|b| b.updated)
                    .map(|b| (slot, &b.true_url))
            });
        let Some((slot, contact)) = contact else {
            log::info!(
                "plugin_siptrunk: trunk {} serves {}, but {} is not registered",
                Quoted(&trunk.name),
                ruri_user.or(to_user).unwrap_or("?"),
                trunk.account
            );
            return Decision::Continue;
        };
        let transport = contact
            .params()
            .split(';')
            .find_map(|p| p.strip_prefix("transport="))
            .and_then(|t| Transport::from_token(t.as_bytes()));
        // The registry holds hosts of at most HOSTNAME_SIZE bytes: the buffer never grows.
        self.hop.host.clear();
        self.hop.host.push_str(contact.host());
        self.hop.port = contact.port();
        self.hop.transport = transport;
        Decision::Forward {
            request_uri: None,
            hop: Some(&self.hop),
            lan_slot: Some(slot),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::redirect::tests::{alice_registered, ctx, REMOTE};
    use crate::plugins::tests::load_errors;
    use crate::registry::Registry;

    fn plugin(trunks: &[(&str, &str, &str)]) -> Result<Box<dyn Plugin>, BuildError> {
        let col = |i: usize| -> Vec<String> {
            trunks
                .iter()
                .map(|r| [r.0, r.1, r.2][i].to_string())
                .collect()
        };
        let cfg = Config {
            plugins: crate::config::PluginConfig {
                plugin_siptrunk_name: col(0),
                plugin_siptrunk_account: col(1),
                plugin_siptrunk_numbers_regex: col(2),
                ..Default::default()
            },
            ..Config::default()
        };
        build(&cfg)
    }

    fn decide<'p>(p: &'p mut dyn Plugin, ruri: &str, to: &str, reg: &Registry) -> Decision<'p> {
        ctx("INVITE", ruri, to, REMOTE, false, reg, move |c| {
            p.unknown_direction(c)
        })
    }

    /// A's contact as a next hop.
    fn alice() -> Hop {
        Hop {
            host: "192.168.1.10".into(),
            port: Some(5060),
            transport: None,
        }
    }

    fn to_alice(slot: usize, hop: &Hop) -> Decision<'_> {
        Decision::Forward {
            request_uri: None,
            hop: Some(hop),
            lan_slot: Some(slot),
        }
    }

    #[test]
    fn a_trunk_number_goes_to_the_trunk_account_s_phone_with_its_request_uri() {
        let reg = alice_registered();
        let slot = reg.iter().next().unwrap().0;
        let alice = alice();
        let mut p = plugin(&[("t1", "sip:alice@example.com", "^\\+?4930555[0-9]+$")]).unwrap();
        assert_eq!(
            decide(
                &mut *p,
                "sip:+49305551@203.0.113.5",
                "<sip:x@example.com>",
                &reg
            ),
            to_alice(slot, &alice),
            "by Request-URI user"
        );
        assert_eq!(
            decide(
                &mut *p,
                "sip:203.0.113.5",
                "<sip:4930555123@example.com>",
                &reg
            ),
            to_alice(slot, &alice),
            "by To user"
        );
        assert_eq!(
            decide(
                &mut *p,
                "sip:4930666@203.0.113.5",
                "<sip:4930666@example.com>",
                &reg
            ),
            Decision::Continue,
            "another number"
        );
    }

    #[test]
    fn only_the_first_matching_trunk_and_only_a_registered_account() {
        let reg = alice_registered();
        let mut p = plugin(&[
            ("t1", "sip:pbx@example.com", "^49"),
            ("t2", "sip:alice@example.com", "^49"),
        ])
        .unwrap();
        assert_eq!(
            decide(
                &mut *p,
                "sip:4930@203.0.113.5",
                "<sip:4930@example.com>",
                &reg
            ),
            Decision::Continue,
            "t1 serves it, but pbx is not registered; t2 is not tried"
        );
        let mut p = plugin(&[("t1", "sip:alice@example.com", "^49")]).unwrap();
        assert_eq!(
            decide(
                &mut *p,
                "sip:4930@203.0.113.5",
                "<sip:4930@example.com>",
                &Registry::new(1)
            ),
            Decision::Continue,
            "nobody registered"
        );
        // Expired: the binding was for 3600 s from 0.
        let origin_reg = alice_registered();
        let d = crate::plugins::redirect::tests::ctx(
            "INVITE",
            "sip:4930@203.0.113.5",
            "<sip:4930@example.com>",
            REMOTE,
            false,
            &origin_reg,
            |c| {
                let late = Ctx {
                    now: 3_601_000,
                    ..*c
                };
                p.unknown_direction(&late)
            },
        );
        assert_eq!(d, Decision::Continue, "an expired registration");
    }

    #[test]
    fn bad_trunks_are_start_up_errors_naming_the_directive() {
        let e = plugin(&[("t", "sip:a@h", "(")]).unwrap_err().to_string();
        assert!(e.contains("plugin_siptrunk_numbers_regex"), "{e}");
        let e = plugin(&[("t", "no uri", "^1")]).unwrap_err().to_string();
        assert!(e.contains("plugin_siptrunk_account"), "{e}");
        let e = load_errors("load_plugin = plugin_siptrunk.la\nplugin_siptrunk_name = a\n");
        assert!(e.contains("t.conf:2: plugin_siptrunk_name:"), "{e}");
        let e = load_errors(
            "load_plugin = plugin_siptrunk.la\nplugin_siptrunk_name = a\n\
             plugin_siptrunk_account = nouri\nplugin_siptrunk_numbers_regex = ^1\n",
        );
        assert!(
            e.contains("t.conf:3: plugin_siptrunk_account: trunk \"a\""),
            "{e}"
        );
    }
}
