//! Request and response forwarding with the header rewriting of behaviour §4.8–§4.11.
//! Only the headers named there are touched; every other byte is copied as received.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::net::IpAddr;

use super::direction::{reg_uri, Direction};
use super::media::Body;
use super::rewrite::{self, own_via};
use super::{uri_host, Drop, Media, Origin, Proxy};
use crate::logging::PROXY;
use crate::sansio::Transport;
use crate::sip::{
    Contact, EditError, Editor, HeaderName, Host, Message, NameAddr, Rport, Scheme, Uri, Via,
};

/// Where a message goes: a host (name or literal) and an optional port.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Hop {
    host: String,
    port: Option<u16>,
}

impl Hop {
    fn of_uri(uri: &Uri<'_>) -> Option<Hop> {
        let host = std::str::from_utf8(uri.host_raw).ok()?;
        if host.is_empty() {
            return None;
        }
        // A maddr parameter overrides the host (RFC 3261 §19.1.1).
        let host = uri
            .param("maddr")
            .flatten()
            .and_then(|m| std::str::from_utf8(m).ok())
            .unwrap_or(host);
        // No port: the resolver looks up `_sip._udp` SRV records first (RFC 3263 §4.2), then
        // A records on 5060; an IP literal without port is 5060 directly.
        Some(Hop {
            host: host.to_string(),
            port: uri.port,
        })
    }

    /// A literal broadcast, multicast or unspecified address: never a next hop (RFC 4475
    /// §3.3.10: a response is not sent to a broadcast address a Via names).
    fn is_not_unicast(&self) -> bool {
        let h = self.host.trim_start_matches('[').trim_end_matches(']');
        match h.parse::<IpAddr>() {
            Ok(IpAddr::V4(a)) => a.is_broadcast() || a.is_multicast() || a.is_unspecified(),
            Ok(IpAddr::V6(a)) => a.is_multicast() || a.is_unspecified(),
            Err(_) => false,
        }
    }
}

fn own_rr(host: &str, port: u16) -> String {
    format!("<sip:siproxd@{host}:{port};lr>")
}

/// The byte range of the status code in a status line, for the Grandstream hack.
fn status_code_slice<'a>(msg: &Message<'a>) -> Option<&'a [u8]> {
    let start = msg.start_offset();
    msg.buffer().get(start + 8..start + 11)
}

/// Removes the first Alert-Info line of messages from Asterisk PBX (behaviour §4.10.9).
fn asterisk_fix(msg: &Message<'_>, ed: &mut Editor<'_, '_, '_>) -> Result<(), EditError> {
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

impl Proxy {
    /// The outbound proxy for a message from the LAN (behaviour §4.11): per From domain first,
    /// then the global one.
    fn outbound_proxy(&self, msg: &Message<'_>) -> Option<Hop> {
        let from = msg.from().ok()?;
        let domain = std::str::from_utf8(from.uri.host_raw).ok()?;
        let c = &self.cfg;
        for (i, name) in c.outbound_domain_name.iter().enumerate() {
            if name.eq_ignore_ascii_case(domain) {
                let host = c.outbound_domain_host.get(i)?;
                let port = c.outbound_domain_port.get(i).copied().unwrap_or(5060);
                return Some(Hop {
                    host: host.clone(),
                    port: Some(port),
                });
            }
        }
        let host = c.outbound_proxy_host.as_ref()?;
        let port = match c.outbound_proxy_port {
            0 => 5060,
            p => p,
        };
        Some(Hop {
            host: host.clone(),
            port: Some(port),
        })
    }

    /// New Contact URIs for a message leaving towards the Internet (§4.10.1): the masqueraded
    /// identity for a registered contact, else the same URI on our public address.
    fn masquerade_contacts<'a>(
        &self,
        msg: &Message<'a>,
        public: &str,
    ) -> Vec<(NameAddr<'a>, String)> {
        let mut out = Vec::new();
        for c in msg.contacts() {
            let Ok(Contact::Addr(na)) = c else { continue };
            if !matches!(na.uri.scheme, Scheme::Sip | Scheme::Sips) {
                // tel:, mailto:, http: ... carry no host of ours: left as they are. A sips:
                // Contact does, so it is masqueraded like sip: (it must not leak the LAN).
                continue;
            }
            let registered = reg_uri(&na.uri)
                .and_then(|u| self.registry.find_by_true_url(&u))
                .and_then(|hit| self.registry.entry(hit.slot))
                .map(|e| e.masq_url().to_string());
            let new = match registered {
                Some(m) => Some(m),
                None => rewrite::replace_hostport(&na.uri, public, Some(self.cfg.sip_listen_port)),
            };
            if let Some(n) = new {
                out.push((na, n));
            }
        }
        out
    }

    /// Forwards a request (behaviour §4.8). `add_expires`: a proxied REGISTER without any
    /// expiry gets `Expires: default_expires` (§4.6 step 3).
    pub(super) fn forward_request(
        &mut self,
        now: u64,
        origin: &Origin,
        msg: &Message<'_>,
        add_expires: Option<u32>,
        media: &mut dyn Media,
    ) {
        let method = msg.method().unwrap_or(b"");
        let Some(ruri_raw) = msg.request_uri_raw() else {
            return;
        };
        let Ok(ruri) = Uri::parse(ruri_raw) else {
            self.drop_msg(Drop::Invalid, origin, "Request-URI does not parse");
            return;
        };
        if ruri.scheme != Scheme::Sip {
            // sips needs TLS and tel a gateway: neither is something this proxy can reach.
            if method == b"ACK" {
                self.drop_msg(
                    Drop::Invalid,
                    origin,
                    "ACK for a Request-URI that is not sip:",
                );
            } else {
                self.respond(origin, msg, 416, "Unsupported URI Scheme", &[]);
            }
            return;
        }

        // Route pre-processing (§4.10.5): a strict router put our Record-Route into the
        // Request-URI; and a loose Route naming us is ours to remove.
        let routes: Vec<NameAddr<'_>> = msg.routes().filter_map(Result::ok).collect();
        let mut removed_routes: Vec<&[u8]> = Vec::new();
        let mut strict_ruri: Option<Uri<'_>> = None;
        if ruri.user == Some(b"siproxd") && self.is_own_hostport(ruri.host_raw, ruri.port) {
            if let Some(last) = routes.last() {
                strict_ruri = Some(last.uri);
                removed_routes.push(last.raw);
            }
        }
        if let Some(top) = routes.first() {
            if self.is_own_hostport(top.uri.host_raw, top.uri.port)
                && !removed_routes.contains(&top.raw)
            {
                removed_routes.push(top.raw);
            }
        }
        let remaining_route = routes
            .iter()
            .find(|r| !removed_routes.contains(&r.raw))
            .map(|r| r.uri);

        let dir = self.request_direction(now, origin, msg);
        log::debug!(target: PROXY, "request {} from {}: {dir:?}", String::from_utf8_lossy(method), origin.src);
        let (from_ip, incoming, slot) = match dir {
            Direction::Unknown => {
                self.counters.drop(super::Drop::UnknownDirection);
                log::info!(
                    "{} for {} from {}: neither side is registered, answering 408",
                    String::from_utf8_lossy(method),
                    String::from_utf8_lossy(ruri_raw),
                    origin.src
                );
                self.respond(origin, msg, 408, "Request Timeout", &[]);
                return;
            }
            Direction::Incoming(slot) => (self.addrs.inbound, true, slot),
            Direction::Outgoing => match self.addrs.outbound {
                Some(ip) => (ip, false, None),
                None => {
                    self.counters.drop(super::Drop::OutboundDown);
                    self.respond(origin, msg, 408, "Request Timeout", &[]);
                    return;
                }
            },
        };
        let Some(public) = self.public_host() else {
            self.respond(origin, msg, 408, "Request Timeout", &[]);
            return;
        };

        // New Request-URI: the registered contact for incoming requests.
        let mut new_ruri: Option<String> = None;
        if incoming {
            if let Some(slot) = slot {
                let now_s = now / 1000;
                let best = self
                    .registry
                    .live_bindings(now_s, slot)
                    .max_by_key(|b| b.updated)
                    .map(|b| b.true_url.to_string());
                new_ruri = best;
            }
        } else if let Some(u) = strict_ruri {
            new_ruri = std::str::from_utf8(u.raw).ok().map(str::to_string);
        }
        let final_ruri_bytes: Vec<u8> = new_ruri
            .as_ref()
            .map(|s| s.as_bytes().to_vec())
            .unwrap_or_else(|| ruri_raw.to_vec());

        // Next hop (§4.8 step 8).
        let hop = if incoming {
            Uri::parse(&final_ruri_bytes)
                .ok()
                .and_then(|u| Hop::of_uri(&u))
        } else if let Some(r) = remaining_route {
            Hop::of_uri(&r)
        } else if let Some(p) = self.outbound_proxy(msg) {
            Some(p)
        } else {
            Uri::parse(&final_ruri_bytes)
                .ok()
                .and_then(|u| Hop::of_uri(&u))
        };
        let Some(hop) = hop else {
            self.drop_msg(Drop::Unroutable, origin, "no next hop");
            return;
        };
        if hop.is_not_unicast() {
            self.drop_msg(
                Drop::Unroutable,
                origin,
                &format!("next hop {} is not unicast", hop.host),
            );
            return;
        }

        // Media (§5.6 teardown, §5.1 rewrite): all or nothing.
        if matches!(method, b"BYE" | b"CANCEL") {
            if let Some(cid) = media_call_id(msg) {
                let n = media.close_call(&cid);
                if n > 0 {
                    log::debug!(target: PROXY, "{} closed {n} relay stream(s) of {cid}", String::from_utf8_lossy(method));
                }
            }
        }
        let body = match self.relay_media(now, origin, msg, incoming, media) {
            Body::Unchanged => None,
            Body::Rewritten(b) => Some(b),
            Body::Reject(code, reason) => {
                self.counters.drop(Drop::Media);
                self.respond(origin, msg, code, reason, &[]);
                return;
            }
        };
        // An ACK with SDP answers the offer of a 2xx (late offer): the session is agreed.
        if method == b"ACK" && body.is_some() {
            if let (Some(cid), Ok(c)) = (media_call_id(msg), msg.cseq()) {
                media.confirm_call(&cid, c.number);
            }
        }

        // Values that the edits borrow; computed first so they outlive the editor.
        let contacts = if incoming {
            Vec::new()
        } else {
            self.masquerade_contacts(msg, &public)
        };
        let mf = rewrite::max_forwards(msg);
        let mf_value = (mf - 1).max(0).to_string();
        let via_host = if incoming {
            uri_host(self.addrs.inbound)
        } else {
            public.clone()
        };
        let port = self.cfg.sip_listen_port;
        let branch = rewrite::branch(msg, &final_ruri_bytes);
        let rport_bit = if incoming { 1 } else { 2 };
        let mut via = own_via(
            origin.transport,
            &via_host,
            port,
            &branch,
            self.cfg.use_rport & rport_bit != 0,
        );
        let call_id_new = self.obscured_call_id(msg, incoming);
        if incoming && call_id_new.is_some() {
            if let Some(tag) = msg
                .call_id()
                .ok()
                .and_then(|c| std::str::from_utf8(c).ok())
                .and_then(rewrite::obscured_tag)
            {
                via.push(';');
                via.push_str(rewrite::OBSCURED_VIA_PARAM);
                via.push('=');
                via.push_str(tag);
            }
        }
        let rr = own_rr(&uri_host(self.addrs.inbound), port);
        let src_ip = origin.src.ip().to_canonical().to_string();
        let src_port = origin.src.port().to_string();
        let expires_value = add_expires.map(|e| e.to_string());
        let ua_string = self.cfg.ua_string.clone();

        let result = (|| -> Result<(), EditError> {
            let mut ed = Editor::new(msg);
            asterisk_fix(msg, &mut ed)?;
            if let Some(r) = &new_ruri {
                ed.replace(ruri_raw, r.as_bytes())?;
            }
            for r in &removed_routes {
                ed.remove_value(r)?;
            }
            // RFC 3581 / RFC 3261 §18.2.1 on the sender's Via, so responses find the way back.
            if let Ok(top) = msg.top_via() {
                let host_is_src = top.host_raw == src_ip.as_bytes();
                match top.rport() {
                    Some(Rport::Flag) => {
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
            }
            for (na, new) in &contacts {
                ed.replace_addr_uri(na, new.as_bytes())?;
            }
            if !incoming {
                if let Some(ua) = ua_string.as_deref() {
                    match msg.first(HeaderName::UserAgent) {
                        Some(h) => ed.replace(h.value, ua.as_bytes())?,
                        None => {
                            ed.insert_header_before(HeaderName::Via, b"User-Agent", ua.as_bytes())?
                        }
                    };
                }
            }
            match msg.first(HeaderName::MaxForwards) {
                Some(h) => ed.replace(h.value, mf_value.as_bytes())?,
                None => ed.append_header(b"Max-Forwards", b"70")?,
            };
            if incoming {
                ed.insert_header_before(HeaderName::RecordRoute, b"Record-Route", rr.as_bytes())?;
            } else {
                self.purge_own_record_routes(msg, &mut ed)?;
            }
            if let Some(e) = &expires_value {
                ed.append_header(b"Expires", e.as_bytes())?;
            }
            if let (Some(new), Some(h)) = (&call_id_new, msg.first(HeaderName::CallId)) {
                ed.replace(h.value, new.as_bytes())?;
            }
            ed.insert_header_before(HeaderName::Via, b"Via", via.as_bytes())?;
            if let Some(b) = &body {
                ed.set_body(b);
            }
            self.emit_to(now, ed, from_ip, origin.transport, &hop)
        })();
        if let Err(e) = result {
            self.drop_msg(Drop::Rewrite, origin, &format!("rewriting failed: {e:?}"));
        }
    }

    /// Removes every Record-Route entry naming this proxy (outgoing messages, §4.10.5).
    fn purge_own_record_routes(
        &self,
        msg: &Message<'_>,
        ed: &mut Editor<'_, '_, '_>,
    ) -> Result<(), EditError> {
        for rr in msg.record_routes().filter_map(Result::ok) {
            if self.is_own_hostport(rr.uri.host_raw, rr.uri.port) {
                ed.remove_value(rr.raw)?;
            }
        }
        Ok(())
    }

    /// Call-ID obscuring (§4.10.7, only with `obscure_loops`; never for REGISTER).
    fn obscured_call_id(&self, msg: &Message<'_>, incoming: bool) -> Option<String> {
        if !self.cfg.obscure_loops || msg.cseq().is_ok_and(|c| c.method == b"REGISTER") {
            return None;
        }
        let call_id = std::str::from_utf8(msg.call_id().ok()?).ok()?;
        let from_tag = std::str::from_utf8(msg.from().ok()?.tag()?).ok()?;
        match (msg.is_request(), incoming) {
            (true, false) => rewrite::obscure_call_id(call_id, from_tag),
            (true, true) => rewrite::restore_call_id(call_id, Some(from_tag)),
            (false, true) => rewrite::restore_call_id(call_id, None),
            // The phone's response to a request whose Call-ID we restored: obscured again
            // with the tag our Via carried. siproxd did this for BYE only, with the To tag,
            // which also broke the 200 to a BYE of calls that were never obscured.
            (false, false) => {
                let via = msg.top_via().ok()?;
                let tag = via.params.get(rewrite::OBSCURED_VIA_PARAM)?.value?;
                rewrite::obscure_call_id(call_id, std::str::from_utf8(tag).ok()?)
            }
        }
    }

    /// Writes the edited message into the outbox (or the DNS queue) towards `hop`.
    fn emit_to(
        &mut self,
        now: u64,
        mut ed: Editor<'_, '_, '_>,
        from: IpAddr,
        transport: Transport,
        hop: &Hop,
    ) -> Result<(), EditError> {
        let len = ed.output_len()?;
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        buf.resize(len, 0);
        let written = ed.emit(&mut buf);
        let result = match written {
            Ok(n) => {
                let bytes = buf.get(..n).unwrap_or(&[]);
                crate::logging::dump(crate::logging::NETTRAF, bytes);
                let source = std::net::SocketAddr::new(from, self.cfg.sip_listen_port);
                self.send_to_host(now, source, transport, &hop.host, hop.port, bytes);
                Ok(())
            }
            Err(e) => Err(e),
        };
        self.scratch = buf;
        result
    }

    /// Forwards a response (behaviour §4.9): removes our Via and sends it along the next one.
    pub(super) fn forward_response(
        &mut self,
        now: u64,
        origin: &Origin,
        msg: &Message<'_>,
        media: &mut dyn Media,
    ) {
        let Ok(top) = msg.top_via() else {
            return;
        };
        if !self.is_own_hostport(top.host_raw, top.port) {
            // RFC 3261 §16.11: a stateless proxy drops responses that are not for it.
            self.counters.drop(Drop::ResponseNotOurs);
            log::debug!(target: PROXY, "response from {} with a foreign top Via dropped", origin.src);
            return;
        }
        let Some(Ok(next)) = msg.vias().nth(1) else {
            self.drop_msg(Drop::Invalid, origin, "response has no Via below ours");
            return;
        };
        let via_hop = response_hop(&next);
        if via_hop.is_not_unicast() {
            self.drop_msg(
                Drop::Unroutable,
                origin,
                &format!("next Via {} is not unicast", via_hop.host),
            );
            return;
        }
        let dir = self.response_direction(now, origin, msg, Some((next.host_raw, next.port)));
        let code = msg.status_code().unwrap_or(0);
        let cseq = msg.cseq().ok();
        let cseq_method = cseq.map(|c| c.method).unwrap_or(b"");
        log::debug!(target: PROXY, "response {code} from {}: {dir:?}", origin.src);
        let (from_ip, incoming, slot) = match dir {
            Direction::Unknown => {
                self.drop_msg(
                    Drop::UnknownDirection,
                    origin,
                    "response for an unknown party",
                );
                return;
            }
            Direction::Incoming(slot) => (self.addrs.inbound, true, slot),
            Direction::Outgoing => match self.addrs.outbound {
                Some(ip) => (ip, false, None),
                None => {
                    self.drop_msg(Drop::OutboundDown, origin, "outbound interface is down");
                    return;
                }
            },
        };
        let Some(public) = self.public_host() else {
            self.drop_msg(Drop::OutboundDown, origin, "no public address");
            return;
        };
        // Behaviour §4.9 step 5: a response from a local UA follows a Route, else the
        // outbound proxy (the provider may accept traffic only from it), else the Via.
        let hop = if incoming {
            via_hop
        } else {
            msg.routes()
                .next()
                .and_then(Result::ok)
                .and_then(|r| Hop::of_uri(&r.uri))
                .or_else(|| self.outbound_proxy(msg))
                .unwrap_or(via_hop)
        };

        // REGISTER 2xx from the registrar: the binding becomes live (decisions §4), and the
        // masqueraded Contacts are turned back into the phone's own.
        let mut contacts: Vec<(NameAddr<'_>, String)> = Vec::new();
        if incoming && cseq_method == b"REGISTER" {
            if let Some(slot) = slot {
                contacts = self.register_response(now, msg, slot, code);
            }
        } else if !incoming {
            contacts = self.masquerade_contacts(msg, &public);
        }
        let grandstream = incoming
            && code == 202
            && cseq_method == b"SUBSCRIBE"
            && msg.first(HeaderName::UserAgent).is_some_and(|h| {
                h.value.len() >= 11
                    && h.value
                        .get(..11)
                        .is_some_and(|p| p.eq_ignore_ascii_case(b"grandstream"))
            });
        let offer_answer = matches!(cseq_method, b"INVITE" | b"UPDATE");
        if code >= 400 && offer_answer {
            // The failed offer is undone; an established call keeps its media (§5.6).
            if let (Some(cid), Some(c)) = (media_call_id(msg), cseq) {
                let n = media.close_call_up_to_cseq(&cid, c.number);
                if n > 0 {
                    log::debug!(target: PROXY, "{code} closed {n} relay stream(s) of {cid}");
                }
            }
        }
        let body = match self.relay_media(now, origin, msg, incoming, media) {
            Body::Unchanged => None,
            Body::Rewritten(b) => Some(b),
            Body::Reject(code, reason) => {
                self.drop_msg(
                    Drop::Media,
                    origin,
                    &format!("SDP not relayable ({code} {reason})"),
                );
                return;
            }
        };
        // With or without SDP (after a reliable 183 the 2xx need not repeat it), a 2xx makes
        // the call's streams the agreed session.
        if (200..300).contains(&code) && offer_answer {
            if let (Some(cid), Some(c)) = (media_call_id(msg), cseq) {
                media.confirm_call(&cid, c.number);
            }
        }
        let rr = own_rr(&uri_host(self.addrs.inbound), self.cfg.sip_listen_port);
        let call_id_new = self.obscured_call_id(msg, incoming);
        let ua_string = self.cfg.ua_string.clone();

        let result = (|| -> Result<(), EditError> {
            let mut ed = Editor::new(msg);
            asterisk_fix(msg, &mut ed)?;
            ed.remove_value(top.raw)?;
            for (na, new) in &contacts {
                ed.replace_addr_uri(na, new.as_bytes())?;
            }
            if grandstream {
                if let Some(c) = status_code_slice(msg) {
                    ed.replace(c, b"404")?;
                }
            }
            if incoming {
                // Appended as the last Record-Route, so the phone's route set starts with us.
                match msg.headers_of(HeaderName::RecordRoute).last() {
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
                }
            } else {
                self.purge_own_record_routes(msg, &mut ed)?;
                // Behaviour §4.10.6: outgoing responses too get the configured User-Agent.
                if let Some(ua) = ua_string.as_deref() {
                    match msg.first(HeaderName::UserAgent) {
                        Some(h) => ed.replace(h.value, ua.as_bytes())?,
                        None => ed.append_header(b"User-Agent", ua.as_bytes())?,
                    };
                }
            }
            if let (Some(new), Some(h)) = (&call_id_new, msg.first(HeaderName::CallId)) {
                ed.replace(h.value, new.as_bytes())?;
            }
            if let Some(b) = &body {
                ed.set_body(b);
            }
            self.emit_to(now, ed, from_ip, origin.transport, &hop)
        })();
        if let Err(e) = result {
            self.drop_msg(Drop::Rewrite, origin, &format!("rewriting failed: {e:?}"));
        }
    }
}

/// The Call-ID the relay table files a call under: the original one of an obscured call
/// (behaviour §4.10.7), so both legs find the same halves.
fn media_call_id(msg: &Message<'_>) -> Option<String> {
    let cid = String::from_utf8_lossy(msg.call_id().ok()?);
    Some(rewrite::restore_call_id(&cid, None).unwrap_or_else(|| cid.into_owned()))
}

/// Where a forwarded response goes: the Via below ours, honouring `received` and `rport`
/// (RFC 3581, decisions §4).
fn response_hop(via: &Via<'_>) -> Hop {
    let host = match via.received().and_then(|r| std::str::from_utf8(r).ok()) {
        Some(r) => r.to_string(),
        None => match via.host {
            Host::Ipv6(a) => a.to_string(),
            _ => String::from_utf8_lossy(via.host_raw).into_owned(),
        },
    };
    let port = match via.rport() {
        Some(Rport::Port(p)) => p,
        _ => via.port.unwrap_or(5060),
    };
    Hop {
        host,
        port: Some(port),
    }
}
