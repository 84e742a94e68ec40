//! Forwarding (behaviour §4.8 requests, §4.9 responses) as a sequence of named steps:
//! decide the [`Route`] once, then media, then the [`Edits`], then emit towards the next hop.
//! A step that refuses the message returns a [`Refusal`], and one place carries it out.
//!
//! Plugin hook points (siproxd's stages): after `route_*` ("determine target": a plugin may
//! change the route or answer), before `*_edits` ("pre-proxy"), and after `Edits::apply`
//! ("post-proxy", the editor still open).

use std::net::{IpAddr, SocketAddr};

use super::direction::{reg_uri, Direction, Heading};
use super::edit::{self, Edits, Own, RecordRoute, UaPlacement};
use super::hooks::Forced;
use super::media::media_call_id;
use super::rewrite;
use super::settings::Hop;
use super::{uri_host, DropReason, Media, Origin, Proxy};
use crate::logging::PROXY;
use crate::sansio::{ConnId, Transport};
use crate::sip::{
    Contact, Editor, HeaderName, Host, Message, NameAddr, Rport, Scheme, Status, Uri, Via,
};

/// Where a message goes, decided once.
#[derive(Debug, Clone)]
pub struct Route {
    pub direction: Direction,
    /// The registration concerned (messages to the LAN, when known).
    pub slot: Option<usize>,
    /// The local address it leaves from (the egress side's address; its family is the
    /// egress family).
    pub source: SocketAddr,
    pub hop: Hop,
    pub transport: Transport,
    /// The stream connection to reuse, if any.
    pub connection: Option<ConnId>,
    /// The next hop is known to take TCP too: a UDP request larger than
    /// `limits::SIP_UDP_MAX_REQUEST` goes over TCP instead (RFC 3261 §18.1.1, decisions §4).
    pub large_over_tcp: bool,
    /// The public name or address written into Via, Contact and Record-Route on the WAN side.
    pub public_host: String,
}

/// Why a message is not forwarded, and how that is carried out.
#[derive(Debug)]
pub(super) enum Refusal {
    /// A request is answered with `status` (an ACK or a response is not); counted if `count`.
    Answer {
        status: Status,
        count: Option<DropReason>,
    },
    /// Dropped, counted, logged with the detail.
    Drop(DropReason, String),
    /// Dropped, counted if `Some`, logged at debug level only (routine, e.g. a stray
    /// response).
    Quiet(Option<DropReason>),
}

impl Refusal {
    fn answer(status: Status, count: DropReason) -> Refusal {
        Refusal::Answer {
            status,
            count: Some(count),
        }
    }
}

/// What a request's Request-URI and Route headers say before its route is decided
/// (behaviour §4.10.5).
struct RequestTarget<'m> {
    ruri_raw: &'m [u8],
    /// A strict router put our Record-Route into the Request-URI: the real one is the last Route.
    strict_ruri: Option<Uri<'m>>,
    /// Route entries that are ours to remove.
    remove_routes: Vec<&'m [u8]>,
    /// The first Route left after ours: the next hop of an outgoing request.
    next_route: Option<Uri<'m>>,
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
        let transport = uri
            .param("transport")
            .flatten()
            .and_then(Transport::from_token);
        Some(Hop {
            host: host.to_string(),
            port: uri.port,
            transport,
        })
    }

    fn of_uri_bytes(raw: &[u8]) -> Option<Hop> {
        Uri::parse(raw).ok().and_then(|u| Hop::of_uri(&u))
    }

    /// Where a forwarded response goes: the Via below ours, honouring `received` and `rport`
    /// (RFC 3581, decisions §4).
    fn of_response_via(via: &Via<'_>) -> Hop {
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
            transport: Transport::from_token(via.transport),
        }
    }

    /// A literal broadcast, multicast or unspecified address: never a next hop (RFC 4475
    /// §3.3.10: a response is not sent to a broadcast address a Via names).
    fn is_not_unicast(&self) -> bool {
        match crate::sip::unbracket(&self.host).parse::<IpAddr>() {
            Ok(IpAddr::V4(a)) => a.is_broadcast() || a.is_multicast() || a.is_unspecified(),
            Ok(IpAddr::V6(a)) => a.is_multicast() || a.is_unspecified(),
            Err(_) => false,
        }
    }

    fn unicast(self, what: &str) -> Result<Hop, Refusal> {
        if self.is_not_unicast() {
            return Err(Refusal::Drop(
                DropReason::Unroutable,
                format!("{what} {} is not unicast", self.host),
            ));
        }
        Ok(self)
    }
}

/// A 202 to SUBSCRIBE from a Grandstream phone (behaviour §4.10.8).
fn is_grandstream_202(msg: &Message<'_>) -> bool {
    msg.status_code() == Some(202)
        && msg.cseq().is_ok_and(|c| c.method == b"SUBSCRIBE")
        && msg.first(HeaderName::UserAgent).is_some_and(|h| {
            h.value
                .get(..11)
                .is_some_and(|p| p.eq_ignore_ascii_case(b"grandstream"))
        })
}

impl Proxy {
    /// What names this proxy (addresses, `host_outbound`, listen port).
    pub(super) fn own(&self) -> Own<'_> {
        Own {
            addrs: self.addrs,
            // A STUN address is ours as `host_outbound` is (siproxd set one to the other).
            host_outbound: self
                .stun_host
                .as_deref()
                .or(self.settings.host_outbound.as_deref()),
            port: self.settings.listen_port,
        }
    }

    /// Carries out a refusal for `msg`.
    pub(super) fn refuse(&mut self, origin: &Origin, msg: &Message<'_>, r: Refusal) {
        match r {
            Refusal::Answer { status, count } => {
                if let Some(why) = count {
                    self.counters.count(why);
                }
                self.respond(origin, msg, status, &[]);
            }
            Refusal::Drop(why, detail) => self.drop_msg(why, origin, &detail),
            Refusal::Quiet(why) => {
                if let Some(why) = why {
                    self.counters.count(why);
                }
                log::debug!(target: PROXY, "message from {} dropped ({})", origin.src, why.map_or("-", DropReason::name));
            }
        }
    }

    /// The local address messages in `direction` to `peer` leave from: the side's address
    /// of the peer's family when it has one.
    fn egress(&self, direction: Direction, peer: IpAddr) -> Option<SocketAddr> {
        let ip = match direction {
            Direction::Incoming => self.addrs.inbound_for(peer),
            Direction::Outgoing => self.addrs.outbound_for(peer)?,
        };
        Some(SocketAddr::new(ip, self.settings.listen_port))
    }

    /// An address of the family a message to `hop` will use: the literal, what the name
    /// resolved to (cache, /etc/hosts), else the `outbound_family` choice or the side's own
    /// family (decisions §3: "IPv6").
    pub(super) fn hop_peer(&self, now: u64, direction: Direction, hop: &Hop) -> IpAddr {
        if let Ok(ip) = crate::sip::unbracket(&hop.host).parse::<IpAddr>() {
            return ip.to_canonical();
        }
        let own = match direction {
            Direction::Incoming => self.addrs.inbound,
            Direction::Outgoing => self.addrs.outbound.unwrap_or(self.addrs.inbound),
        };
        let want_v6 = match self.settings.outbound_family {
            Some(f) if direction == Direction::Outgoing => f,
            _ => own.is_ipv6(),
        };
        let cached = self.resolver.peek(now, &hop.host, hop.port);
        cached
            .iter()
            .map(|a| a.ip().to_canonical())
            .find(|ip| ip.is_ipv6() == want_v6)
            .or(cached.first().map(|a| a.ip().to_canonical()))
            .unwrap_or(if want_v6 {
                IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
            } else {
                IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)
            })
    }

    /// The address family hint of where a REGISTER from the LAN goes (its outbound proxy,
    /// else its Request-URI), for the masqueraded Contact's host.
    pub(super) fn register_peer(&self, now: u64, msg: &Message<'_>) -> IpAddr {
        let hop = self
            .outbound_proxy(msg)
            .or_else(|| msg.request_uri_raw().and_then(Hop::of_uri_bytes));
        match hop {
            Some(h) => self.hop_peer(now, Direction::Outgoing, &h),
            None => self.addrs.outbound.unwrap_or(self.addrs.inbound),
        }
    }

    /// The LAN side's address facing the LAN party of a message (its source going out, its
    /// destination coming in): written into Via and Record-Route towards the LAN.
    fn lan_ip(&self, origin: &Origin, route: &Route) -> IpAddr {
        match route.direction {
            Direction::Incoming => route.source.ip(),
            Direction::Outgoing => self.addrs.inbound_for(origin.src.ip()),
        }
    }

    /// The outbound proxy for a message from the LAN (behaviour §4.11), by its From domain.
    fn outbound_proxy(&self, msg: &Message<'_>) -> Option<Hop> {
        let from = msg.from().ok()?;
        let domain = std::str::from_utf8(from.uri.host_raw).ok()?;
        self.settings.outbound_proxy_for(domain)
    }

    /// New Contact URIs for a message leaving towards the Internet (§4.10.1): the masqueraded
    /// identity for a registered contact, else the same URI on our public address; either
    /// names the WAN hop's `transport` (the phone's own transport may differ).
    fn masquerade_contacts<'a>(
        &self,
        msg: &Message<'a>,
        public: &str,
        transport: Transport,
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
                Some(m) => Uri::parse(m.as_bytes()).ok().and_then(|u| {
                    let host = self.moves_to_public(&u, public).then_some((public, u.port));
                    rewrite::rebuild(&u, host, transport)
                }),
                None => rewrite::rebuild(
                    &na.uri,
                    Some((public, Some(self.settings.listen_port))),
                    transport,
                ),
            };
            if let Some(n) = new {
                out.push((na, n));
            }
        }
        out
    }

    /// Whether a registered masqueraded Contact `masq` moves to our public host of the other
    /// family than this hop's (a dual-stack WAN: registered over IPv4, calling over IPv6, or
    /// the STUN address), which the hop's peer can reach: not when it already names `public`
    /// or is not on one of our hosts.
    fn moves_to_public(&self, masq: &Uri<'_>, public: &str) -> bool {
        !masq.host_raw.eq_ignore_ascii_case(public.as_bytes())
            && self.own().is_own_host(masq.host_raw)
    }

    // ---- requests ----

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
        match self.try_forward_request(now, origin, msg, add_expires, media) {
            Ok(()) => {}
            Err(
                r @ Refusal::Answer {
                    count: Some(DropReason::UnknownDirection),
                    ..
                },
            ) => {
                // "Unknown direction": a plugin may still redirect, drop or route it.
                match self.plugins_decide(now, origin, msg, true) {
                    super::hooks::Outcome::Continue => self.refuse(origin, msg, r),
                    super::hooks::Outcome::Done => {}
                    super::hooks::Outcome::Forward => {
                        self.forward_forced(now, origin, msg, media);
                    }
                }
            }
            Err(r) => self.refuse(origin, msg, r),
        }
    }

    /// Forwards a request along the route a plugin chose (`Decision::Forward`) instead of the
    /// one direction detection gives (siptrunk: towards the LAN phone of a trunk).
    pub(super) fn forward_forced(
        &mut self,
        now: u64,
        origin: &Origin,
        msg: &Message<'_>,
        media: &mut dyn Media,
    ) {
        let forced = self.take_forced();
        let r = self.try_forward_request_as(now, origin, msg, None, Some(&forced), media);
        self.forced_done(forced);
        if let Err(r) = r {
            self.refuse(origin, msg, r);
        }
    }

    fn try_forward_request(
        &mut self,
        now: u64,
        origin: &Origin,
        msg: &Message<'_>,
        add_expires: Option<u32>,
        media: &mut dyn Media,
    ) -> Result<(), Refusal> {
        self.try_forward_request_as(now, origin, msg, add_expires, None, media)
    }

    /// `try_forward_request` with the route a plugin forced, if any.
    fn try_forward_request_as(
        &mut self,
        now: u64,
        origin: &Origin,
        msg: &Message<'_>,
        add_expires: Option<u32>,
        forced: Option<&Forced>,
        media: &mut dyn Media,
    ) -> Result<(), Refusal> {
        let target = self.request_target(msg)?;
        let (route, new_ruri) = self.route_request(now, origin, msg, &target, forced)?;
        let body = self.request_media(now, origin, msg, &route, media)?;
        let edits = self.request_edits(origin, msg, &route, target, new_ruri, add_expires, body);
        if let Some(status) = self.plugins_pre_proxy(now, origin, msg, route.direction, &edits) {
            // A plugin refused the offer (codecfilter): the streams it opened go again.
            if let Ok(c) = msg.cseq() {
                media.close_call_up_to_cseq(&media_call_id(msg), c.number);
            }
            return Err(Refusal::answer(status, DropReason::Plugin));
        }
        self.emit(now, msg, &edits, &route)
    }

    /// The Request-URI and our Route entries (§4.10.5): a strict router put our
    /// Record-Route into the Request-URI; a loose Route naming us is ours to remove.
    fn request_target<'m>(&self, msg: &Message<'m>) -> Result<RequestTarget<'m>, Refusal> {
        let Some(ruri_raw) = msg.request_uri_raw() else {
            return Err(Refusal::Drop(DropReason::Invalid, "no Request-URI".into()));
        };
        let Ok(ruri) = Uri::parse(ruri_raw) else {
            return Err(Refusal::Drop(
                DropReason::Invalid,
                "Request-URI does not parse".into(),
            ));
        };
        if ruri.scheme != Scheme::Sip {
            // sips needs TLS and tel a gateway: neither is something this proxy can reach.
            if msg.method() == Some(b"ACK") {
                return Err(Refusal::Drop(
                    DropReason::Invalid,
                    "ACK for a Request-URI that is not sip:".into(),
                ));
            }
            return Err(Refusal::Answer {
                status: Status::UNSUPPORTED_URI_SCHEME,
                count: None,
            });
        }
        let own = self.own();
        let routes: Vec<NameAddr<'m>> = msg.routes().filter_map(Result::ok).collect();
        let mut remove_routes: Vec<&'m [u8]> = Vec::new();
        let mut strict_ruri = None;
        if ruri.user == Some(b"siproxd") && own.is_own_hostport(ruri.host_raw, ruri.port) {
            if let Some(last) = routes.last() {
                strict_ruri = Some(last.uri);
                remove_routes.push(last.raw);
            }
        }
        // Every Route naming us at the top is ours (a request that passed us twice carries
        // two). Entries are told apart by where they are, not by their text: two equal
        // values are two entries.
        let same = |a: &[u8], b: &[u8]| std::ptr::eq(a, b);
        for r in &routes {
            if !own.is_own_hostport(r.uri.host_raw, r.uri.port) {
                break;
            }
            if !remove_routes.iter().any(|x| same(x, r.raw)) {
                remove_routes.push(r.raw);
            }
        }
        let next_route = routes
            .iter()
            .find(|r| !remove_routes.iter().any(|x| same(x, r.raw)))
            .map(|r| r.uri);
        Ok(RequestTarget {
            ruri_raw,
            strict_ruri,
            remove_routes,
            next_route,
        })
    }

    /// Direction, egress and next hop of a request (§4.8 step 8), with the new Request-URI
    /// (an incoming request goes to the registered contact).
    fn route_request(
        &self,
        now: u64,
        origin: &Origin,
        msg: &Message<'_>,
        target: &RequestTarget<'_>,
        forced: Option<&Forced>,
    ) -> Result<(Route, Option<String>), Refusal> {
        let method = msg.method().unwrap_or(b"");
        let heading = match forced {
            // A plugin's route: towards the LAN when it names a registration.
            Some(f) => Some(Heading {
                direction: match f.lan_slot {
                    Some(_) => Direction::Incoming,
                    None => Direction::Outgoing,
                },
                slot: f.lan_slot,
            }),
            None => self.request_direction(now, origin, msg),
        };
        log::debug!(target: PROXY, "request {} from {}: {}", String::from_utf8_lossy(method), origin.src, Heading::show(heading));
        let Some(Heading { direction, slot }) = heading else {
            log::info!(
                "{} for {} from {}: neither side is registered, answering 408",
                String::from_utf8_lossy(method),
                String::from_utf8_lossy(target.ruri_raw),
                origin.src
            );
            return Err(Refusal::answer(
                Status::REQUEST_TIMEOUT,
                DropReason::UnknownDirection,
            ));
        };
        let (new_ruri, hop) = self.request_hop(now, msg, target, forced, direction, slot);
        let Some(hop) = hop else {
            return Err(Refusal::Drop(DropReason::Unroutable, "no next hop".into()));
        };
        let peer = self.hop_peer(now, direction, &hop);
        let Some(source) = self.egress(direction, peer) else {
            return Err(Refusal::answer(
                Status::REQUEST_TIMEOUT,
                DropReason::OutboundDown,
            ));
        };
        let Some(public_host) = self.public_host_for(peer) else {
            return Err(Refusal::Answer {
                status: Status::REQUEST_TIMEOUT,
                count: None,
            });
        };
        let route = Route {
            direction,
            slot,
            source,
            // The transport the next hop's URI asks for, else the one the request came on.
            transport: hop.transport.unwrap_or(origin.transport),
            large_over_tcp: direction == Direction::Outgoing
                && self.settings.any_takes_tcp()
                && msg
                    .from()
                    .ok()
                    .and_then(|f| std::str::from_utf8(f.uri.host_raw).ok())
                    .is_some_and(|d| self.settings.takes_tcp(d, &hop)),
            hop: hop.unicast("next hop")?,
            connection: None,
            public_host,
        };
        Ok((route, new_ruri))
    }

    /// The new Request-URI (an incoming request goes to the registered contact; a strict
    /// router's is restored) and the next hop (§4.8 step 8), or what a plugin chose.
    fn request_hop(
        &self,
        now: u64,
        msg: &Message<'_>,
        target: &RequestTarget<'_>,
        forced: Option<&Forced>,
        direction: Direction,
        slot: Option<usize>,
    ) -> (Option<String>, Option<Hop>) {
        let new_ruri = match (direction, slot) {
            // The plugin's Request-URI; with a next hop of its own and none, it is kept
            // (siptrunk: the trunk's phone needs the dialled number).
            _ if forced.is_some_and(|f| f.request_uri().is_some() || f.hop().is_some()) => {
                forced.and_then(|f| f.request_uri()).map(str::to_string)
            }
            (Direction::Incoming, Some(slot)) => self
                .registry
                .live_bindings(now / 1000, slot)
                .max_by_key(|b| b.updated)
                .map(|b| b.true_url.to_string()),
            (Direction::Incoming, None) => None,
            (Direction::Outgoing, _) => target
                .strict_ruri
                .and_then(|u| std::str::from_utf8(u.raw).ok())
                .map(str::to_string),
        };
        let ruri = new_ruri.as_deref().map_or(target.ruri_raw, str::as_bytes);
        let hop = match (direction, forced.and_then(|f| f.hop()).cloned()) {
            (_, Some(h)) => Some(h),
            (Direction::Incoming, None) => Hop::of_uri_bytes(ruri),
            (Direction::Outgoing, None) => target
                .next_route
                .and_then(|r| Hop::of_uri(&r))
                .or_else(|| self.outbound_proxy(msg))
                .or_else(|| Hop::of_uri_bytes(ruri)),
        };
        (new_ruri, hop)
    }

    /// Media of a request (§5.6 teardown, §5.1 rewrite): the new body, if any.
    fn request_media(
        &mut self,
        now: u64,
        origin: &Origin,
        msg: &Message<'_>,
        route: &Route,
        media: &mut dyn Media,
    ) -> Result<Option<Vec<u8>>, Refusal> {
        let method = msg.method().unwrap_or(b"");
        if matches!(method, b"BYE" | b"CANCEL") {
            let cid = media_call_id(msg);
            let n = media.close_call(&cid);
            if n > 0 {
                log::debug!(target: PROXY, "{} closed {n} relay stream(s) of {cid}", String::from_utf8_lossy(method));
            }
        }
        let body = self
            .relay_media(now, origin, msg, route.direction, route.source.ip(), media)
            .map_err(|status| Refusal::answer(status, DropReason::Media))?;
        // An ACK with SDP answers the offer of a 2xx (late offer): the session is agreed.
        if method == b"ACK" && body.is_some() {
            if let Ok(c) = msg.cseq() {
                media.confirm_call(&media_call_id(msg), c.number);
            }
        }
        Ok(body)
    }

    /// The header edits of a forwarded request (§4.10).
    #[allow(clippy::too_many_arguments)]
    fn request_edits<'m>(
        &self,
        origin: &Origin,
        msg: &Message<'m>,
        route: &Route,
        target: RequestTarget<'m>,
        new_ruri: Option<String>,
        add_expires: Option<u32>,
        body: Option<Vec<u8>>,
    ) -> Edits<'m> {
        let public = &route.public_host;
        let incoming = route.direction == Direction::Incoming;
        let ruri = new_ruri.as_deref().map_or(target.ruri_raw, str::as_bytes);
        let branch = rewrite::branch(msg, ruri);
        let call_id = edit::obscured_call_id(msg, incoming, self.settings.obscure_loops);
        let (via_host, rport) = match route.direction {
            Direction::Incoming => (uri_host(route.source.ip()), self.settings.rport.incoming),
            Direction::Outgoing => (public.clone(), self.settings.rport.outgoing),
        };
        let mut via = rewrite::own_via(
            route.transport,
            &via_host,
            self.settings.listen_port,
            &branch,
            rport,
        );
        if incoming && call_id.is_some() {
            // Carries the tag the restored Call-ID lost, for the phone's responses.
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
        Edits {
            asterisk_fix: true,
            request_uri: new_ruri.map(|r| (target.ruri_raw, r)),
            remove_routes: target.remove_routes,
            received_from: Edits::received(origin.src),
            // Over a stream the response must find the request's connection, whose port is
            // the sender's ephemeral one: always note it (RFC 3261 §18.2.2).
            force_rport: origin.transport == Transport::Tcp,
            contacts: if incoming {
                Vec::new()
            } else {
                self.masquerade_contacts(msg, public, route.transport)
            },
            user_agent: match (&self.settings.ua_string, incoming) {
                (Some(ua), false) => Some((ua.clone(), UaPlacement::BeforeVia)),
                _ => None,
            },
            max_forwards: Some(edit::num((rewrite::max_forwards(msg) - 1).max(0))),
            record_route: if incoming {
                RecordRoute::Prepend(edit::own_record_route(
                    &uri_host(self.lan_ip(origin, route)),
                    self.settings.listen_port,
                    route.transport,
                ))
            } else {
                RecordRoute::PurgeOwn
            },
            expires: add_expires.map(edit::num),
            call_id,
            push_via: Some(via),
            body,
            ..Edits::default()
        }
    }

    // ---- responses ----

    /// Forwards a response (behaviour §4.9): removes our Via and sends it along the next one.
    pub(super) fn forward_response(
        &mut self,
        now: u64,
        origin: &Origin,
        msg: &Message<'_>,
        media: &mut dyn Media,
    ) {
        if let Err(r) = self.try_forward_response(now, origin, msg, media) {
            self.refuse(origin, msg, r);
        }
    }

    fn try_forward_response(
        &mut self,
        now: u64,
        origin: &Origin,
        msg: &Message<'_>,
        media: &mut dyn Media,
    ) -> Result<(), Refusal> {
        let (route, own_via) = self.route_response(now, origin, msg)?;
        let body = self.response_media(now, origin, msg, &route, media)?;
        let edits = self.response_edits(now, msg, &route, own_via, body);
        // Plugins refuse requests only (BodyAction::Refuse): a response goes on.
        let _ = self.plugins_pre_proxy(now, origin, msg, route.direction, &edits);
        self.emit(now, msg, &edits, &route)
    }

    /// Direction, egress and next hop of a response: the Via below ours, or for a response
    /// from a phone a Route or the outbound proxy (behaviour §4.9 step 5: the provider may
    /// accept traffic only from it). Returns our own Via too.
    fn route_response<'m>(
        &self,
        now: u64,
        origin: &Origin,
        msg: &Message<'m>,
    ) -> Result<(Route, &'m [u8]), Refusal> {
        // Validation made sure the top Via parses.
        let top = msg.top_via().map_err(|_| Refusal::Quiet(None))?;
        if !self.own().is_own_hostport(top.host_raw, top.port) {
            // RFC 3261 §16.11: a stateless proxy drops responses that are not for it.
            return Err(Refusal::Quiet(Some(DropReason::ResponseNotOurs)));
        }
        let Some(Ok(next)) = msg.vias().nth(1) else {
            return Err(Refusal::Drop(
                DropReason::Invalid,
                "response has no Via below ours".into(),
            ));
        };
        let via_hop = Hop::of_response_via(&next).unicast("next Via")?;
        let heading = self.response_direction(now, origin, msg, Some((next.host_raw, next.port)));
        log::debug!(target: PROXY, "response {} from {}: {}", msg.status_code().unwrap_or(0), origin.src, Heading::show(heading));
        let Some(Heading { direction, slot }) = heading else {
            return Err(Refusal::Drop(
                DropReason::UnknownDirection,
                "response for an unknown party".into(),
            ));
        };
        let hop = match direction {
            Direction::Incoming => via_hop,
            Direction::Outgoing => msg
                .routes()
                .next()
                .and_then(Result::ok)
                .and_then(|r| Hop::of_uri(&r.uri))
                .or_else(|| self.outbound_proxy(msg))
                .unwrap_or(via_hop),
        };
        let peer = self.hop_peer(now, direction, &hop);
        let Some(source) = self.egress(direction, peer) else {
            return Err(Refusal::Drop(
                DropReason::OutboundDown,
                "outbound interface is down".into(),
            ));
        };
        let Some(public_host) = self.public_host_for(peer) else {
            return Err(Refusal::Drop(
                DropReason::OutboundDown,
                "no public address".into(),
            ));
        };
        let route = Route {
            direction,
            slot,
            source,
            // The transport the request came on, as its sender's Via says.
            transport: hop.transport.unwrap_or(Transport::Udp),
            hop,
            connection: None,
            large_over_tcp: false,
            public_host,
        };
        Ok((route, top.raw))
    }

    /// Media of a response: a failed offer is undone, an answer relayed, a 2xx confirms.
    fn response_media(
        &mut self,
        now: u64,
        origin: &Origin,
        msg: &Message<'_>,
        route: &Route,
        media: &mut dyn Media,
    ) -> Result<Option<Vec<u8>>, Refusal> {
        let code = msg.status_code().unwrap_or(0);
        let cseq = msg.cseq().ok();
        let offer_answer = cseq.is_some_and(|c| matches!(c.method, b"INVITE" | b"UPDATE"));
        if code >= 400 && offer_answer {
            // The failed offer is undone; an established call keeps its media (§5.6).
            if let Some(c) = cseq {
                let cid = media_call_id(msg);
                let n = media.close_call_up_to_cseq(&cid, c.number);
                if n > 0 {
                    log::debug!(target: PROXY, "{code} closed {n} relay stream(s) of {cid}");
                }
            }
        }
        let body = self
            .relay_media(now, origin, msg, route.direction, route.source.ip(), media)
            .map_err(|s| Refusal::Drop(DropReason::Media, format!("SDP not relayable ({s})")))?;
        // With or without SDP (after a reliable 183 the 2xx need not repeat it), a 2xx makes
        // the call's streams the agreed session.
        if (200..300).contains(&code) && offer_answer {
            if let Some(c) = cseq {
                media.confirm_call(&media_call_id(msg), c.number);
            }
        }
        Ok(body)
    }

    /// The header edits of a forwarded response (§4.10).
    fn response_edits<'m>(
        &mut self,
        now: u64,
        msg: &Message<'m>,
        route: &Route,
        own_via: &'m [u8],
        body: Option<Vec<u8>>,
    ) -> Edits<'m> {
        let incoming = route.direction == Direction::Incoming;
        let register = msg.cseq().is_ok_and(|c| c.method == b"REGISTER");
        if let (true, Some(b)) = (register, self.blacklist.as_mut()) {
            let code = msg.status_code().unwrap_or(0);
            b.note_response(now, msg.call_id().unwrap_or_default(), code);
        }
        // A REGISTER 2xx from the registrar makes the binding live (decisions §4), and the
        // masqueraded Contacts are turned back into the phone's own.
        let contacts = match (route.direction, route.slot) {
            (Direction::Incoming, Some(slot)) if register => {
                self.register_response(now, msg, slot, msg.status_code().unwrap_or(0))
            }
            (Direction::Incoming, _) => Vec::new(),
            (Direction::Outgoing, _) => {
                self.masquerade_contacts(msg, &route.public_host, route.transport)
            }
        };
        Edits {
            asterisk_fix: true,
            pop_via: Some(own_via),
            contacts,
            grandstream_404: incoming && is_grandstream_202(msg),
            // Behaviour §4.10.6: outgoing responses too get the configured User-Agent.
            user_agent: match (&self.settings.ua_string, incoming) {
                (Some(ua), false) => Some((ua.clone(), UaPlacement::End)),
                _ => None,
            },
            record_route: if incoming {
                RecordRoute::Append(edit::own_record_route(
                    &uri_host(route.source.ip()),
                    self.settings.listen_port,
                    route.transport,
                ))
            } else {
                RecordRoute::PurgeOwn
            },
            call_id: edit::obscured_call_id(msg, incoming, self.settings.obscure_loops),
            body,
            ..Edits::default()
        }
    }

    // ---- output ----

    /// Applies `edits` and sends the message along `route` (through the DNS queue when the
    /// next hop is a name).
    fn emit(
        &mut self,
        now: u64,
        msg: &Message<'_>,
        edits: &Edits<'_>,
        route: &Route,
    ) -> Result<(), Refusal> {
        let mut buf = std::mem::take(&mut self.scratch);
        // The plugins' edits, if they are this message's (see `plugins_pre_proxy`).
        let bufs = std::mem::take(&mut self.bufs);
        let written = {
            let own = self.own();
            let mut ed = Editor::new(msg);
            let plugin = bufs.active.then_some(&bufs);
            edits
                .apply(msg, &mut ed, &own, plugin)
                .and_then(|()| ed.emit_vec(&mut buf))
        };
        self.bufs = bufs;
        self.bufs.active = false;
        // emit_vec leaves exactly the written bytes in `buf`.
        let result = match written {
            Ok(_) => {
                let transport = large_request_transport(msg, route, &mut buf);
                crate::logging::dump(crate::logging::NETTRAF, &buf);
                self.send_to_host(now, route.source, transport, &route.hop, &buf);
                Ok(())
            }
            Err(e) => Err(Refusal::Drop(
                DropReason::Rewrite,
                format!("rewriting failed: {e}"),
            )),
        };
        self.scratch = buf;
        result
    }
}

/// RFC 3261 §18.1.1: a request larger than 1300 bytes that would go over UDP goes over TCP
/// where the next hop is known to take it (our Via, on top of `out`, is turned to TCP: the
/// same length, nothing else moves); elsewhere it stays UDP with a warning, since a UDP-only
/// next hop would fail the call over TCP (decisions §4).
fn large_request_transport(msg: &Message<'_>, route: &Route, out: &mut [u8]) -> Transport {
    if route.transport != Transport::Udp
        || out.len() <= crate::limits::SIP_UDP_MAX_REQUEST
        || !msg.is_request()
    {
        return route.transport;
    }
    let at = route
        .large_over_tcp
        .then(|| {
            let m = Message::parse(out, crate::sip::Framing::Datagram).ok()?;
            let t = m.top_via().ok()?.transport;
            (t.len() == 3).then_some(())?;
            (t.as_ptr() as usize).checked_sub(out.as_ptr() as usize)
        })
        .flatten();
    match at.and_then(|i| out.get_mut(i..i + 3)) {
        Some(token) => {
            token.copy_from_slice(b"TCP");
            log::info!(
                "request of {} bytes to {}: over TCP, too large for UDP",
                out.len(),
                route.hop.host
            );
            Transport::Tcp
        }
        None => {
            log::warn!(
                "request of {} bytes to {} sent over UDP although larger than {}: the next hop \
                 is not known to take TCP (outbound proxy transport 'auto' allows it)",
                out.len(),
                route.hop.host,
                crate::limits::SIP_UDP_MAX_REQUEST
            );
            Transport::Udp
        }
    }
}
