//! Pieces of header rewriting (behaviour §4.10): Max-Forwards, own Via and branch, URI
//! host replacement, Call-ID obscuring. Pure functions over parsed views.

use std::fmt::Write as _;

use md5::{Digest, Md5};

use crate::sansio::Transport;
use crate::sip::{HeaderName, Message, Uri, MAGIC_COOKIE};

/// Max-Forwards as siproxd reads it (behaviour §4.1 step 9): absent or out of 0..=255 → 70,
/// not a number → 0 (so `Max-Forwards: abc` is answered 483, behaviour test 22).
pub fn max_forwards(msg: &Message<'_>) -> i64 {
    let Some(h) = msg.first(HeaderName::MaxForwards) else {
        return 70;
    };
    let v = std::str::from_utf8(h.value).unwrap_or("").trim();
    let digits = v.strip_prefix('-').unwrap_or(v);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return 0;
    }
    match v.parse::<i64>() {
        Ok(n) if (0..=255).contains(&n) => n,
        // Out of range (also a number too long for i64) is replaced, as siproxd does.
        _ => 70,
    }
}

/// Lowercase hex of an MD5 digest: 32 characters, kept on the stack (one per forwarded
/// request, for its branch).
pub type Md5Hex = heapless::String<32>;

/// The branch parameter of our Via: the magic cookie and an MD5 in hex.
pub type Branch = heapless::String<39>;

/// Lowercase hex of the MD5 digest of `parts`, concatenated.
pub fn md5_hex(parts: &[&[u8]]) -> Md5Hex {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    let mut s = Md5Hex::new();
    for b in h.finalize() {
        for nibble in [b >> 4, b & 0x0f] {
            if let Some(c) = char::from_digit(u32::from(nibble), 16) {
                // 16 bytes, two digits each: exactly the capacity.
                let _ = s.push(c);
            }
        }
    }
    s
}

/// The branch of our own Via (behaviour §4.10.3): deterministic, so retransmissions, CANCEL
/// and non-2xx ACK of a transaction get the same one.
pub fn branch(msg: &Message<'_>, request_uri: &[u8]) -> Branch {
    let digest = match msg.top_via() {
        Ok(v) if v.is_rfc3261_branch() => md5_hex(&[v.branch().unwrap_or(b"")]),
        top => {
            let via = top.map(|v| v.raw).unwrap_or(b"");
            let to_tag = msg.to().ok().and_then(|t| t.tag()).unwrap_or(b"");
            let from_tag = msg.from().ok().and_then(|f| f.tag()).unwrap_or(b"");
            let call_id = msg.call_id().unwrap_or(b"");
            let mut cseq = heapless::String::<10>::new();
            if let Ok(c) = msg.cseq() {
                let _ = write!(cseq, "{}", c.number);
            }
            md5_hex(&[via, to_tag, from_tag, call_id, cseq.as_bytes(), request_uri])
        }
    };
    let mut b = Branch::new();
    // 7 + 32 bytes: exactly the capacity.
    for &c in MAGIC_COOKIE {
        let _ = b.push(char::from(c));
    }
    let _ = b.push_str(&digest);
    b
}

/// The value of our own Via header.
pub fn own_via(transport: Transport, host: &str, port: u16, branch: &str, rport: bool) -> String {
    let proto = transport.via_token();
    // Sized for the value and an obscured-loop tag, so it is allocated once.
    let mut v = String::with_capacity(host.len() + branch.len() + 96);
    let _ = write!(v, "SIP/2.0/{proto} {host}:{port};branch={branch}");
    if rport {
        v.push_str(";rport");
    }
    v
}

/// `uri` (sip: or sips:) written anew in one pass: its host and port replaced by `hostport`
/// when given, and its `transport` parameter saying `t`: `;transport=tcp` for TCP, none for
/// UDP (the default of a sip: URI, RFC 3261 §19.1.4), so a peer reaches us back over the
/// transport of its side (issue "SIP over TCP", item 3). User, other parameters and headers
/// are kept byte for byte.
pub fn rebuild(
    uri: &Uri<'_>,
    hostport: Option<(&str, Option<u16>)>,
    t: Transport,
) -> Option<String> {
    let raw = std::str::from_utf8(uri.raw).ok()?;
    let at = |part: &[u8]| (part.as_ptr() as usize).checked_sub(uri.raw.as_ptr() as usize);
    let hp_start = at(uri.hostport_raw)?;
    let hp_end = hp_start.checked_add(uri.hostport_raw.len())?;
    let params = uri.params.raw();
    let p_start = at(params)?;
    let p_end = p_start.checked_add(params.len())?;
    let mut s = String::with_capacity(raw.len() + 64);
    s.push_str(raw.get(..hp_start)?);
    match hostport {
        Some((host, port)) => {
            s.push_str(host);
            if let Some(p) = port {
                let _ = write!(s, ":{p}");
            }
        }
        None => s.push_str(raw.get(hp_start..hp_end)?),
    }
    s.push_str(raw.get(hp_end..p_start)?);
    for p in uri.params.iter() {
        if !p.name.eq_ignore_ascii_case(b"transport") {
            s.push_str(std::str::from_utf8(p.item).ok()?);
        }
    }
    if t == Transport::Tcp {
        s.push_str(";transport=tcp");
    }
    s.push_str(raw.get(p_end..)?);
    Some(s)
}

/// Call-ID obscuring marker (behaviour §4.10.7).
pub const OBSCURE_MARKER: &str = "-siproxd";

/// Outgoing request: `abc@h` → `abc-siproxd<tag>@h` unless already marked.
pub fn obscure_call_id(call_id: &str, tag: &str) -> Option<String> {
    let (num, host) = match call_id.split_once('@') {
        Some((n, h)) => (n, Some(h)),
        None => (call_id, None),
    };
    if num.contains(OBSCURE_MARKER) || tag.is_empty() || num.is_empty() {
        return None;
    }
    let mut s = format!("{num}{OBSCURE_MARKER}{tag}");
    if let Some(h) = host {
        s.push('@');
        s.push_str(h);
    }
    Some(s)
}

/// Incoming response: cut the number part at the last marker. `keep_if_tag`: incoming
/// requests keep the marker when the text after it is the From tag (behaviour §4.10.7).
pub fn restore_call_id(call_id: &str, keep_if_tag: Option<&str>) -> Option<String> {
    let (num, host) = match call_id.split_once('@') {
        Some((n, h)) => (n, Some(h)),
        None => (call_id, None),
    };
    let pos = match keep_if_tag {
        None => num.rfind(OBSCURE_MARKER)?,
        Some(tag) => {
            let p = num.find(OBSCURE_MARKER)?;
            if num.get(p + OBSCURE_MARKER.len()..) == Some(tag) {
                return None;
            }
            p
        }
    };
    let mut s = num.get(..pos)?.to_string();
    if let Some(h) = host {
        s.push('@');
        s.push_str(h);
    }
    Some(s)
}

/// Via parameter on our own Via of an incoming request whose Call-ID was restored: it
/// carries the removed tag, so the phone's responses can be obscured again on their way back
/// (the proxy is stateless; the Via is the only thing a response is sure to bring back).
pub const OBSCURED_VIA_PARAM: &str = "x-siproxd-cid";

/// The text after the first obscuring marker of the Call-ID number, if it can be carried in a
/// Via parameter (a token).
pub fn obscured_tag(call_id: &str) -> Option<&str> {
    let num = call_id.split_once('@').map_or(call_id, |(n, _)| n);
    let p = num.find(OBSCURE_MARKER)?;
    let tag = num.get(p + OBSCURE_MARKER.len()..)?;
    let token = |c: char| c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c);
    (!tag.is_empty() && tag.chars().all(token)).then_some(tag)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::Framing;

    fn msg(headers: &str) -> Vec<u8> {
        format!("INVITE sip:bob@example.com SIP/2.0\r\n{headers}Call-ID: c@h\r\nCSeq: 1 INVITE\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\n\r\n").into_bytes()
    }

    #[test]
    fn behaviour_test_22_23_max_forwards_values() {
        for (line, want) in [
            ("", 70),
            ("Max-Forwards: 10\r\n", 10),
            ("Max-Forwards: 0\r\n", 0),
            ("Max-Forwards: 300\r\n", 70),
            ("Max-Forwards: abc\r\n", 0),
            ("Max-Forwards: 0068\r\n", 68),
        ] {
            let b = msg(&format!("Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\n{line}"));
            let m = Message::parse(&b, Framing::Datagram).unwrap();
            assert_eq!(max_forwards(&m), want, "{line:?}");
        }
    }

    #[test]
    fn behaviour_test_32_branch_is_md5_of_received_branch() {
        let b = msg("Via: SIP/2.0/UDP h;branch=z9hG4bKabc\r\n");
        let m = Message::parse(&b, Framing::Datagram).unwrap();
        // MD5("z9hG4bKabc"), computed independently.
        assert_eq!(
            branch(&m, b"sip:x").as_str(),
            format!("z9hG4bK{}", md5_hex(&[b"z9hG4bKabc"]))
        );
        assert_eq!(md5_hex(&[b"abc"]), "900150983cd24fb0d6963f7d28e17f72");
        // RFC 2543 branch: depends on the Request-URI too, and is stable.
        let b2 = msg("Via: SIP/2.0/UDP h;branch=old1\r\n");
        let m2 = Message::parse(&b2, Framing::Datagram).unwrap();
        assert_eq!(branch(&m2, b"sip:x"), branch(&m2, b"sip:x"));
        assert_ne!(branch(&m2, b"sip:x"), branch(&m2, b"sip:y"));
    }

    #[test]
    fn hostport_replacement_keeps_user_and_params() {
        let u = Uri::parse(b"sip:xyz@192.168.1.10:5099;foo=1").unwrap();
        assert_eq!(
            rebuild(&u, Some(("203.0.113.5", Some(5060))), Transport::Udp).unwrap(),
            "sip:xyz@203.0.113.5:5060;foo=1"
        );
        let u = Uri::parse(b"sip:192.168.1.10").unwrap();
        assert_eq!(
            rebuild(&u, Some(("h", None)), Transport::Udp).unwrap(),
            "sip:h"
        );
        // A bracketed IPv6 host and its port go whole.
        let u = Uri::parse(b"sip:a@[fd00::10]:5062;lr").unwrap();
        assert_eq!(
            rebuild(&u, Some(("[2001:db8::5]", Some(5060))), Transport::Tcp).unwrap(),
            "sip:a@[2001:db8::5]:5060;lr;transport=tcp"
        );
    }

    #[test]
    fn transport_parameter_is_set_for_tcp_and_removed_for_udp() {
        let with_transport = |uri: &str, t| rebuild(&Uri::parse(uri.as_bytes()).unwrap(), None, t);
        let tcp = Transport::Tcp;
        assert_eq!(
            with_transport("sip:a@203.0.113.5", tcp).unwrap(),
            "sip:a@203.0.113.5;transport=tcp"
        );
        assert_eq!(
            with_transport("sip:a@h:5070;Transport=UDP;line=x?X=1", tcp).unwrap(),
            "sip:a@h:5070;line=x;transport=tcp?X=1"
        );
        assert_eq!(
            with_transport("sip:a@h;transport=tcp;lr", Transport::Udp).unwrap(),
            "sip:a@h;lr"
        );
        // A ';' in the user part is not a parameter.
        assert_eq!(
            with_transport("sip:+1;phone-context=x@h", Transport::Udp).unwrap(),
            "sip:+1;phone-context=x@h"
        );
    }

    #[test]
    fn behaviour_test_41_call_id_obscuring_round_trip() {
        let o = obscure_call_id("abc@h", "t1").unwrap();
        assert_eq!(o, "abc-siproxdt1@h");
        assert_eq!(obscure_call_id(&o, "t1"), None);
        assert_eq!(restore_call_id(&o, None).unwrap(), "abc@h");
        assert_eq!(restore_call_id(&o, Some("t1")), None);
        assert_eq!(restore_call_id(&o, Some("zz")).unwrap(), "abc@h");
        assert_eq!(restore_call_id("plain@h", None), None);
        assert_eq!(obscured_tag(&o), Some("t1"));
        assert_eq!(obscured_tag("plain@h"), None);
        assert_eq!(obscured_tag("a-siproxd@h"), None);
        assert_eq!(obscured_tag("a-siproxdx;y@h"), None, "not a token");
    }
}
