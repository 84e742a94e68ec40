//! plugin_fix_DTAG (behaviour §8.2): a response whose source and top Via host both lie in
//! `plugin_fix_DTAG_networks` (Deutsche Telekom rewrote our Via into one of its own) gets our
//! Via back — the address it arrived on — so the proxy recognises and removes it as usual.
//! Runs at the fix stage, before the proxy checks that the top Via is its own.

use super::fix_bogus_via::{replace_sent_by, sent_by, via_ip};
use super::{BuildError, Ctx, Plugin};
use crate::acl::AclList;
use crate::config::Config;

#[derive(Debug)]
pub struct FixDtag {
    networks: AclList,
}

pub fn build(cfg: &Config) -> Result<Box<dyn Plugin>, BuildError> {
    let networks = cfg
        .plugins
        .plugin_fix_dtag_networks
        .clone()
        .unwrap_or_default();
    Ok(Box::new(FixDtag { networks }))
}

impl Plugin for FixDtag {
    fn name(&self) -> &'static str {
        "fix_DTAG"
    }

    fn fixes(&self) -> bool {
        true
    }

    fn fix(&mut self, ctx: &Ctx<'_, '_>, out: &mut Vec<u8>) -> bool {
        if ctx.msg.is_request() || !self.networks.contains(ctx.origin.src.ip()) {
            return false;
        }
        let Ok(top) = ctx.msg.top_via() else {
            return false;
        };
        if !via_ip(&top).is_some_and(|ip| self.networks.contains(ip)) {
            return false;
        }
        let ours = sent_by(ctx.origin.local);
        log::debug!(
            "plugin_fix_DTAG: Via {} becomes {ours}",
            crate::logging::Lossy(top.sent_by_raw)
        );
        replace_sent_by(ctx.msg, &top, &ours, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::tests::with_ctx_full;
    use crate::registry::Registry;

    const RESP: &str = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 217.0.1.1:5060;branch=z9hG4bKs1\r\nVia: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKp1\r\nFrom: <sip:alice@tel.t-online.de>;tag=1\r\nTo: <sip:bob@tel.t-online.de>;tag=2\r\nCall-ID: c1@h\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";

    fn fix(text: &str, src: &str) -> Option<String> {
        let mut cfg = Config::default();
        cfg.plugins.plugin_fix_dtag_networks = Some(AclList::parse("217.0.0.0/13").unwrap());
        let mut p = build(&cfg).unwrap();
        let reg = Registry::new(4);
        let mut out = Vec::new();
        let mut fixed = false;
        with_ctx_full(text, src, "203.0.113.5:5060", None, &reg, |ctx| {
            fixed = p.fix(ctx, &mut out)
        });
        fixed.then(|| String::from_utf8(out).unwrap())
    }

    #[test]
    fn a_response_from_the_networks_with_their_via_gets_ours_back() {
        let out = fix(RESP, "217.0.2.2:5060").unwrap();
        assert_eq!(out, RESP.replace("217.0.1.1:5060", "203.0.113.5:5060"));
    }

    #[test]
    fn both_the_source_and_the_via_must_lie_in_the_networks_and_requests_are_left_alone() {
        assert_eq!(fix(RESP, "198.51.100.20:5060"), None);
        let other = RESP.replace("217.0.1.1", "198.51.100.1");
        assert_eq!(fix(&other, "217.0.2.2:5060"), None);
        let req = RESP.replace("SIP/2.0 200 OK", "BYE sip:a@h SIP/2.0");
        assert_eq!(fix(&req, "217.0.2.2:5060"), None);
    }
}
