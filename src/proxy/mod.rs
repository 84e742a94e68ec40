//! The sans-IO proxy core: every SIP message goes in through [`Proxy::handle_message`], and
//! what to send where comes out of [`Proxy::poll_output`] as [`Transmit`]s. No socket, clock
//! or file is touched here: time, addresses and bytes come in as arguments (docs/DESIGN.md
//! shows one INVITE's way through the types).
//!
//! Pipeline (behaviour §4.1 with decisions §4): ACL → raw sanity → parse → validation
//! (400/416/505 or drop) → Proxy-Require (420) → Max-Forwards (483, OPTIONS 200) → Via loop
//! (482) → REGISTER handling (`register`) or forwarding (`forward`).

mod direction;
mod edit;
mod forward;
mod hooks;
mod media;
mod register;
mod respond;
mod rewrite;
mod settings;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;

use crate::auth::Authenticator;
use crate::config::Config;
use crate::dns::{Lookup, Resolved, Resolver};
use crate::limits;
use crate::logging::{ACCESS, PROXY, SIP};
use crate::registry::Registry;
use crate::sansio::{ConnId, Output, Transmit, Transport};
use crate::sip::{Message, ParseError, ProxyAction, Status};

pub use direction::{Direction, Heading};
pub use forward::Route;
pub use media::{Media, NoMedia, NullSockets, TableMedia};
pub use settings::{AccessLists, DomainRoute, Hop, RportPolicy, Settings};

/// One queued message: from which local address, to whom, over which transport.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Queued {
    source: SocketAddr,
    destination: SocketAddr,
    transport: Transport,
    connection: Option<ConnId>,
    range: Range<usize>,
}

/// Messages produced by the inputs since the last drain, in one reused buffer.
#[derive(Debug, Default)]
struct Queue {
    buf: Vec<u8>,
    items: Vec<Queued>,
    /// How many of `items` `poll_output` has handed out.
    taken: usize,
}

impl Queue {
    fn with_capacity() -> Queue {
        Queue {
            buf: Vec::with_capacity(4 * limits::SIP_SEND_BUFFER),
            items: Vec::with_capacity(8),
            taken: 0,
        }
    }

    /// Appends one message.
    fn push(
        &mut self,
        source: SocketAddr,
        destination: SocketAddr,
        transport: Transport,
        connection: Option<ConnId>,
        bytes: &[u8],
    ) {
        if self.taken == self.items.len() {
            self.clear();
        }
        let start = self.buf.len();
        self.buf.extend_from_slice(bytes);
        self.items.push(Queued {
            source,
            destination,
            transport,
            connection,
            range: start..self.buf.len(),
        });
    }

    /// The next message, copied into `out`; a message larger than `out` is dropped with a
    /// log line (the shell's buffer is `limits::SIP_SEND_BUFFER`, which every message the
    /// core builds fits).
    fn pop_into(&mut self, out: &mut [u8]) -> Option<Transmit> {
        loop {
            let q = self.items.get(self.taken)?.clone();
            self.taken += 1;
            let bytes = self.buf.get(q.range.clone())?;
            let len = bytes.len();
            let Some(dst) = out.get_mut(..len) else {
                log::warn!(
                    "message of {len} bytes to {} larger than the send buffer: dropped",
                    q.destination
                );
                continue;
            };
            dst.copy_from_slice(bytes);
            if self.taken == self.items.len() {
                self.clear();
            }
            return Some(Transmit {
                source: q.source,
                destination: q.destination,
                transport: q.transport,
                connection: q.connection,
                len,
            });
        }
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.items.clear();
        self.taken = 0;
    }
}

/// A forwarded message waiting for its next hop's name to resolve.
#[derive(Debug)]
struct Pending {
    token: u64,
    source: SocketAddr,
    transport: Transport,
    bytes: Vec<u8>,
}

/// The addresses the proxy answers on. `outbound = None` means the WAN interface is down.
/// A dual-stack interface has an address of the other family too (`*_alt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Addresses {
    pub inbound: IpAddr,
    pub outbound: Option<IpAddr>,
    pub inbound_alt: Option<IpAddr>,
    pub outbound_alt: Option<IpAddr>,
}

impl Addresses {
    /// Single-stack sides.
    pub fn new(inbound: IpAddr, outbound: Option<IpAddr>) -> Addresses {
        Addresses {
            inbound,
            outbound,
            inbound_alt: None,
            outbound_alt: None,
        }
    }

    /// The LAN side's address to talk to `peer`: of its family when the side has one.
    pub fn inbound_for(&self, peer: IpAddr) -> IpAddr {
        same_family(self.inbound, self.inbound_alt, peer)
    }

    /// The WAN side's address to talk to `peer` (`None`: the WAN is down).
    pub fn outbound_for(&self, peer: IpAddr) -> Option<IpAddr> {
        self.outbound
            .map(|o| same_family(o, self.outbound_alt, peer))
    }

    /// Whether `ip` is one of ours (IPv4-mapped counts as the IPv4 address).
    pub fn is_own(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        [
            Some(self.inbound),
            self.outbound,
            self.inbound_alt,
            self.outbound_alt,
        ]
        .contains(&Some(ip))
    }
}

/// `primary`, unless `peer` is of the other family and `alt` is of that one.
fn same_family(primary: IpAddr, alt: Option<IpAddr>, peer: IpAddr) -> IpAddr {
    let v4 = peer.to_canonical().is_ipv4();
    if primary.is_ipv4() == v4 {
        return primary;
    }
    alt.filter(|a| a.is_ipv4() == v4).unwrap_or(primary)
}

/// Why a message was dropped (counted by reason, reported in the status snapshot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DropReason {
    Acl,
    TooShort,
    RawCheck,
    Unparsable,
    Invalid,
    NoRegisterPermission,
    NoSipPermission,
    ResponseNotOurs,
    UnknownDirection,
    RegistrationTableFull,
    Unroutable,
    DnsPendingFull,
    DnsFailed,
    AckOfGenerated,
    Rewrite,
    OutboundDown,
    Media,
    /// Max-Forwards exhausted (answered 483, or 200 to OPTIONS; an ACK is just dropped).
    TooManyHops,
    /// Via loop (answered 482; an ACK is just dropped).
    Loop,
    /// Proxy-Require names an extension this proxy lacks (answered 420).
    BadExtension,
    /// A plugin discarded it.
    Plugin,
    /// Its source is on the blacklist (plugin_blacklist).
    Blacklisted,
    /// Over `wan_request_rate_limit`.
    RateLimited,
}

impl DropReason {
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Acl => "acl",
            DropReason::TooShort => "too_short",
            DropReason::RawCheck => "raw_check",
            DropReason::Unparsable => "unparsable",
            DropReason::Invalid => "invalid",
            DropReason::NoRegisterPermission => "no_register_permission",
            DropReason::NoSipPermission => "no_sip_permission",
            DropReason::ResponseNotOurs => "response_not_ours",
            DropReason::UnknownDirection => "unknown_direction",
            DropReason::RegistrationTableFull => "registration_table_full",
            DropReason::Unroutable => "unroutable",
            DropReason::DnsPendingFull => "dns_pending_full",
            DropReason::DnsFailed => "dns_failed",
            DropReason::AckOfGenerated => "ack_of_generated_response",
            DropReason::Rewrite => "rewrite_failed",
            DropReason::OutboundDown => "outbound_down",
            DropReason::Media => "media_not_relayable",
            DropReason::TooManyHops => "too_many_hops",
            DropReason::Loop => "via_loop",
            DropReason::BadExtension => "bad_extension",
            DropReason::Plugin => "plugin",
            DropReason::Blacklisted => "blacklisted",
            DropReason::RateLimited => "rate_limited",
        }
    }
}

/// SipCounters of the core.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SipCounters {
    pub received: u64,
    pub forwarded: u64,
    pub generated: u64,
    pub drops: BTreeMap<DropReason, u64>,
}

impl SipCounters {
    fn count(&mut self, why: DropReason) {
        let n = self.drops.entry(why).or_insert(0);
        *n = n.saturating_add(1);
    }

    pub fn dropped(&self, why: DropReason) -> u64 {
        self.drops.get(&why).copied().unwrap_or(0)
    }
}

/// Identifies where a message came from.
#[derive(Debug, Clone, Copy)]
pub struct Origin {
    pub transport: Transport,
    pub src: SocketAddr,
    pub local: SocketAddr,
    /// The stream connection it came on (TCP); `None` for UDP.
    pub connection: Option<ConnId>,
}

/// The proxy core.
pub struct Proxy {
    /// The configuration `settings` were built from (reported, and compared on reload).
    cfg: Config,
    settings: Settings,
    addrs: Addresses,
    registry: Registry,
    resolver: Resolver,
    auth: Option<Authenticator>,
    counters: SipCounters,
    out: Queue,
    pending: Vec<Pending>,
    next_token: u64,
    /// Reused buffer a rewritten message is emitted into.
    scratch: Vec<u8>,
    /// `host_outbound` as an address: the literal, or what its name last resolved to.
    public_ip: Option<IpAddr>,
    /// When to look a `host_outbound` name up again (ms).
    public_refresh: Option<u64>,
    /// The last public host known, so registrations move to the new one also when the
    /// outbound interface was down in between.
    last_public: [Option<String>; 2],
    /// The resolver's next deadline, recomputed only after the resolver was used (it scans
    /// its query slots).
    resolver_deadline: Option<u64>,
    resolver_touched: bool,
    /// The enabled plugins, in `load_plugin` order.
    plugins: Vec<Box<dyn crate::plugins::Plugin>>,
    /// Call-IDs a plugin answered with 302, until when their ACK is swallowed.
    redirects: Vec<(hooks::CallIdDigest, u64)>,
    /// The plugin pipeline's reusable buffers.
    bufs: hooks::Bufs,
    /// plugin_stun: the client, and the address it learned as text (compared in `own`).
    stun: Option<crate::plugins::stun::Client>,
    stun_host: Option<String>,
    /// Where the last Binding request went: its answers are not requests to rate-limit.
    stun_server: Option<SocketAddr>,
    /// plugin_blacklist, when loaded.
    blacklist: Option<crate::plugins::blacklist::Blacklist>,
    /// `wan_request_rate_limit`.
    rate: crate::ratelimit::RateLimit,
}

impl Proxy {
    /// Builds the core. `resolver` is owned by the core so that next hops given as names are
    /// resolved without blocking; the shell moves its datagrams (see `dns_*`).
    pub fn new(
        cfg: Config,
        addrs: Addresses,
        resolver: Resolver,
        auth: Option<Authenticator>,
    ) -> Proxy {
        let settings = Settings::from_config(&cfg);
        let mut p = Proxy {
            registry: Registry::new(settings.max_registrations),
            settings,
            addrs,
            resolver,
            auth,
            counters: SipCounters::default(),
            out: Queue::with_capacity(),
            pending: Vec::with_capacity(limits::PROXY_DNS_PENDING),
            next_token: 1,
            scratch: Vec::with_capacity(limits::SIP_SEND_BUFFER),
            last_public: [None, None],
            public_ip: None,
            public_refresh: None,
            resolver_deadline: None,
            resolver_touched: true,
            plugins: Vec::new(),
            redirects: Vec::new(),
            bufs: hooks::Bufs::default(),
            stun: None,
            stun_host: None,
            stun_server: None,
            blacklist: crate::plugins::blacklist::Blacklist::from_config(&cfg),
            rate: crate::ratelimit::RateLimit::new(cfg.wan_request_rate_limit),
            cfg,
        };
        p.last_public = [0, 1].map(|i| p.public_host_of_family(i));
        p.reset_public_ip();
        p
    }

    /// `host_outbound` given as a literal is the public address at once; a name is looked up
    /// (asynchronously) on the next timer and every minute after (DynDNS names change).
    fn reset_public_ip(&mut self) {
        let host = self
            .settings
            .host_outbound
            .as_deref()
            .map(crate::sip::unbracket);
        self.public_ip = host.and_then(|h| h.parse::<IpAddr>().ok());
        self.public_refresh = match (host, self.public_ip) {
            (Some(_), None) => Some(0),
            _ => None,
        };
    }

    fn stun_public(&self) -> Option<IpAddr> {
        self.stun.as_ref().and_then(|s| s.public())
    }

    /// The public address as status reports it: the address (or `host_outbound` name), where
    /// it comes from (`stun`, `host_outbound`, `interface`) and when STUN last answered (ms).
    pub fn public_address(&self) -> Option<(String, &'static str, Option<u64>)> {
        let answered = self.stun.as_ref().and_then(|s| s.last_answer());
        if let Some(ip) = self.stun_public() {
            return Some((ip.to_string(), "stun", answered));
        }
        let (addr, from) = match (&self.settings.host_outbound, self.addrs.outbound) {
            (Some(h), _) => (h.clone(), "host_outbound"),
            (None, Some(ip)) => (ip.to_string(), "interface"),
            (None, None) => return None,
        };
        Some((addr, from, answered))
    }

    /// plugin_stun (`plugins::stun`), at start and on SIGHUP: a client asking the same server
    /// the same way is kept with what it learned.
    pub fn set_stun(&mut self, client: Option<crate::plugins::stun::Client>) {
        match (self.stun.as_ref(), client) {
            (Some(old), Some(new)) if old.same_settings(&new) => {}
            (_, new) => {
                self.stun = new;
                self.stun_host = None;
                self.follow_public_host();
            }
        }
    }

    /// Time to ask the STUN server: its name is resolved (asynchronously) first.
    fn stun_ask(&mut self, now: u64) {
        let Some(s) = self.stun.as_mut() else { return };
        s.start(now);
        let (server, port) = (s.server.clone(), s.port);
        self.resolver_touched = true;
        match self.resolver.resolve(now, &server, Some(port), STUN_TOKEN) {
            Lookup::Ready(a) => self.stun_send(a.first().copied()),
            Lookup::Pending => {}
            Lookup::Failed(f) => log::warn!("plugin_stun_server = {server}: {f}"),
        }
    }

    /// Sends the Binding request from the SIP socket that faces the Internet, in the
    /// server's family (the shell cannot send across families).
    fn stun_send(&mut self, server: Option<SocketAddr>) {
        let (Some(s), Some(to)) = (self.stun.as_mut(), server) else {
            return;
        };
        let Some(from) = self.addrs.outbound_for(to.ip()) else {
            log::debug!(target: PROXY, "plugin_stun: no outbound address to ask from");
            return;
        };
        let req = s.request_to(to);
        self.stun_server = Some(to);
        let source = SocketAddr::new(from, self.settings.listen_port);
        self.out.push(source, to, Transport::Udp, None, &req);
    }

    /// A STUN answer is never SIP: `true` when `bytes` was one (taken or dropped here).
    fn stun_input(&mut self, now: u64, origin: &Origin, bytes: &[u8]) -> bool {
        use crate::plugins::stun::Input;
        let Some(s) = self.stun.as_mut() else {
            return false;
        };
        if origin.transport != Transport::Udp {
            return false;
        }
        match s.handle(now, origin.src, bytes) {
            Input::NotStun => return false,
            Input::Answer(Some(ip)) => {
                log::info!("plugin_stun: the public address is now {ip}");
                self.stun_host = Some(ip.to_string());
                self.follow_public_host();
            }
            Input::Answer(None) => {}
            Input::Ignored(p) => self.drop_msg(DropReason::Plugin, origin, p.text()),
        }
        true
    }

    fn refresh_public_ip(&mut self, now: u64) {
        let Some(name) = self.settings.host_outbound.clone() else {
            return;
        };
        self.public_refresh = Some(now.saturating_add(HOST_OUTBOUND_REFRESH_MS));
        match self
            .resolver
            .resolve(now, &name, Some(5060), HOST_OUTBOUND_TOKEN)
        {
            Lookup::Ready(a) => self.set_public_ip(&name, a.first().map(|s| s.ip())),
            Lookup::Pending => {}
            Lookup::Failed(f) => log::warn!(
                "host_outbound = {name}: {f}; the outbound interface address is used in SDP"
            ),
        }
    }

    fn set_public_ip(&mut self, name: &str, ip: Option<IpAddr>) {
        if ip.is_some() && ip != self.public_ip {
            log::info!(
                "host_outbound = {name} is {}",
                ip.map(|i| i.to_string()).unwrap_or_default()
            );
            self.public_ip = ip;
        }
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Installs the enabled plugins (`plugins::build`), at start and on SIGHUP.
    pub fn set_plugins(&mut self, plugins: Vec<Box<dyn crate::plugins::Plugin>>) {
        self.bufs = hooks::Bufs::for_plugins(!plugins.is_empty());
        self.plugins = plugins;
    }

    /// Replaces the settings that apply at once on SIGHUP (decisions §7).
    pub fn reconfigure(&mut self, cfg: Config, auth: Option<Authenticator>) {
        let settings = Settings::from_config(&cfg);
        let host_changed = settings.host_outbound != self.settings.host_outbound;
        self.settings = settings;
        self.rate.set(cfg.wan_request_rate_limit);
        match (self.blacklist.as_mut(), cfg.loads("blacklist")) {
            (Some(b), true) => b.configure(&cfg),
            (None, true) => {
                self.blacklist = crate::plugins::blacklist::Blacklist::from_config(&cfg)
            }
            (_, false) => self.blacklist = None,
        }
        self.cfg = cfg;
        self.auth = auth;
        if host_changed {
            self.reset_public_ip();
        }
        self.follow_public_host();
    }

    /// New interface addresses (e.g. after a PPP reconnect, decisions §3). Registrations made
    /// through the proxy are masqueraded on the outbound address: they move to the new one at
    /// once rather than at the phone's next REGISTER.
    pub fn set_addresses(&mut self, addrs: Addresses) {
        // The server may be asked over either family: a change of either WAN address can
        // change the mapping it reports.
        let wan_moved =
            addrs.outbound != self.addrs.outbound || addrs.outbound_alt != self.addrs.outbound_alt;
        if let Some(s) = self.stun.as_mut().filter(|_| wan_moved) {
            s.ask_soon();
        }
        self.addrs = addrs;
        self.follow_public_host();
    }

    /// The public host of the WAN side in family `i` (0: IPv4, 1: IPv6), when it has an
    /// address of that family.
    fn public_host_of_family(&self, i: usize) -> Option<String> {
        let peer = if i == 0 {
            IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)
        } else {
            IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
        };
        let out = self.addrs.outbound_for(peer)?;
        if out.is_ipv6() != (i == 1) {
            return None;
        }
        self.public_host_for(peer)
    }

    /// Moves registrations masqueraded on the previous public host of each family to the
    /// current one (a family the WAN lost keeps its last host, to move from when it is back).
    fn follow_public_host(&mut self) {
        for i in 0..2 {
            let Some(new) = self.public_host_of_family(i) else {
                continue;
            };
            let Some(old) = self
                .last_public
                .get_mut(i)
                .and_then(|l| l.replace(new.clone()))
            else {
                continue;
            };
            if old == new {
                continue;
            }
            let mode = crate::registry::Mode::OutboundProxy {
                outbound_host: &new,
                listen_port: self.settings.listen_port,
            };
            let moved = self.registry.rehost(&old, mode);
            if moved > 0 {
                log::info!("outbound address {old} -> {new}: {moved} registration(s) moved");
            }
        }
    }

    pub fn addresses(&self) -> Addresses {
        self.addrs
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    pub fn counters(&self) -> &SipCounters {
        &self.counters
    }

    /// plugin_blacklist's table, when loaded (status, persistence).
    pub fn blacklist(&self) -> Option<&crate::plugins::blacklist::Blacklist> {
        self.blacklist.as_ref()
    }

    pub fn blacklist_mut(&mut self) -> Option<&mut crate::plugins::blacklist::Blacklist> {
        self.blacklist.as_mut()
    }

    /// Whether a TCP connection from `peer` is kept: a blacklisted source's is closed at
    /// accept (counted as a blacklisted drop), before it can hold a slot of the connection
    /// table until its idle timeout.
    pub fn admits_connection(&mut self, now: u64, peer: SocketAddr) -> bool {
        if self
            .blacklist
            .as_mut()
            .is_some_and(|b| b.screen(now, peer.ip()))
        {
            self.counters.count(DropReason::Blacklisted);
            return false;
        }
        true
    }

    /// The blacklist and the WAN rate limit: checks of the source address and the first
    /// bytes, before anything is parsed. `true` drops the datagram, counted but not logged
    /// (a flood must not turn into a flood of log lines).
    fn screen(&mut self, now: u64, origin: &Origin, bytes: &[u8]) -> bool {
        let ip = origin.src.ip();
        if self.blacklist.as_mut().is_some_and(|b| b.screen(now, ip)) {
            self.counters.count(DropReason::Blacklisted);
            return true;
        }
        let request = !bytes.starts_with(b"SIP/2.0") && !self.is_stun_answer(origin, bytes);
        if request && !self.arrived_on_lan(origin) && !self.rate.allow(now, ip) {
            self.counters.count(DropReason::RateLimited);
            return true;
        }
        false
    }

    /// A STUN message from the server we ask: an answer, not a request (a STUN server that is
    /// also a busy SIP peer would otherwise lose its answers to the rate limit). STUN starts
    /// with two zero bits, SIP with a letter.
    fn is_stun_answer(&self, origin: &Origin, bytes: &[u8]) -> bool {
        self.stun.is_some()
            && origin.transport == Transport::Udp
            && self.stun_server == Some(origin.src)
            && bytes.first().is_some_and(|b| b & 0xC0 == 0)
    }

    /// A failed registration from `ip`, for plugin_blacklist.
    fn blacklist_fail(&mut self, now: u64, ip: IpAddr) {
        if let Some(b) = self.blacklist.as_mut() {
            b.fail(now, ip);
        }
    }

    /// What the inputs so far ask for, one at a time: the messages to send (SIP, and the
    /// resolver's DNS queries, whose `source` has port 0: the shell's resolver socket), then
    /// [`Output::Timeout`] with the instant [`Proxy::handle_timeout`] is next due.
    pub fn poll_output(&mut self, buf: &mut [u8]) -> Output<crate::sansio::NoEvent> {
        if let Some(t) = self.out.pop_into(buf) {
            return Output::Transmit(t);
        }
        if let Some((ns, len)) = self.resolver.poll_transmit(buf) {
            let any = match ns {
                SocketAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
                SocketAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
            };
            return Output::Transmit(Transmit {
                source: SocketAddr::new(any, 0),
                destination: ns,
                transport: Transport::Udp,
                connection: None,
                len,
            });
        }
        Output::Timeout(self.next_deadline())
    }

    pub(super) fn drop_msg(&mut self, why: DropReason, origin: &Origin, detail: &str) {
        self.counters.count(why);
        log::info!(
            "dropped message from {} ({}): {detail}",
            origin.src,
            why.name()
        );
    }

    /// Handles one received SIP message. `now` is monotonic milliseconds; `media` is the RTP
    /// relay SDP rewriting opens streams in.
    ///
    /// Stages (behaviour §4.1 with decisions §4): admission (ACL, raw sanity) → parse and
    /// validate → the request checks (Proxy-Require, Max-Forwards, Via loop) → REGISTER
    /// handling or forwarding. The plugin stages "raw" and "validate" sit between the first
    /// two; the forwarding stages are in `forward`.
    pub fn handle_message(
        &mut self,
        now: u64,
        origin: Origin,
        bytes: &[u8],
        media: &mut dyn Media,
    ) {
        self.counters.received = self.counters.received.saturating_add(1);
        // IPv4-mapped addresses are the IPv4 ones from here on: one phone, one identity
        // (registrations, relay, ACL), and answers leave from the IPv4 socket.
        let canon = |a: SocketAddr| SocketAddr::new(a.ip().to_canonical(), a.port());
        let origin = Origin {
            src: canon(origin.src),
            local: canon(origin.local),
            ..origin
        };
        if self.screen(now, &origin, bytes) {
            return;
        }
        if self.stun_input(now, &origin, bytes) {
            return;
        }
        if !self.plugins_raw(now, &origin, bytes) {
            return;
        }
        let Some(access) = self.admit(&origin, bytes) else {
            return;
        };
        // Parsed here, not returned from a helper: a `Message` is large (its header index is
        // inline), and moving it out of a function costs a copy per message.
        let msg = match Message::parse(bytes, origin.transport.framing()) {
            Ok(m) => m,
            Err(e) => {
                self.reject_unparsed(&origin, bytes, e);
                return;
            }
        };
        if !self.validate_or_reject(&origin, &msg) {
            return;
        }
        // "Fix" plugins repair a message before the proxy's checks see it (without them
        // nothing is copied: `msg` is then the received message itself).
        match self.plugins_fix(now, &origin, &msg) {
            None => self.dispatch(now, &origin, &msg, access, media),
            Some(buf) => {
                self.dispatch_repaired(now, &origin, &buf, access, media);
                self.fix_done(buf);
            }
        }
    }

    /// A message a plugin repaired: parsed and validated again, then handled.
    fn dispatch_repaired(
        &mut self,
        now: u64,
        origin: &Origin,
        buf: &[u8],
        access: crate::acl::Access,
        media: &mut dyn Media,
    ) {
        let repaired = match Message::parse(buf, origin.transport.framing()) {
            Ok(m) => m,
            Err(e) => {
                self.reject_unparsed(origin, buf, e);
                return;
            }
        };
        if self.validate_or_reject(origin, &repaired) {
            self.dispatch(now, origin, &repaired, access, media);
        }
    }

    /// A valid message: a response is forwarded, a request handled.
    fn dispatch(
        &mut self,
        now: u64,
        origin: &Origin,
        msg: &Message<'_>,
        access: crate::acl::Access,
        media: &mut dyn Media,
    ) {
        if !msg.is_request() {
            if !access.sip {
                self.drop_msg(
                    DropReason::NoSipPermission,
                    origin,
                    "response from a host without SIP permission",
                );
                return;
            }
            self.forward_response(now, origin, msg, media);
            return;
        }
        self.handle_request(now, origin, msg, access, media);
    }

    /// A valid request: the checks, the plugins' "determine target", then REGISTER handling or
    /// forwarding.
    fn handle_request(
        &mut self,
        now: u64,
        origin: &Origin,
        msg: &Message<'_>,
        access: crate::acl::Access,
        media: &mut dyn Media,
    ) {
        if let Err(r) = self.check_request(origin, msg) {
            self.refuse(origin, msg, r);
            return;
        }
        if self.redirected_ack(now, msg) {
            log::debug!(target: PROXY, "ACK of a redirected request from {} swallowed", origin.src);
            return;
        }
        let forced = match self.plugins_decide(now, origin, msg, false) {
            hooks::Outcome::Done => return,
            hooks::Outcome::Continue => false,
            hooks::Outcome::Forward => true,
        };
        if msg.method() == Some(b"REGISTER") {
            if let Err(r) = self.check_register_access(origin, access) {
                self.blacklist_fail(now, origin.src.ip());
                self.refuse(origin, msg, r);
                return;
            }
            self.on_register(now, origin, msg, media);
            return;
        }
        if !access.sip {
            self.drop_msg(
                DropReason::NoSipPermission,
                origin,
                "request from a host without SIP permission",
            );
            return;
        }
        match forced {
            true => self.forward_forced(now, origin, msg, media),
            false => self.forward_request(now, origin, msg, None, media),
        }
    }

    /// The access lists and the raw sanity checks: what the source may do, or `None` when the
    /// datagram goes no further.
    fn admit(&mut self, origin: &Origin, bytes: &[u8]) -> Option<crate::acl::Access> {
        let access = self.settings.access.check(origin.src.ip());
        if !access.sip && !access.reg {
            self.counters.count(DropReason::Acl);
            log::debug!(target: ACCESS, "access denied for {}", origin.src);
            return None;
        }
        if bytes.len() < limits::SIP_MIN_MESSAGE {
            // NAT keepalives (CRLF, 4-byte pings) are normal: no log line above debug.
            self.counters.count(DropReason::TooShort);
            log::debug!(target: SIP, "ignored {} bytes from {} (keepalive)", bytes.len(), origin.src);
            return None;
        }
        if bytes.iter().filter(|&&b| b == b' ').count() < 2 {
            self.drop_msg(
                DropReason::RawCheck,
                origin,
                "fewer than two spaces: not SIP",
            );
            return None;
        }
        Some(access)
    }

    /// Validates; a message that fails is answered (400/416/505) or dropped (`false`).
    fn validate_or_reject(&mut self, origin: &Origin, msg: &Message<'_>) -> bool {
        // Max-Forwards out of range is treated as siproxd does (`check_request`), not as
        // malformed; the checks `validate` skipped when it stopped there still apply.
        let valid = match msg.validate() {
            // The last check of validate(): everything else is fine (siproxd reads it as 70).
            Err(ParseError::BadMaxForwards) => Ok(()),
            other => other,
        };
        if let Err(e) = valid {
            self.reject(origin, msg, e);
            return false;
        }
        true
    }

    /// Proxy-Require (420), Max-Forwards (483, or 200 to OPTIONS) and Via loops (482). An ACK
    /// is never answered (decisions §4): it is forwarded or dropped.
    fn check_request(
        &mut self,
        origin: &Origin,
        msg: &Message<'_>,
    ) -> Result<(), forward::Refusal> {
        let method = msg.method().unwrap_or(b"");
        let ack = method == b"ACK";
        if !ack {
            let mut unsupported = msg.unsupported_proxy_require(&[]).peekable();
            if unsupported.peek().is_some() {
                let mut list = String::new();
                for t in unsupported {
                    if !list.is_empty() {
                        list.push_str(", ");
                    }
                    list.push_str(&String::from_utf8_lossy(t));
                }
                self.counters.count(DropReason::BadExtension);
                self.respond(
                    origin,
                    msg,
                    Status::BAD_EXTENSION,
                    &[("Unsupported", &list)],
                );
                return Err(forward::Refusal::Quiet(None));
            }
        }
        if rewrite::max_forwards(msg) <= 0 {
            if ack {
                log::info!("ACK from {} dropped: Max-Forwards exhausted", origin.src);
            }
            let status = match method {
                b"OPTIONS" => Status::OK,
                _ => Status::TOO_MANY_HOPS,
            };
            return Err(forward::Refusal::Answer {
                status,
                count: Some(DropReason::TooManyHops),
            });
        }
        if self.via_loop(msg) {
            if ack {
                log::info!("ACK from {} dropped: Via loop", origin.src);
            }
            return Err(forward::Refusal::Answer {
                status: Status::LOOP_DETECTED,
                count: Some(DropReason::Loop),
            });
        }
        Ok(())
    }

    /// Who may register: hosts `hosts_allow_reg` admits, and from the Internet side only
    /// hosts it names explicitly (decisions §3).
    fn check_register_access(
        &self,
        origin: &Origin,
        access: crate::acl::Access,
    ) -> Result<(), forward::Refusal> {
        if !access.reg {
            log::warn!(
                "REGISTER from {} dropped: not allowed by hosts_allow_reg",
                origin.src
            );
            return Err(forward::Refusal::Quiet(Some(
                DropReason::NoRegisterPermission,
            )));
        }
        if !self.register_side_allowed(origin) {
            log::warn!(
                "REGISTER from {} on the outbound address refused: phones register from the \
                 LAN (list WAN hosts in hosts_allow_reg to allow them)",
                origin.src
            );
            return Err(forward::Refusal::Answer {
                status: Status::FORBIDDEN,
                count: Some(DropReason::NoRegisterPermission),
            });
        }
        Ok(())
    }

    /// A message that did not parse: answered when the headers a response needs are there.
    fn reject_unparsed(&mut self, origin: &Origin, bytes: &[u8], e: ParseError) {
        let is_request = crate::sip::looks_like_request(bytes);
        if let ProxyAction::Answer(code, reason) = e.action(is_request) {
            if let Ok(m) = Message::parse_for_reply(bytes) {
                if m.top_via().is_ok() && m.method() != Some(b"ACK") {
                    log::info!("bad message from {}: {e}; answering {code}", origin.src);
                    self.counters.count(DropReason::Unparsable);
                    self.respond(origin, &m, Status::new(code, reason), &[]);
                    return;
                }
            }
        }
        self.drop_msg(DropReason::Unparsable, origin, &e.to_string());
    }

    /// A message that parsed but failed validation.
    fn reject(&mut self, origin: &Origin, msg: &Message<'_>, e: ParseError) {
        match e.action(msg.is_request()) {
            ProxyAction::Answer(code, reason) if msg.method() != Some(b"ACK") => {
                log::info!("invalid message from {}: {e}; answering {code}", origin.src);
                self.counters.count(DropReason::Invalid);
                self.respond(origin, msg, Status::new(code, reason), &[]);
            }
            _ => self.drop_msg(DropReason::Invalid, origin, &e.to_string()),
        }
    }

    /// Whether the message came in on the inbound (LAN) address. With one address for both
    /// sides (`host_outbound` set-ups) every message counts as LAN.
    fn arrived_on_lan(&self, origin: &Origin) -> bool {
        let l = origin.local.ip().to_canonical();
        l == self.addrs.inbound || Some(l) == self.addrs.inbound_alt
    }

    /// A REGISTER from the Internet side would make its sender a "local phone" whose calls
    /// leave from the router's public address (an open relay): only hosts listed explicitly in
    /// `hosts_allow_reg` may register from there.
    fn register_side_allowed(&self, origin: &Origin) -> bool {
        self.arrived_on_lan(origin) || self.settings.access.names_registrar_client(origin.src.ip())
    }

    /// Via loop detection (behaviour §4.10.4): more than two of our own Vias below the top.
    fn via_loop(&self, msg: &Message<'_>) -> bool {
        let own = self.own();
        let ours = msg
            .vias()
            .skip(1)
            .filter_map(Result::ok)
            .filter(|v| own.is_own_hostport(v.host_raw, v.port))
            .count();
        ours > 2
    }

    /// The public name or address written into Via, Contact and Record-Route towards `peer`:
    /// `host_outbound`, unless it is an address of the other family than the peer's, else
    /// the outbound address of the peer's family.
    fn public_host_for(&self, peer: IpAddr) -> Option<String> {
        let out = self.addrs.outbound_for(peer)?;
        // A STUN-learned address of that family wins (plugin_stun).
        if let Some(ip) = self
            .stun_public()
            .filter(|ip| ip.is_ipv4() == out.is_ipv4())
        {
            return Some(uri_host(ip));
        }
        match (&self.settings.host_outbound, self.public_ip) {
            (Some(_), Some(ip)) if ip.is_ipv4() != out.is_ipv4() => Some(uri_host(out)),
            (Some(h), _) => Some(h.clone()),
            (None, _) => Some(uri_host(out)),
        }
    }

    /// The public address for SDP towards `peer`'s family (see `public_host_for`).
    fn public_ip_for(&self, peer: IpAddr) -> Option<IpAddr> {
        let out = self.addrs.outbound_for(peer)?;
        let same = |p: &IpAddr| p.is_ipv4() == out.is_ipv4();
        Some(
            self.stun_public()
                .filter(same)
                .or(self.public_ip.filter(same))
                .unwrap_or(out),
        )
    }

    /// The side's address of `to`'s family, when a name resolved only to the other family
    /// than the one the message was written for (the shell cannot send across families).
    fn source_for(&self, source: SocketAddr, to: SocketAddr) -> SocketAddr {
        if source.is_ipv4() == to.ip().to_canonical().is_ipv4() {
            return source;
        }
        let s = source.ip();
        let ip = if s == self.addrs.inbound || Some(s) == self.addrs.inbound_alt {
            Some(self.addrs.inbound_for(to.ip()))
        } else {
            self.addrs.outbound_for(to.ip())
        };
        SocketAddr::new(ip.unwrap_or(s), source.port())
    }

    /// Sends `bytes` to `host:port`, resolving a name first (the message waits in a bounded
    /// queue meanwhile).
    fn send_to_host(
        &mut self,
        now: u64,
        source: SocketAddr,
        transport: Transport,
        hop: &Hop,
        bytes: &[u8],
    ) {
        let (host, port) = (hop.host.as_str(), hop.port);
        let token = self.next_token;
        self.next_token = self.next_token.wrapping_add(1);
        match self.resolver.resolve(now, host, port, token) {
            Lookup::Ready(addrs) => match pick_family(&addrs, source.ip()) {
                Some(to) => {
                    self.counters.forwarded = self.counters.forwarded.saturating_add(1);
                    let source = self.source_for(source, to);
                    self.out.push(source, to, transport, None, bytes);
                }
                None => {
                    self.counters.count(DropReason::Unroutable);
                    log::info!("no address for next hop {host}: message dropped");
                }
            },
            Lookup::Pending => {
                self.resolver_touched = true;
                if self.pending.len() >= limits::PROXY_DNS_PENDING {
                    self.counters.count(DropReason::DnsPendingFull);
                    log::warn!("DNS queue full: message for {host} dropped");
                    return;
                }
                log::debug!(target: PROXY, "waiting for DNS of {host}");
                self.pending.push(Pending {
                    token,
                    source,
                    transport,
                    bytes: bytes.to_vec(),
                });
            }
            Lookup::Failed(f) => {
                self.resolver_touched = true;
                self.counters.count(DropReason::DnsFailed);
                log::info!("cannot resolve next hop {host}: {f}; message dropped");
            }
        }
    }

    /// Moves completed DNS lookups' messages to the outbox.
    fn drain_dns_events(&mut self) {
        while let Some(Resolved { user_token, result }) = self.resolver.poll_event() {
            if user_token == HOST_OUTBOUND_TOKEN {
                let name = self.settings.host_outbound.clone().unwrap_or_default();
                match result {
                    Ok(a) => self.set_public_ip(&name, a.first().map(|s| s.ip())),
                    Err(f) => log::warn!("host_outbound = {name}: {f}"),
                }
                continue;
            }
            if user_token == STUN_TOKEN {
                match result {
                    Ok(a) => self.stun_send(a.first().copied()),
                    Err(f) => log::warn!("plugin_stun_server: {f}"),
                }
                continue;
            }
            let Some(pos) = self.pending.iter().position(|p| p.token == user_token) else {
                continue;
            };
            let p = self.pending.swap_remove(pos);
            match result.ok().and_then(|a| pick_family(&a, p.source.ip())) {
                Some(to) => {
                    self.counters.forwarded = self.counters.forwarded.saturating_add(1);
                    let source = self.source_for(p.source, to);
                    self.out.push(source, to, p.transport, None, &p.bytes);
                }
                None => {
                    self.counters.count(DropReason::DnsFailed);
                    log::info!("next hop did not resolve: queued message dropped");
                }
            }
        }
    }

    /// A request the shell could not deliver (its TCP connect failed or timed out): its sender
    /// gets 503, as if from the next hop, so a phone is not left waiting for timer B.
    pub fn handle_undeliverable(
        &mut self,
        now: u64,
        local: SocketAddr,
        peer: SocketAddr,
        bytes: &[u8],
        media: &mut dyn Media,
    ) {
        let Ok(req) = Message::parse(bytes, crate::sip::Framing::Stream) else {
            return;
        };
        if !req.is_request() || req.method() == Some(b"ACK") {
            return;
        }
        log::info!(
            "{} to {peer} not delivered (no TCP connection): answering its sender 503",
            String::from_utf8_lossy(req.method().unwrap_or(b"?"))
        );
        // The answer carries every Via of the request, ours on top: it goes back the way a
        // response from `peer` would.
        let text = respond::build(&req, Status::SERVICE_UNAVAILABLE, &[]);
        let Ok(resp) = Message::parse(text.as_bytes(), crate::sip::Framing::Datagram) else {
            return;
        };
        let origin = Origin {
            transport: Transport::Tcp,
            src: peer,
            local,
            connection: None,
        };
        self.forward_response(now, &origin, &resp, media);
    }

    /// A DNS datagram for the resolver; completed lookups release their queued messages.
    pub fn handle_dns(&mut self, now: u64, from: SocketAddr, bytes: &[u8]) {
        self.resolver_touched = true;
        self.resolver.handle_response(now, from, bytes);
        self.drain_dns_events();
    }

    /// The next instant (ms) at which [`Proxy::handle_timeout`] has work.
    fn next_deadline(&mut self) -> Option<u64> {
        let reg = self
            .registry
            .next_deadline()
            .map(|s| s.saturating_mul(1000));
        if std::mem::take(&mut self.resolver_touched) {
            self.resolver_deadline = self.resolver.poll_timeout();
        }
        [
            reg,
            self.resolver_deadline,
            self.public_refresh,
            self.plugins_deadline(),
            self.stun.as_ref().map(|s| s.next_due()),
            self.blacklist.as_ref().and_then(|b| b.next_deadline()),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Timers: registration expiry, DNS retransmissions and failures.
    pub fn handle_timeout(&mut self, now: u64) {
        let removed = self.registry.expire(now / 1000);
        if removed > 0 {
            log::debug!(target: crate::logging::REG, "{removed} registration binding(s) expired");
        }
        self.resolver_touched = true;
        self.resolver.handle_timeout(now);
        self.drain_dns_events();
        self.plugins_timer(now);
        if let Some(b) = self.blacklist.as_mut() {
            b.handle_timeout(now);
        }
        if self.public_refresh.is_some_and(|t| t <= now) {
            self.refresh_public_ip(now);
        }
        if self.stun.as_ref().is_some_and(|s| s.next_due() <= now) {
            self.stun_ask(now);
        }
    }
}

/// DNS token of the `host_outbound` lookup (message tokens count up from 1).
const HOST_OUTBOUND_TOKEN: u64 = u64::MAX;
/// DNS token of the `plugin_stun_server` lookup.
const STUN_TOKEN: u64 = u64::MAX - 1;
/// How often a `host_outbound` name is looked up again (the resolver cache honours its TTL).
const HOST_OUTBOUND_REFRESH_MS: u64 = 60_000;

/// Of a name's addresses, the first of `source`'s family (the message was written for it),
/// else the first.
fn pick_family(addrs: &[SocketAddr], source: IpAddr) -> Option<SocketAddr> {
    let v4 = source.is_ipv4();
    addrs
        .iter()
        .find(|a| a.ip().to_canonical().is_ipv4() == v4)
        .or(addrs.first())
        .copied()
}

/// An address as it is written in a URI host (IPv6 in brackets).
pub fn uri_host(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => format!("[{a}]"),
    }
}
