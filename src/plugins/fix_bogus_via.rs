//! plugin_fix_bogus_via (behaviour §8.2): a request from the Internet whose top Via names a
//! host in `plugin_fix_bogus_via_networks` (typically the private address of a phone behind
//! another NAT) gets the packet's source address and port as its sent-by, so the responses
//! go back to the real sender. Runs at the fix stage, before the proxy's own Via handling.

use std::net::IpAddr;

use super::{BuildError, Ctx, Plugin};
use crate::acl::AclList;
use crate::config::Config;
use crate::proxy::Direction;
use crate::sip::{Editor, Host, Via};

#[derive(Debug)]
pub struct FixBogusVia {
    networks: AclList,
}

pub fn build(cfg: &Config) -> Result<Box<dyn Plugin>, BuildError> {
    let networks = cfg
        .plugins
        .plugin_fix_bogus_via_networks
        .clone()
        .unwrap_or_default();
    Ok(Box::new(FixBogusVia { networks }))
}

/// The address a Via's sent-by names, if it is an address.
pub(super) fn via_ip(via: &Via<'_>) -> Option<IpAddr> {
    match via.host {
        Host::Ipv4(a) => Some(IpAddr::V4(a)),
        Host::Ipv6(a) => Some(IpAddr::V6(a)),
        Host::Name(_) => None,
    }
}

/// `addr` as a Via sent-by (`a.b.c.d:port`, `[v6]:port`; IPv4-mapped addresses as IPv4),
/// formatted on the stack.
pub(super) fn sent_by(addr: std::net::SocketAddr) -> heapless::String<64> {
    use std::fmt::Write as _;
    let mut s = heapless::String::new();
    // The longest address with a scope id and port is 52 characters: this cannot fail.
    let _ = write!(
        s,
        "{}",
        std::net::SocketAddr::new(addr.ip().to_canonical(), addr.port())
    );
    s
}

/// `msg` with the top Via's sent-by replaced by `sent_by`, into `out`.
pub(super) fn replace_sent_by(
    msg: &crate::sip::Message<'_>,
    via: &Via<'_>,
    sent_by: &str,
    out: &mut Vec<u8>,
) -> bool {
    let mut ed = Editor::new(msg);
    if ed.replace(via.sent_by_raw, sent_by.as_bytes()).is_err() {
        return false;
    }
    out.clear();
    ed.emit_vec(out).is_ok()
}

impl Plugin for FixBogusVia {
    fn name(&self) -> &'static str {
        "fix_bogus_via"
    }

    fn fixes(&self) -> bool {
        true
    }

    fn fix_wants_direction(&self) -> bool {
        true
    }

    fn fix(&mut self, ctx: &Ctx<'_, '_>, out: &mut Vec<u8>) -> bool {
        if !ctx.msg.is_request() || ctx.direction != Some(Direction::Incoming) {
            return false;
        }
        let Ok(top) = ctx.msg.top_via() else {
            return false;
        };
        if !via_ip(&top).is_some_and(|ip| self.networks.contains(ip)) {
            return false;
        }
        let sent_by = sent_by(ctx.origin.src);
        if top.sent_by_raw == sent_by.as_bytes() {
            return false;
        }
        log::debug!(
            "plugin_fix_bogus_via: Via {} becomes {sent_by}",
            crate::logging::Lossy(top.sent_by_raw)
        );
        replace_sent_by(ctx.msg, &top, &sent_by, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::tests::with_ctx_full;
    use crate::registry::Registry;

    fn plugin() -> Box<dyn Plugin> {
        let mut cfg = Config::default();
        cfg.plugins.plugin_fix_bogus_via_networks =
            Some(AclList::parse("10.0.0.0/8,192.168.0.0/16").unwrap());
        build(&cfg).unwrap()
    }

    const REQ: &str = "INVITE sip:alice@203.0.113.5 SIP/2.0\r\nVia: SIP/2.0/UDP 10.1.2.3:5062;rport;branch=z9hG4bKr1\r\nVia: SIP/2.0/UDP 10.9.9.9;branch=z9hG4bKr0\r\nFrom: <sip:carol@example.net>;tag=1\r\nTo: <sip:alice@example.com>\r\nCall-ID: c1@h\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";

    fn fix(text: &str, src: &str, dir: Option<Direction>) -> Option<String> {
        let mut p = plugin();
        let reg = Registry::new(4);
        let mut out = Vec::new();
        let mut fixed = false;
        with_ctx_full(text, src, "203.0.113.5:5060", dir, &reg, |ctx| {
            fixed = p.fix(ctx, &mut out)
        });
        fixed.then(|| String::from_utf8(out).unwrap())
    }

    #[test]
    fn an_incoming_request_with_a_private_top_via_gets_the_source_address() {
        let out = fix(REQ, "198.51.100.7:40000", Some(Direction::Incoming)).unwrap();
        assert_eq!(out, REQ.replace("10.1.2.3:5062;", "198.51.100.7:40000;"));
    }

    #[test]
    fn other_messages_are_left_alone() {
        // Outgoing (a phone of ours), unknown direction, a public Via, a name, a response.
        assert_eq!(
            fix(REQ, "192.168.1.10:5060", Some(Direction::Outgoing)),
            None
        );
        assert_eq!(fix(REQ, "198.51.100.7:40000", None), None);
        let public = REQ.replace("10.1.2.3:5062", "198.51.100.7:5062");
        assert_eq!(
            fix(&public, "198.51.100.7:40000", Some(Direction::Incoming)),
            None
        );
        let named = REQ.replace("10.1.2.3:5062", "phone.example.net");
        assert_eq!(
            fix(&named, "198.51.100.7:40000", Some(Direction::Incoming)),
            None
        );
        let resp = REQ.replace("INVITE sip:alice@203.0.113.5 SIP/2.0", "SIP/2.0 200 OK");
        assert_eq!(
            fix(&resp, "198.51.100.7:40000", Some(Direction::Incoming)),
            None
        );
        // Already right: nothing to repair.
        let same = REQ.replace("10.1.2.3:5062", "10.1.2.3:40000");
        assert_eq!(
            fix(&same, "10.1.2.3:40000", Some(Direction::Incoming)),
            None
        );
    }
}
