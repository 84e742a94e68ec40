//! plugin_defaulttarget (behaviour §8.2): an INVITE whose direction cannot be told (typically
//! a call for a user nobody registered) is answered 302 to `plugin_defaulttarget_target`
//! instead of 408, so the caller reaches a default phone; ACKs of unknown direction (those
//! of our 302 among them) are swallowed. `plugin_defaulttarget_log = 1` logs each redirect.

use super::{BuildError, Ctx, Decision, Plugin};
use crate::config::Config;
use crate::sip::Uri;

#[derive(Debug)]
pub struct DefaultTarget {
    target: String,
    log: bool,
}

pub fn build(cfg: &Config) -> Result<Box<dyn Plugin>, BuildError> {
    let p = &cfg.plugins;
    let Some(target) = p.plugin_defaulttarget_target.as_deref() else {
        return Err(BuildError::new(
            "plugin_defaulttarget_target",
            "must be set to the SIP URI unknown calls go to".into(),
        ));
    };
    // Checked once here: it becomes the Contact of every 302.
    match Uri::parse(target.as_bytes()) {
        Ok(u) if u.is_sip() && !u.host_raw.is_empty() => {}
        _ => {
            return Err(BuildError::new(
                "plugin_defaulttarget_target",
                format!(
                    "{} is not a SIP URI (e.g. sip:100@192.168.1.20)",
                    crate::logging::Quoted(target)
                ),
            ))
        }
    }
    Ok(Box::new(DefaultTarget {
        target: target.to_string(),
        log: p.plugin_defaulttarget_log != 0,
    }))
}

impl Plugin for DefaultTarget {
    fn name(&self) -> &'static str {
        "defaulttarget"
    }

    fn unknown_direction(&mut self, ctx: &Ctx<'_, '_>) -> Decision<'_> {
        match ctx.msg.method() {
            Some(b"INVITE") => {
                if self.log {
                    let to = ctx.msg.to().map(|t| t.uri.raw).unwrap_or_default();
                    log::info!(
                        "plugin_defaulttarget: call from {} to {} redirected to {}",
                        ctx.origin.src,
                        crate::logging::Lossy(to),
                        self.target
                    );
                }
                Decision::Redirect(&self.target)
            }
            Some(b"ACK") => Decision::Drop("ACK of unknown direction (plugin_defaulttarget)"),
            _ => Decision::Continue,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::redirect::tests::{ctx, REMOTE};
    use crate::registry::Registry;

    fn plugin(target: Option<&str>, log: i64) -> Result<Box<dyn Plugin>, BuildError> {
        let cfg = Config {
            plugins: crate::config::PluginConfig {
                plugin_defaulttarget_target: target.map(str::to_string),
                plugin_defaulttarget_log: log,
                ..Default::default()
            },
            ..Config::default()
        };
        build(&cfg)
    }

    fn decide<'p>(p: &'p mut dyn Plugin, method: &str) -> Decision<'p> {
        let reg = Registry::new(1);
        ctx(
            method,
            "sip:nobody@203.0.113.5",
            "<sip:nobody@example.com>",
            REMOTE,
            false,
            &reg,
            move |c| p.unknown_direction(c),
        )
    }

    #[test]
    fn an_invite_of_unknown_direction_goes_to_the_target() {
        for log in [0, 1] {
            let mut p = plugin(Some("sip:100@192.168.1.20"), log).unwrap();
            assert_eq!(
                decide(&mut *p, "INVITE"),
                Decision::Redirect("sip:100@192.168.1.20")
            );
        }
    }

    #[test]
    fn an_ack_of_unknown_direction_is_consumed_and_others_go_on() {
        let mut p = plugin(Some("sip:100@192.168.1.20"), 0).unwrap();
        assert!(matches!(decide(&mut *p, "ACK"), Decision::Drop(_)));
        assert_eq!(decide(&mut *p, "MESSAGE"), Decision::Continue);
        assert_eq!(decide(&mut *p, "BYE"), Decision::Continue);
    }

    #[test]
    fn only_the_unknown_direction_stage() {
        let mut p = plugin(Some("sip:100@192.168.1.20"), 0).unwrap();
        let reg = Registry::new(1);
        let d = ctx(
            "INVITE",
            "sip:nobody@203.0.113.5",
            "<sip:nobody@h>",
            REMOTE,
            false,
            &reg,
            |c| p.determine_target(c),
        );
        assert_eq!(d, Decision::Continue);
    }

    #[test]
    fn a_missing_or_bad_target_is_a_start_up_error_naming_the_directive() {
        for t in [None, Some("not a uri"), Some("tel:+4930")] {
            let e = plugin(t, 0).unwrap_err().to_string();
            assert!(e.contains("plugin_defaulttarget_target"), "{t:?}: {e}");
        }
    }
}
