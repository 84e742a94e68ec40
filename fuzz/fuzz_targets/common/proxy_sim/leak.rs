//! The masquerading property: a message the proxy sends from its outbound address towards
//! the Internet carries no LAN address (192.168.1.x, the inbound address among them), except
//! in the places the phone's own identity stays by design: the Vias of the phone below the
//! proxy's own (a request's, where `received=` also names the phone) and the Call-ID.
//!
//! Addresses are found as text: `192.168.1.` not preceded by a digit or a dot and followed by
//! a digit. Inputs that are not built by the templates (raw fuzz bytes) are passed through
//! [`sanitize`] first, so every LAN address in an output was put there by a template on
//! purpose (Via, Contact, Call-ID, SDP) or by the proxy itself.

use std::net::IpAddr;

use siproxd_rs::sip::{Framing, HeaderName, Message, Via};

pub const LAN_PREFIX: &[u8] = b"192.168.1.";
/// What [`sanitize`] writes instead (same length, outside the LAN).
const NOT_LAN: &[u8] = b"192.168.9.";

/// Whether `ip` is in the simulated LAN 192.168.1.0/24.
pub fn is_lan(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(a) => {
            let o = a.octets();
            o[0] == 192 && o[1] == 168 && o[2] == 1
        }
        IpAddr::V6(_) => false,
    }
}

/// Offset of the first LAN address written in `bytes`.
pub fn find_lan(bytes: &[u8]) -> Option<usize> {
    let n = LAN_PREFIX.len();
    (0..bytes.len().saturating_sub(n)).find(|&i| {
        bytes.get(i..i + n) == Some(LAN_PREFIX)
            && bytes.get(i + n).is_some_and(u8::is_ascii_digit)
            && !(i > 0
                && bytes
                    .get(i - 1)
                    .is_some_and(|&b| b.is_ascii_digit() || b == b'.'))
    })
}

/// Replaces every `192.168.1.` in `bytes` (whatever surrounds it) by `192.168.9.`.
pub fn sanitize(bytes: &mut [u8]) {
    let n = LAN_PREFIX.len();
    let mut i = 0;
    while i + n <= bytes.len() {
        if let Some(w) = bytes.get_mut(i..i + n) {
            if w == LAN_PREFIX {
                w.copy_from_slice(NOT_LAN);
                i += n;
                continue;
            }
        }
        i += 1;
    }
}

fn excerpt(bytes: &[u8], at: usize) -> String {
    let start = at.saturating_sub(40);
    let end = (at + 40).min(bytes.len());
    String::from_utf8_lossy(bytes.get(start..end).unwrap_or(&[])).into_owned()
}

fn check_part(what: &str, part: &[u8]) -> Result<(), String> {
    match find_lan(part) {
        Some(at) => Err(format!("LAN address in {what}: …{}…", excerpt(part, at))),
        None => Ok(()),
    }
}

/// How much of a message sent towards the Internet is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everything but the allowed places (the input came from the templates or was sanitized).
    Full,
    /// Only what the proxy writes itself whatever the input: its own (top) Via of a request.
    OwnVia,
}

/// Checks one message sent from the outbound address to a non-LAN destination. `relay`: with
/// the RTP relay off, SDP is forwarded as it is by design, so the body is not checked.
pub fn check_wan_message(bytes: &[u8], scope: Scope, relay: bool) -> Result<(), String> {
    check_wan_message_except(bytes, scope, relay, |_, _| false)
}

/// [`check_wan_message`], not looking at the header and body lines `skip` names (a known
/// bug's).
pub fn check_wan_message_except(
    bytes: &[u8],
    scope: Scope,
    relay: bool,
    skip: impl Fn(&Message<'_>, &[u8]) -> bool,
) -> Result<(), String> {
    let msg = Message::parse(bytes, Framing::Datagram)
        .map_err(|e| format!("message sent to the WAN does not parse: {e:?}"))?;
    let request = msg.is_request();
    if request {
        let top = msg
            .values(HeaderName::Via)
            .next()
            .ok_or("request without Via")?;
        check_part("the proxy's own (top) Via", top)?;
    }
    if scope == Scope::OwnVia {
        return Ok(());
    }
    if let Some(uri) = msg.request_uri_raw() {
        check_part("the Request-URI", uri)?;
    }
    for h in msg.headers() {
        match h.kind {
            HeaderName::CallId => {}
            HeaderName::Via if request => {}
            HeaderName::Via => {
                // A response's Vias are those of the request's senders (the proxy's own was
                // removed): one naming the inbound address is the proxy's own left behind.
                for v in h.values() {
                    if find_lan(v).is_none() {
                        continue;
                    }
                    match Via::parse(v) {
                        Ok(via)
                            if via.host_raw != super::adapter::INBOUND.to_string().as_bytes() => {}
                        Ok(_) => return check_part("a response's Via of the inbound address", v),
                        Err(_) => return check_part("an unreadable Via of a response", v),
                    }
                }
            }
            _ if skip(&msg, h.line) => {}
            _ => check_part(
                &format!("header {}", String::from_utf8_lossy(h.name)),
                h.line,
            )?,
        }
    }
    if relay {
        for line in msg.body().split(|&b| b == b'\n') {
            if !skip(&msg, line) {
                check_part("the body", line)?;
            }
        }
    }
    Ok(())
}
