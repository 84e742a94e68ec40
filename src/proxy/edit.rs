//! The header edits of a forwarded message (behaviour §4.10), as small named passes over the
//! byte-preserving editor. [`Edits`] holds everything decided about one message (owned, so the
//! editor can borrow it); [`Edits::apply`] runs the passes in one fixed order for requests and
//! responses alike. Only the headers named here are touched; every other byte is copied.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use super::hooks::Bufs;
use super::rewrite;
use crate::sansio::Transport;
use crate::sip::{Edit, EditError, Editor, HeaderName, Host, Message, NameAddr, Rport};

/// What names this proxy: its addresses, `host_outbound` and its listen port.
#[derive(Debug, Clone, Copy)]
pub struct Own<'s> {
    pub addrs: super::Addresses,
    pub host_outbound: Option<&'s str>,
    pub port: u16,
}

impl Own<'_> {
    /// Whether `host:port` (port absent = 5060) names this proxy.
    pub fn is_own_hostport(&self, host: &[u8], port: Option<u16>) -> bool {
        port.unwrap_or(5060) == self.port && self.is_own_host(host)
    }

    pub fn is_own_host(&self, host: &[u8]) -> bool {
        let Ok(h) = std::str::from_utf8(host) else {
            return false;
        };
        let h = crate::sip::unbracket(h);
        if h.parse::<IpAddr>().is_ok_and(|ip| self.addrs.is_own(ip)) {
            return true;
        }
        self.host_outbound
            .is_some_and(|ho| ho.eq_ignore_ascii_case(h))
    }
}

/// Our Record-Route entry (behaviour §4.10.5), with `;transport=tcp` when the hop it is
/// written for (the LAN side) is TCP, so the phone's in-dialog requests reach us over TCP.
pub fn own_record_route(host: &str, port: u16, transport: Transport) -> String {
    let t = match transport {
        Transport::Tcp => ";transport=tcp",
        Transport::Udp => "",
    };
    format!("<sip:siproxd@{host}:{port}{t};lr>")
}

/// What happens to Record-Route.
#[derive(Debug, Clone, Default)]
pub enum RecordRoute {
    #[default]
    Keep,
    /// A request to the LAN: ours goes first, so the callee's route set ends with us.
    Prepend(String),
    /// A response to the LAN: ours goes last, so the phone's route set starts with us.
    Append(String),
    /// Towards the Internet: every entry naming us goes (the LAN side of the route set is ours).
    PurgeOwn,
}

/// Where a User-Agent header is added when the message has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UaPlacement {
    /// Requests: above the first Via, where siproxd put it.
    BeforeVia,
    /// Responses: at the end of the headers.
    End,
}

/// A number written into a header (Max-Forwards, Expires, a port): on the stack.
pub type Num = heapless::String<20>;

/// An address in text, bracketed or not (IPv6 at most 39 characters): on the stack.
pub type IpText = heapless::String<48>;

/// `n` in decimal (an integer: 20 characters hold every `i64`).
pub fn num(n: impl Into<i64>) -> Num {
    let n: i64 = n.into();
    let mut s = Num::new();
    // Every integer type fits in 20 digits.
    let _ = write!(s, "{n}");
    s
}

/// Everything decided about one forwarded message, in the order the passes apply it.
#[derive(Debug, Default)]
pub struct Edits<'m> {
    /// Drop the Alert-Info of Asterisk (behaviour §4.10.9).
    pub asterisk_fix: bool,
    pub request_uri: Option<(&'m [u8], String)>,
    /// Route entries naming us (loose route) or moved into the Request-URI (strict router).
    pub remove_routes: Vec<&'m [u8]>,
    /// A response: our own Via (the top one) goes.
    pub pop_via: Option<&'m [u8]>,
    /// A request: note where it really came from in the sender's Via (RFC 3581, §18.2.1):
    /// the source address and port, formatted.
    pub received_from: Option<(IpText, Num)>,
    /// Fill in `rport` even when the sender did not ask for it (stream transports).
    pub force_rport: bool,
    pub contacts: Vec<(NameAddr<'m>, String)>,
    /// A 202 to SUBSCRIBE from a Grandstream phone becomes 404 (behaviour §4.10.8).
    pub grandstream_404: bool,
    pub user_agent: Option<(String, UaPlacement)>,
    /// A request: the new Max-Forwards value (added as 70 when the request had none).
    pub max_forwards: Option<Num>,
    pub record_route: RecordRoute,
    /// A proxied REGISTER without any expiry gets `Expires` (behaviour §4.6 step 3).
    pub expires: Option<Num>,
    pub call_id: Option<String>,
    /// A request: our own Via, inserted on top.
    pub push_via: Option<String>,
    pub body: Option<Vec<u8>>,
}

impl<'m> Edits<'m> {
    /// Notes the source of a request for its sender's Via.
    pub fn received(src: SocketAddr) -> Option<(IpText, Num)> {
        let mut ip = IpText::new();
        // An address is at most 39 characters.
        let _ = write!(ip, "{}", src.ip().to_canonical());
        Some((ip, num(src.port())))
    }

    /// Applies every decided edit to `ed`; `own` tells which Record-Route entries are ours.
    /// `plugin`: the plugins' edits and body for this message.
    pub fn apply<'e>(
        &'e self,
        msg: &Message<'m>,
        ed: &mut Editor<'_, 'm, 'e>,
        own: &Own<'_>,
        plugin: Option<&'e Bufs>,
    ) -> Result<(), EditError> {
        if self.asterisk_fix {
            remove_asterisk_alert_info(msg, ed)?;
        }
        if let Some(p) = plugin {
            if !p.edits.remove_headers.is_empty() {
                // A line a plugin strips takes the proxy's own edits of it along (e.g. our
                // Record-Route purged from a Record-Route line plugin_stripheader removes).
                ed.absorb_in_deletions();
            }
            for &i in &p.edits.remove_headers {
                ed.remove_header(i)?;
            }
            for (range, new) in p.edits.replacements() {
                ed.push(Edit::replace(range, new.as_bytes()))?;
            }
        }
        if let Some((old, new)) = &self.request_uri {
            ed.replace(old, new.as_bytes())?;
        }
        remove_values(msg, ed, HeaderName::Route, &self.remove_routes)?;
        if let Some(v) = self.pop_via {
            ed.remove_value(v)?;
        }
        if let Some((ip, port)) = &self.received_from {
            mark_received(msg, ed, ip, port, self.force_rport)?;
        }
        for (na, new) in &self.contacts {
            ed.replace_addr_uri(na, new.as_bytes())?;
        }
        if self.grandstream_404 {
            if let Some(code) = status_code_slice(msg) {
                ed.replace(code, b"404")?;
            }
        }
        if let Some((ua, placement)) = &self.user_agent {
            set_user_agent(msg, ed, ua.as_bytes(), *placement)?;
        }
        if let Some(mf) = &self.max_forwards {
            set_max_forwards(msg, ed, mf)?;
        }
        record_route(msg, ed, &self.record_route, own)?;
        if let Some(e) = &self.expires {
            ed.append_header(b"Expires", e.as_bytes())?;
        }
        if let (Some(new), Some(h)) = (&self.call_id, msg.first(HeaderName::CallId)) {
            ed.replace(h.value, new.as_bytes())?;
        }
        if let Some(via) = &self.push_via {
            ed.insert_header_before(HeaderName::Via, b"Via", via.as_bytes())?;
        }
        match plugin.filter(|p| p.has_body) {
            Some(p) => {
                ed.set_body(&p.body);
            }
            None => {
                if let Some(b) = &self.body {
                    ed.set_body(b);
                }
            }
        }
        Ok(())
    }
}

/// Removes `values` (slices of this message's `kind` headers): a header line all of whose
/// values go is removed whole (two neighbouring removals in one line would overlap at their
/// comma).
pub fn remove_values(
    msg: &Message<'_>,
    ed: &mut Editor<'_, '_, '_>,
    kind: HeaderName,
    values: &[&[u8]],
) -> Result<(), EditError> {
    if values.is_empty() {
        return Ok(());
    }
    let gone = |v: &[u8]| values.iter().any(|x| std::ptr::eq(*x, v));
    for h in msg.headers_of(kind) {
        let mut any = false;
        let mut all = true;
        for v in h.values() {
            if gone(v) {
                any = true;
            } else {
                all = false;
            }
        }
        if !any {
            continue;
        }
        if all {
            ed.remove_header(h.index)?;
            continue;
        }
        for v in h.values().filter(|v| gone(v)) {
            ed.remove_value(v)?;
        }
    }
    Ok(())
}

/// Removes the first Alert-Info line of messages from Asterisk PBX (behaviour §4.10.9).
pub fn remove_asterisk_alert_info(
    msg: &Message<'_>,
    ed: &mut Editor<'_, '_, '_>,
) -> Result<(), EditError> {
    let asterisk = msg
        .first(HeaderName::UserAgent)
        .is_some_and(|h| h.value == b"Asterisk PBX");
    if asterisk {
        if let Some(h) = msg.headers_named(b"Alert-Info").next() {
            ed.remove_header(h.index)?;
        }
    }
    Ok(())
}

/// RFC 3581 / RFC 3261 §18.2.1 on the sender's Via, so responses find the way back: `rport`
/// filled in when asked for, `received` when the Via names another host than the source.
pub fn mark_received<'e>(
    msg: &Message<'_>,
    ed: &mut Editor<'_, '_, 'e>,
    src_ip: &'e str,
    src_port: &'e str,
    force_rport: bool,
) -> Result<(), EditError> {
    let Ok(top) = msg.top_via() else {
        return Ok(());
    };
    // An IPv6 sent-by is bracketed, `received` is not (RFC 3261 §25.1): compare addresses.
    let host_is_src = match (top.host, src_ip.parse::<std::net::IpAddr>()) {
        (Host::Ipv4(a), Ok(s)) => std::net::IpAddr::V4(a) == s,
        (Host::Ipv6(a), Ok(s)) => std::net::IpAddr::V6(a).to_canonical() == s,
        _ => top.host_raw == src_ip.as_bytes(),
    };
    match top.rport() {
        Some(Rport::Flag) => {
            ed.set_param(&top.params, b"rport", Some(src_port.as_bytes()))?;
            if !host_is_src {
                ed.set_param(&top.params, b"received", Some(src_ip.as_bytes()))?;
            }
        }
        None if force_rport => {
            ed.set_param(&top.params, b"rport", Some(src_port.as_bytes()))?;
            if !host_is_src {
                ed.set_param(&top.params, b"received", Some(src_ip.as_bytes()))?;
            }
        }
        _ if !host_is_src && top.received().is_none() => {
            ed.set_param(&top.params, b"received", Some(src_ip.as_bytes()))?;
        }
        _ => {}
    }
    Ok(())
}

/// The configured User-Agent replaces the message's, or is added (behaviour §4.10.6).
pub fn set_user_agent<'e>(
    msg: &Message<'_>,
    ed: &mut Editor<'_, '_, 'e>,
    ua: &'e [u8],
    placement: UaPlacement,
) -> Result<(), EditError> {
    match (msg.first(HeaderName::UserAgent), placement) {
        (Some(h), _) => ed.replace(h.value, ua)?,
        (None, UaPlacement::BeforeVia) => {
            ed.insert_header_before(HeaderName::Via, b"User-Agent", ua)?
        }
        (None, UaPlacement::End) => ed.append_header(b"User-Agent", ua)?,
    };
    Ok(())
}

/// Max-Forwards set to `value`, or added as 70 when the request had none.
pub fn set_max_forwards<'e>(
    msg: &Message<'_>,
    ed: &mut Editor<'_, '_, 'e>,
    value: &'e str,
) -> Result<(), EditError> {
    match msg.first(HeaderName::MaxForwards) {
        Some(h) => ed.replace(h.value, value.as_bytes())?,
        None => ed.append_header(b"Max-Forwards", b"70")?,
    };
    Ok(())
}

/// Record-Route as [`RecordRoute`] says.
pub fn record_route<'e>(
    msg: &Message<'_>,
    ed: &mut Editor<'_, '_, 'e>,
    what: &'e RecordRoute,
    own: &Own<'_>,
) -> Result<(), EditError> {
    match what {
        RecordRoute::Keep => {}
        RecordRoute::Prepend(rr) => {
            ed.insert_header_before(HeaderName::RecordRoute, b"Record-Route", rr.as_bytes())?;
        }
        RecordRoute::Append(rr) => match msg.headers_of(HeaderName::RecordRoute).last() {
            Some(h) => {
                let end = msg
                    .range_of(h.line)
                    .map(|r| r.end)
                    .ok_or(EditError::OutOfRange)?;
                ed.push(crate::sip::Edit::insert_header(
                    end,
                    b"Record-Route",
                    rr.as_bytes(),
                ))?;
            }
            None => {
                ed.append_header(b"Record-Route", rr.as_bytes())?;
            }
        },
        RecordRoute::PurgeOwn => {
            for rr in msg.record_routes().filter_map(Result::ok) {
                if own.is_own_hostport(rr.uri.host_raw, rr.uri.port) {
                    ed.remove_value(rr.raw)?;
                }
            }
        }
    }
    Ok(())
}

/// The byte range of the status code in a status line.
fn status_code_slice<'a>(msg: &Message<'a>) -> Option<&'a [u8]> {
    let start = msg.start_offset();
    msg.buffer().get(start + 8..start + 11)
}

/// Call-ID obscuring (behaviour §4.10.7): the Call-ID a message leaves with, if it changes.
/// `towards_lan` is the message's direction; `enabled` is `obscure_loops`.
pub fn obscured_call_id(msg: &Message<'_>, towards_lan: bool, enabled: bool) -> Option<String> {
    if !enabled || msg.cseq().is_ok_and(|c| c.method == b"REGISTER") {
        return None;
    }
    let call_id = std::str::from_utf8(msg.call_id().ok()?).ok()?;
    let from_tag = std::str::from_utf8(msg.from().ok()?.tag()?).ok()?;
    match (msg.is_request(), towards_lan) {
        (true, false) => rewrite::obscure_call_id(call_id, from_tag),
        (true, true) => rewrite::restore_call_id(call_id, Some(from_tag)),
        (false, true) => rewrite::restore_call_id(call_id, None),
        // The phone's response to a request whose Call-ID we restored: obscured again with
        // the tag our Via carried. siproxd did this for BYE only, with the To tag, which also
        // broke the 200 to a BYE of calls that were never obscured.
        (false, false) => {
            let via = msg.top_via().ok()?;
            let tag = via.params.get(rewrite::OBSCURED_VIA_PARAM)?.value?;
            rewrite::obscure_call_id(call_id, std::str::from_utf8(tag).ok()?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::Framing;

    const OWN: Own<'static> = Own {
        addrs: crate::proxy::Addresses {
            inbound: IpAddr::V4(std::net::Ipv4Addr::new(192, 168, 1, 1)),
            outbound: Some(IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 5))),
            inbound_alt: None,
            outbound_alt: Some(IpAddr::V6(std::net::Ipv6Addr::new(
                0x2001, 0xdb8, 0, 0, 0, 0, 0, 5,
            ))),
        },
        host_outbound: None,
        port: 5060,
    };

    fn edited(text: &str, f: impl FnOnce(&Message<'_>, &mut Editor<'_, '_, '_>)) -> String {
        let text = text.replace('\n', "\r\n");
        let msg = Message::parse(text.as_bytes(), Framing::Datagram).unwrap();
        let mut ed = Editor::new(&msg);
        f(&msg, &mut ed);
        let mut out = Vec::new();
        ed.emit_vec(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    const REQ: &str = "INVITE sip:b@h SIP/2.0\nVia: SIP/2.0/UDP 10.0.0.1:5062;rport;branch=z9hG4bKa\nRecord-Route: <sip:p1@x;lr>\nRecord-Route: <sip:siproxd@192.168.1.1:5060;lr>\nMax-Forwards: 9\nFrom: <sip:a@h>;tag=1\nTo: <sip:b@h>\nCall-ID: c\nCSeq: 1 INVITE\nContent-Length: 0\n\n";

    #[test]
    fn received_and_rport_name_the_real_source() {
        let out = edited(REQ, |m, ed| {
            mark_received(m, ed, "198.51.100.7", "40000", false).unwrap();
        });
        assert!(out.contains(
            "Via: SIP/2.0/UDP 10.0.0.1:5062;rport=40000;branch=z9hG4bKa;received=198.51.100.7\r\n"
        ));
        // The Via already names the source and asked for no rport: nothing to add.
        let plain = REQ.replace(";rport", "");
        let out = edited(&plain, |m, ed| {
            mark_received(m, ed, "10.0.0.1", "5062", false).unwrap();
        });
        assert_eq!(out, plain.replace('\n', "\r\n"));
        // Over TCP the response needs the connection's port: rport is always noted.
        let out = edited(&plain, |m, ed| {
            mark_received(m, ed, "10.0.0.1", "40001", true).unwrap();
        });
        assert!(out.contains("Via: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKa;rport=40001\r\n"));
    }

    #[test]
    fn record_route_prepends_appends_or_purges_ours() {
        // The editor borrows the edit for as long as the helper's closure may keep it.
        let prepend: &'static RecordRoute = Box::leak(Box::new(RecordRoute::Prepend(
            own_record_route("192.168.1.1", 5060, Transport::Udp),
        )));
        let out = edited(REQ, |m, ed| record_route(m, ed, prepend, &OWN).unwrap());
        assert!(out.contains(
            "Record-Route: <sip:siproxd@192.168.1.1:5060;lr>\r\nRecord-Route: <sip:p1@x;lr>\r\n"
        ));
        let append: &'static RecordRoute =
            Box::leak(Box::new(RecordRoute::Append("<sip:z;lr>".into())));
        let out = edited(REQ, |m, ed| record_route(m, ed, append, &OWN).unwrap());
        assert!(out.contains("192.168.1.1:5060;lr>\r\nRecord-Route: <sip:z;lr>\r\nMax-Forwards"));
        let out = edited(REQ, |m, ed| {
            record_route(m, ed, &RecordRoute::PurgeOwn, &OWN).unwrap()
        });
        assert!(out.contains("Record-Route: <sip:p1@x;lr>\r\nMax-Forwards"));
        assert!(!out.contains("siproxd@"));
    }

    #[test]
    fn user_agent_is_replaced_or_added_where_placement_says() {
        let out = edited(REQ, |m, ed| {
            set_user_agent(m, ed, b"r1", UaPlacement::BeforeVia).unwrap()
        });
        assert!(out.starts_with("INVITE sip:b@h SIP/2.0\r\nUser-Agent: r1\r\nVia:"));
        let out = edited(REQ, |m, ed| {
            set_user_agent(m, ed, b"r1", UaPlacement::End).unwrap()
        });
        assert!(out.ends_with("Content-Length: 0\r\nUser-Agent: r1\r\n\r\n"));
        let with_ua = REQ.replace("Call-ID: c\n", "Call-ID: c\nUser-Agent: phone 1.0\n");
        let out = edited(&with_ua, |m, ed| {
            set_user_agent(m, ed, b"r1", UaPlacement::End).unwrap()
        });
        assert!(out.contains("\r\nUser-Agent: r1\r\nCSeq"));
        assert!(!out.contains("phone 1.0"));
    }

    #[test]
    fn max_forwards_is_set_or_added() {
        let out = edited(REQ, |m, ed| set_max_forwards(m, ed, "8").unwrap());
        assert!(out.contains("\r\nMax-Forwards: 8\r\n"));
        let none = REQ.replace("Max-Forwards: 9\n", "");
        let out = edited(&none, |m, ed| set_max_forwards(m, ed, "8").unwrap());
        assert!(out.contains("\r\nMax-Forwards: 70\r\n\r\n"));
    }

    #[test]
    fn own_hostport_needs_our_port_and_one_of_our_names() {
        assert!(OWN.is_own_hostport(b"192.168.1.1", None));
        assert!(OWN.is_own_hostport(b"203.0.113.5", Some(5060)));
        assert!(!OWN.is_own_hostport(b"203.0.113.5", Some(5070)));
        assert!(!OWN.is_own_hostport(b"198.51.100.1", None));
        // A dual-stack side's IPv6 address is ours too; a mapped IPv4 one is the IPv4 one.
        assert!(OWN.is_own_hostport(b"[2001:db8::5]", None));
        assert!(OWN.is_own_hostport(b"[::ffff:192.168.1.1]", Some(5060)));
        assert!(!OWN.is_own_hostport(b"[2001:db8::6]", None));
        let named = Own {
            host_outbound: Some("sip.example.org"),
            ..OWN
        };
        assert!(named.is_own_hostport(b"SIP.example.org", None));
    }
}
