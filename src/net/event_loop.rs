//! The one event loop of the daemon: one `mio::Poll` over the signal pipe, the SIP, DNS, RTP
//! and debug sockets and the address-change watch. It owns the sockets and dispatches: what a
//! socket delivers goes to the core's `handle_*` input, what the proxy asks to send is sent,
//! and the poll timeout is the earliest deadline the cores (proxy, upkeep, relay) and the
//! loop's own timers reported, so there is no tick. The cores are built by `net::setup`.
//!
//! A dynamic `if_outbound` (an interface name) is followed through rtnetlink notifications;
//! only where netlink is unavailable does a timer re-check it every
//! `limits::IFACE_RECHECK_MS`. When its address changes the outbound socket is rebound.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};

use super::debug_port::DebugPort;
use super::iface::{self, IfError};
use super::netlink::AddrWatch;
use super::relay::{self, Relay};
use super::setup::{self, Cores};
use super::signals::{Signal, SignalPipe};
use super::tcp::{Side, Tcp};
use super::timer::Timers;
use super::udp;
use super::upkeep::Upkeep;
use crate::debug_log::DebugSink;
use crate::limits;
use crate::logging::{DNS, NET, NETTRAF};
use crate::proxy::{Addresses, Origin, Proxy};
use crate::sansio::{Output, Transport};

const SIGNALS: Token = Token(0);
const SIP_INBOUND: Token = Token(1);
const SIP_OUTBOUND: Token = Token(2);
const ADDR_WATCH: Token = Token(3);
const DNS_SOCKET: Token = Token(4);
const DEBUG_LISTENER: Token = Token(5);
/// The other-family SIP sockets of dual-stack sides (inbound, outbound), clear of the debug
/// clients' tokens.
const SIP_ALT: [Token; 2] = [Token(12), Token(13)];
/// Debug clients use the tokens from here on, after every fixed token above and the TCP
/// listeners' (6, 7, 14, 15): a token shared by two sockets would hand one's readiness to the
/// other's handler.
const DEBUG_CLIENTS: usize = 16;
const _: () = assert!(
    DEBUG_CLIENTS > SIP_ALT[1].0
        && DEBUG_CLIENTS > super::tcp::LISTEN_OUTBOUND.0
        && DEBUG_CLIENTS > super::tcp::LISTEN_ALT[1].0
        && DEBUG_CLIENTS + limits::DEBUG_MAX_CLIENTS <= limits::TCP_TOKEN_BASE
);

/// What a timer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerKey {
    /// Re-read the address of a dynamic `if_outbound` (only without netlink).
    OutboundRecheck,
}

/// Why the loop could not start.
#[derive(Debug)]
pub enum StartError {
    /// `if_inbound` is not configured.
    NoInbound,
    /// An interface directive gave no address.
    Interface(&'static str, String, IfError),
    /// A SIP socket could not be opened on this address.
    Bind(SocketAddr, io::Error),
    /// The SIP TCP listener could not be opened on this address.
    BindTcp(SocketAddr, io::Error),
    /// Poll or signal set-up failed.
    Setup(&'static str, io::Error),
    /// `proxy_auth_realm` is set but no nonce key can be had.
    Auth(String),
    /// A plugin's directives are unusable (the message names the directive).
    Plugin(String),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::NoInbound => write!(f, "if_inbound is not set in the configuration"),
            StartError::Interface(d, v, e) => write!(f, "{d} = {v}: {e}"),
            StartError::Bind(a, e) => write!(f, "cannot bind SIP UDP socket on {a}: {e}"),
            StartError::BindTcp(a, e) => write!(f, "cannot listen for SIP over TCP on {a}: {e}"),
            StartError::Setup(what, e) => write!(f, "{what}: {e}"),
            StartError::Auth(e) => write!(f, "proxy_auth_realm: {e}"),
            StartError::Plugin(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for StartError {}

/// Counters of the shell (read by tests through the NET log lines).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Every datagram received on a SIP socket, oversized ones included.
    pub sip_datagrams: u64,
    /// Datagrams dropped for exceeding `limits::SIP_MAX_MESSAGE`.
    pub sip_oversized: u64,
}

/// A SIP socket and the address it is bound to.
#[derive(Debug)]
struct SipSocket {
    sock: UdpSocket,
    local: SocketAddr,
}

/// How the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// SIGTERM or SIGINT (the signal number).
    Terminated(i32),
}

/// The daemon's event loop and the sockets it owns.
pub struct EventLoop {
    poll: Poll,
    events: Events,
    signals: SignalPipe,
    timers: Timers<TimerKey, { limits::MAX_TIMERS }>,
    port: u16,
    dscp: u8,
    inbound: SipSocket,
    /// `None` while a dynamic outbound interface has no address, or when it equals inbound.
    outbound: Option<SipSocket>,
    /// The interface name of a dynamic `if_outbound` (followed through netlink or a timer).
    outbound_if: Option<String>,
    /// `if_inbound` by name: its IPv6 address is followed (the IPv4 one stays).
    inbound_if: Option<String>,
    /// Address-change notifications for `outbound_if` and `inbound_if`.
    addr_watch: Option<AddrWatch>,
    outbound_addr: Option<IpAddr>,
    /// The IPv6 sockets beside the IPv4 ones of dual-stack sides (inbound, outbound); the
    /// outbound one is `None` when it is the inbound one's address.
    alts: [Option<SipSocket>; 2],
    outbound_alt_addr: Option<IpAddr>,
    /// `host_outbound` when it is an IP literal (names are for the DNS module).
    host_outbound: Option<IpAddr>,
    recv_buf: Box<[u8]>,
    /// The sans-IO proxy core every SIP datagram goes through.
    proxy: Proxy,
    /// The resolver's socket (an ephemeral port, so answers cannot be guessed as easily).
    dns: Option<UdpSocket>,
    /// `debug_port`: the log stream for remote clients (decisions §8).
    debug: Option<DebugPort>,
    /// Registration file, status snapshot, reload (set by main; tests run without).
    upkeep: Option<Upkeep>,
    started: Instant,
    stats: NetStats,
    exit: Option<Exit>,
    /// The RTP relay: its sockets use tokens from `limits::RELAY_TOKEN_BASE` up.
    relay: Relay,
    /// The proxy's own deadline, as its last `poll_output` drain said (the loop drains it
    /// after every input, so this is always current).
    proxy_deadline: Option<u64>,
    /// SIP over TCP: listeners and connections.
    tcp: Tcp,
    /// The buffer the proxy's output is drained into.
    send_buf: Box<[u8]>,
}

impl EventLoop {
    /// Installs the signal handlers and binds the sockets `cores.sockets` names (see
    /// [`setup::build`]).
    pub fn new(cores: Cores) -> Result<EventLoop, StartError> {
        let Cores {
            proxy,
            table,
            sockets: plan,
        } = cores;
        let poll = Poll::new().map_err(|e| StartError::Setup("cannot create poll", e))?;
        let mut signals =
            SignalPipe::install().map_err(|e| StartError::Setup("cannot install signals", e))?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)
            .map_err(|e| StartError::Setup("cannot register signal pipe", e))?;

        let inbound = open(
            &poll,
            SIP_INBOUND,
            SocketAddr::new(plan.inbound, plan.sip_port),
            plan.sip_dscp,
        )?;
        let dns = match UdpSocket::bind(SocketAddr::new(unspecified_like(plan.inbound), 0)) {
            Ok(mut s) => match poll
                .registry()
                .register(&mut s, DNS_SOCKET, Interest::READABLE)
            {
                Ok(()) => Some(s),
                Err(e) => {
                    log::warn!("DNS socket: {e}; names cannot be resolved");
                    None
                }
            },
            Err(e) => {
                log::warn!("DNS socket: {e}; names cannot be resolved");
                None
            }
        };
        let registry = poll
            .registry()
            .try_clone()
            .map_err(|e| StartError::Setup("cannot clone the poll registry", e))?;
        let relay = Relay::new(table, plan.rtp_dscp, registry);

        let mut el = EventLoop {
            poll,
            events: Events::with_capacity(limits::POLL_EVENTS),
            signals,
            timers: Timers::new(),
            port: plan.sip_port,
            dscp: plan.sip_dscp,
            inbound,
            outbound: None,
            outbound_if: plan.outbound_if,
            inbound_if: plan.inbound_if,
            addr_watch: None,
            outbound_addr: None,
            alts: [None, None],
            outbound_alt_addr: None,
            host_outbound: plan.host_outbound,
            recv_buf: vec![0u8; limits::SIP_RECV_BUFFER].into_boxed_slice(),
            proxy,
            dns,
            debug: None,
            upkeep: None,
            started: Instant::now(),
            stats: NetStats::default(),
            exit: None,
            relay,
            proxy_deadline: None,
            tcp: Tcp::new(plan.tcp),
            send_buf: vec![0u8; limits::SIP_SEND_BUFFER].into_boxed_slice(),
        };
        let tcp_in = el.inbound.local;
        el.tcp
            .listen(el.poll.registry(), Side::Inbound, tcp_in)
            .map_err(|e| StartError::BindTcp(tcp_in, e))?;
        if let Some(addr) = plan.inbound_alt {
            el.alts[0] = Some(el.bind_side(addr, Side::InboundAlt)?);
        }
        if let Some(addr) = plan.outbound {
            el.set_outbound(addr, plan.outbound_alt)?;
        }
        if el.outbound_if.is_some() || el.inbound_if.is_some() {
            el.watch_addresses();
            // A change between the first lookup and the subscription must not be lost.
            el.recheck_outbound();
            el.recheck_inbound();
        }
        if let Some(addr) = plan.debug {
            el.open_debug_port(addr);
        }
        // Learn the proxy's first deadline (a `host_outbound` name is looked up at once).
        el.flush(el.now_ms());
        Ok(el)
    }

    /// The addresses the SIP sockets are bound to (inbound first).
    pub fn sip_addresses(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        std::iter::once(self.inbound.local)
            .chain(self.outbound.as_ref().map(|s| s.local))
            .chain(self.alts.iter().flatten().map(|s| s.local))
    }

    /// The public outbound address: `host_outbound` when it is a literal, else the interface's.
    pub fn outbound_address(&self) -> Option<IpAddr> {
        self.host_outbound.or(self.outbound_addr)
    }

    pub fn stats(&self) -> NetStats {
        self.stats
    }

    /// The RTP relay (for the proxy core to open and close streams).
    pub fn relay_mut(&mut self) -> &mut Relay {
        &mut self.relay
    }

    /// Milliseconds since the loop was created (monotonic): the `now` handed to the core.
    pub fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Runs until SIGTERM/SIGINT.
    pub fn run(&mut self) -> io::Result<Exit> {
        loop {
            if let Some(exit) = self.turn(None)? {
                self.relay.close_all();
                return Ok(exit);
            }
        }
    }

    /// One turn of the loop: fire due timers and wake the cores whose deadline has come,
    /// wait for events (at most until the next deadline, and at most `max_wait` if given),
    /// handle them. Returns the exit reason once a terminating signal was handled.
    pub fn turn(&mut self, max_wait: Option<Duration>) -> io::Result<Option<Exit>> {
        let mut now = self.now_ms();
        let mut worked = false;
        while let Some(key) = self.timers.pop_expired(now) {
            self.on_timer(now, key);
            worked = true;
        }
        worked |= self.handle_due(now);
        if self.exit.is_some() {
            return Ok(self.exit);
        }
        if worked {
            // Timers and upkeep may have taken a while (file writes): sleep from the real time.
            now = self.now_ms();
        }
        // Each core reports its own deadline (cached there); deadlines only move later while
        // we sleep, so the earliest never wakes us late.
        let due = [
            self.timers.next_deadline(),
            self.proxy_deadline,
            self.upkeep.as_ref().and_then(Upkeep::poll_timeout),
            self.relay.poll_timeout(),
            self.tcp.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
        .map(|d| Duration::from_millis(d.saturating_sub(now)));
        let timeout = [due, max_wait].into_iter().flatten().min();
        if let Some(d) = self.debug.as_mut() {
            d.drain_log();
        }
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(None),
            Err(e) => return Err(e),
        }
        // One clock read per wake-up: the relay's `now` is in ms, a wake-up takes µs.
        let now = self.now_ms();
        let mut ready: heapless::Vec<Token, { limits::POLL_EVENTS }> = heapless::Vec::new();
        if let Some(d) = self.debug.as_mut() {
            for ev in self.events.iter() {
                if d.owns(ev.token()) {
                    d.handle_event(self.poll.registry(), ev, now);
                }
            }
        }
        for ev in self.events.iter() {
            // Capacity equals the events capacity, so this never fails.
            let _ = ready.push(ev.token());
        }
        for &token in &ready {
            if relay::relay_token(token).is_some() {
                self.relay.handle_readable(now, token);
                continue;
            }
            if self.tcp.owns(token) {
                self.on_tcp(now, token);
                continue;
            }
            match token {
                SIGNALS => self.on_signals(),
                SIP_INBOUND | SIP_OUTBOUND => self.drain_sip(token),
                t if SIP_ALT.contains(&t) => self.drain_sip(token),
                DNS_SOCKET => self.drain_dns(),
                ADDR_WATCH if self.addr_watch.as_ref().is_some_and(AddrWatch::drain) => {
                    self.recheck_outbound();
                    self.recheck_inbound();
                }
                _ => {}
            }
        }
        // Connections with more to read than one turn's budget, once each per turn.
        for _ in 0..self.tcp.more_len() {
            if let Some(token) = self.tcp.pop_more() {
                self.on_tcp(now, token);
            }
        }
        // Woken by a deadline: serve it now rather than after the next wait.
        if self.exit.is_none() {
            self.handle_due(now);
        }
        Ok(self.exit)
    }

    /// Calls `handle_timeout` of every core whose reported deadline is ≤ `now`; returns
    /// whether any was due.
    fn handle_due(&mut self, now: u64) -> bool {
        let mut worked = false;
        if self.proxy_deadline.is_some_and(|d| d <= now) {
            self.proxy.handle_timeout(now);
            self.flush(now);
            worked = true;
        }
        if let Some(u) = self.upkeep.as_mut() {
            if u.poll_timeout().is_some_and(|d| d <= now) {
                let t = self.tcp.streams();
                u.handle_tcp(t, now);
                u.handle_timeout(now, &self.proxy, &self.relay);
                worked = true;
            }
        }
        if self.relay.poll_timeout().is_some_and(|d| d <= now) {
            self.relay.handle_timeout(now);
        }
        if self.tcp.poll_timeout().is_some_and(|d| d <= now) {
            self.tcp.handle_timeout(self.poll.registry(), now);
            self.flush(now);
            worked = true;
        }
        worked
    }

    /// A TCP listener or connection is ready: every framed message goes to the proxy core.
    fn on_tcp(&mut self, now: u64, token: Token) {
        let Self {
            tcp,
            proxy,
            relay,
            poll,
            ..
        } = self;
        tcp.handle_event(
            poll.registry(),
            now,
            token,
            &mut ToProxy { now, proxy, relay },
        );
        self.flush(now);
    }

    /// Requests whose TCP connection could not be opened: the proxy answers their senders.
    fn on_signals(&mut self) {
        let mut exit = self.exit;
        let (mut hup, mut usr1) = (false, false);
        self.signals.drain(|sig| match sig {
            Signal::Terminate(n) => {
                log::info!("received signal {n}, terminating");
                exit = Some(Exit::Terminated(n));
            }
            Signal::Hangup => hup = true,
            Signal::User1 => usr1 = true,
        });
        self.exit = exit;
        let now = self.now_ms();
        if hup {
            self.reload();
        }
        if usr1 {
            match self.upkeep.as_mut() {
                Some(u) => {
                    let t = self.tcp.streams();
                    u.handle_tcp(t, now);
                    u.on_sigusr1(&self.proxy, &self.relay, now);
                    log::info!("SIGUSR1: status written to {}", u.status_file().display());
                }
                None => log::info!("SIGUSR1: no status file in this mode"),
            }
        }
        if exit.is_some() {
            if let Some(u) = self.upkeep.as_mut() {
                u.save_registrations(&self.proxy, now);
                u.save_blacklist(&self.proxy, now);
            }
        }
    }

    /// SIGHUP (decisions §7): read the configuration again; apply what can change at once,
    /// name what needs a restart, keep everything if the new file is invalid.
    fn reload(&mut self) {
        let Some(u) = self.upkeep.as_ref() else {
            log::info!("SIGHUP: nothing to reload in this mode");
            return;
        };
        let Some(new) = setup::reload(&u.source, self.proxy.config()) else {
            return;
        };
        crate::logging::set_levels(new.config.debug_level, new.config.silence_log);
        if let Some(d) = self.debug.as_mut() {
            d.set_mask(new.config.debug_level);
        }
        self.proxy.reconfigure(new.config, new.auth);
        self.proxy.set_plugins(new.plugins);
        self.proxy.set_stun(new.stun);
        let now = self.now_ms();
        if let Some(u) = self.upkeep.as_mut() {
            u.set_stats(self.proxy.config(), now);
            u.reload_blacklist(&mut self.proxy, now);
        }
        self.flush(self.now_ms());
        log::info!("SIGHUP: configuration reloaded from {}", new.path.display());
    }

    /// Installs persistence, status and reload (the daemon; tests run without), and loads the
    /// registration file.
    pub fn set_upkeep(&mut self, mut upkeep: Upkeep) {
        let now = self.now_ms();
        upkeep.load_registrations(&mut self.proxy, now);
        upkeep.load_blacklist(&mut self.proxy, now);
        self.upkeep = Some(upkeep);
        // The restored bindings expire: the proxy has a new deadline to report.
        self.flush(now);
    }

    fn open_debug_port(&mut self, addr: SocketAddr) {
        let mut port = match DebugPort::bind(addr) {
            Ok(p) => p,
            Err(e) => {
                log::error!("debug_port: cannot listen on {addr}: {e}");
                return;
            }
        };
        if let Err(e) = port.register(self.poll.registry(), DEBUG_LISTENER, DEBUG_CLIENTS) {
            log::error!("debug_port: {e}");
            return;
        }
        port.set_mask(crate::logging::debug_mask());
        let _ = crate::logging::set_hook(Box::new(DebugSink));
        log::info!("debug log available on tcp:{addr}");
        self.debug = Some(port);
    }

    /// Reads every queued datagram of one socket (edge-triggered: until WouldBlock).
    fn drain_sip(&mut self, token: Token) {
        // Taken out so the datagram can be lent to `on_sip_datagram(&mut self)`; no allocation.
        let mut buf = std::mem::take(&mut self.recv_buf);
        loop {
            let sock = match token {
                SIP_INBOUND => Some(&self.inbound),
                SIP_OUTBOUND => self.outbound.as_ref(),
                t if t == SIP_ALT[0] => self.alts[0].as_ref(),
                _ => self.alts[1].as_ref(),
            };
            let Some(sock) = sock else { break };
            let local = sock.local;
            match sock.sock.recv_from(&mut buf) {
                Ok((n, src)) => {
                    self.stats.sip_datagrams = self.stats.sip_datagrams.saturating_add(1);
                    if n > limits::SIP_MAX_MESSAGE {
                        self.stats.sip_oversized = self.stats.sip_oversized.saturating_add(1);
                        log::warn!(
                            "dropped datagram from {src} on {local}: larger than {} bytes",
                            limits::SIP_MAX_MESSAGE
                        );
                        continue;
                    }
                    let now = self.now_ms();
                    if let Some(bytes) = buf.get(..n) {
                        self.on_sip_datagram(now, local, src, bytes);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // ICMP errors of earlier sends surface here; they must not stop the loop.
                    log::debug!(target: NET, "recv on {local}: {e}");
                    continue;
                }
            }
        }
        self.recv_buf = buf;
    }

    /// Every SIP datagram received goes through here: the entry point of the proxy core.
    pub fn on_sip_datagram(&mut self, now: u64, local: SocketAddr, src: SocketAddr, bytes: &[u8]) {
        log::debug!(
            target: NET,
            "received {} bytes from {src} on {local} (datagram #{})",
            bytes.len(),
            self.stats.sip_datagrams
        );
        crate::logging::dump(NETTRAF, bytes);
        let origin = Origin {
            transport: Transport::Udp,
            src,
            local,
            connection: None,
        };
        self.proxy
            .handle_message(now, origin, bytes, &mut self.relay);
        self.flush(now);
    }

    /// The proxy core (tests and the status snapshot read it).
    pub fn proxy(&self) -> &Proxy {
        &self.proxy
    }

    /// After every input to the proxy: sends what it asks for (SIP messages from the socket of
    /// their source address, DNS queries from the resolver socket), keeps the deadline it
    /// reports and passes its registration table's state on to upkeep.
    fn flush(&mut self, now: u64) {
        // Kept in the loop, not zeroed per call (18 kB).
        let mut buf = std::mem::take(&mut self.send_buf);
        self.drain_proxy(now, &mut buf);
        // A message TCP could not take (a connect refused at once, a full table) is answered
        // now, whatever woke the loop (a UDP request, a DNS answer, a timer), not at the next
        // TCP event.
        while let Some((local, peer, bytes)) = self.tcp.poll_undelivered() {
            self.proxy
                .handle_undeliverable(now, local, peer, &bytes, &mut self.relay);
            self.drain_proxy(now, &mut buf);
        }
        self.send_buf = buf;
    }

    fn drain_proxy(&mut self, now: u64, buf: &mut [u8]) {
        loop {
            let t = match self.proxy.poll_output(buf) {
                Output::Transmit(t) => t,
                Output::Event(e) => match e {},
                Output::Timeout(at) => {
                    self.proxy_deadline = at;
                    if let Some(u) = self.upkeep.as_mut() {
                        u.handle_registry_change(now, self.proxy.registry().generation());
                        if let Some(b) = self.proxy.blacklist() {
                            u.handle_blacklist_change(now, b.generation());
                        }
                    }
                    return;
                }
            };
            let Some(bytes) = buf.get(..t.len) else {
                continue;
            };
            if t.source.port() == 0 {
                if let Some(s) = self.dns.as_ref() {
                    if let Err(e) = s.send_to(bytes, t.destination) {
                        log::debug!(target: DNS, "DNS query to {} failed: {e}", t.destination);
                    }
                }
                continue;
            }
            if t.transport == Transport::Tcp {
                self.tcp.send(
                    self.poll.registry(),
                    now,
                    t.connection,
                    t.source,
                    t.destination,
                    bytes,
                );
                continue;
            }
            let from = t.source.ip();
            let sock = self
                .outbound
                .iter()
                .chain(self.alts.iter().flatten())
                .find(|o| o.local.ip() == from)
                .unwrap_or(&self.inbound);
            match sock.sock.send_to(bytes, t.destination) {
                Ok(_) => {
                    log::debug!(target: NET, "sent {} bytes to {} from {}", bytes.len(), t.destination, sock.local)
                }
                // ICMP unreachable from an earlier send, or a full buffer: the UA retransmits.
                Err(e) => log::debug!(target: NET, "send to {} failed: {e}", t.destination),
            }
        }
    }

    fn drain_dns(&mut self) {
        let mut buf = [0u8; limits::DNS_MESSAGE_MAX];
        loop {
            let Some(sock) = self.dns.as_ref() else {
                return;
            };
            match sock.recv_from(&mut buf) {
                Ok((n, from)) => {
                    let now = self.now_ms();
                    if let Some(bytes) = buf.get(..n) {
                        self.proxy.handle_dns(now, from, bytes);
                    }
                    self.flush(now);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    log::debug!(target: DNS, "DNS socket: {e}");
                    continue;
                }
            }
        }
    }

    fn on_timer(&mut self, now: u64, key: TimerKey) {
        match key {
            TimerKey::OutboundRecheck => {
                self.recheck_outbound();
                self.recheck_inbound();
                self.arm_recheck(now.saturating_add(limits::IFACE_RECHECK_MS));
            }
        }
    }

    /// Subscribes to address changes; falls back to the re-check timer without netlink.
    fn watch_addresses(&mut self) {
        let opened = AddrWatch::open().and_then(|mut w| {
            self.poll
                .registry()
                .register(&mut w, ADDR_WATCH, Interest::READABLE)?;
            Ok(w)
        });
        match opened {
            Ok(w) => self.addr_watch = Some(w),
            Err(e) => {
                log::warn!(
                    "no netlink ({e}): if_outbound is re-checked every {} ms",
                    limits::IFACE_RECHECK_MS
                );
                self.arm_recheck(self.now_ms().saturating_add(limits::IFACE_RECHECK_MS));
            }
        }
    }

    fn arm_recheck(&mut self, at: u64) {
        if self.timers.set(TimerKey::OutboundRecheck, at).is_err() {
            log::error!("timer table full: if_outbound is no longer followed");
        }
    }

    fn recheck_outbound(&mut self) {
        let Some(name) = self.outbound_if.as_deref() else {
            return;
        };
        match iface::lookup(name) {
            Ok(a) => {
                let (new, alt) = (a.primary(), a.alt());
                if new != self.outbound_addr || alt != self.outbound_alt_addr {
                    if let Some(addr) = new {
                        match alt {
                            Some(v6) => {
                                log::info!("if_outbound {name}: address is now {addr} and {v6}")
                            }
                            None => log::info!("if_outbound {name}: address is now {addr}"),
                        }
                        if let Err(e) = self.set_outbound(addr, alt) {
                            log::error!("{e}");
                        }
                    }
                }
            }
            Err(e) => {
                if self.outbound_addr.is_some() {
                    log::warn!("if_outbound: {e}");
                    self.close_outbound();
                    self.outbound_addr = None;
                    self.outbound_alt_addr = None;
                } else {
                    log::debug!(target: DNS, "if_outbound: {e}");
                }
            }
        }
    }

    /// The LAN's IPv6 address follows `if_inbound` (a new prefix delegated by the ISP
    /// renumbers the LAN): its socket and listener move to the new address. The IPv4 address
    /// and socket are the ones of start.
    fn recheck_inbound(&mut self) {
        let Some(name) = self.inbound_if.as_deref() else {
            return;
        };
        let alt = match iface::lookup(name) {
            Ok(a) => a.alt(),
            Err(e) => {
                log::debug!(target: DNS, "if_inbound: {e}");
                return;
            }
        };
        if alt == self.alts[0].as_ref().map(|s| s.local.ip()) {
            return;
        }
        match alt {
            Some(v6) => log::info!("if_inbound {name}: IPv6 address is now {v6}"),
            None => log::info!("if_inbound {name}: no IPv6 address now"),
        }
        if let Some(mut old) = self.alts[0].take() {
            let _ = self.poll.registry().deregister(&mut old.sock);
        }
        self.tcp.unlisten(self.poll.registry(), Side::InboundAlt);
        if let Some(v6) = alt {
            match self.bind_side(v6, Side::InboundAlt) {
                Ok(s) => self.alts[0] = Some(s),
                Err(e) => log::error!("{e}"),
            }
        }
        self.sync_addresses();
    }

    fn close_outbound(&mut self) {
        for mut old in [self.outbound.take(), self.alts[1].take()]
            .into_iter()
            .flatten()
        {
            let _ = self.poll.registry().deregister(&mut old.sock);
        }
        self.tcp.unlisten(self.poll.registry(), Side::Outbound);
        self.tcp.unlisten(self.poll.registry(), Side::OutboundAlt);
        self.sync_addresses();
    }

    /// Tells the core which addresses are ours now (after a PPP reconnect, say).
    fn sync_addresses(&mut self) {
        let inbound = self.inbound.local.ip();
        let outbound = self.outbound.as_ref().map(|o| o.local.ip()).or(
            // Inbound and outbound on one address: no second socket, same address.
            self.outbound_addr.filter(|a| *a == inbound),
        );
        let inbound_alt = self.alts[0].as_ref().map(|s| s.local.ip());
        let outbound_alt = self.alts[1].as_ref().map(|s| s.local.ip()).or(
            // Both sides on one IPv6 address: the inbound socket serves both.
            self.outbound_alt_addr.filter(|a| Some(*a) == inbound_alt),
        );
        self.proxy.set_addresses(Addresses {
            inbound,
            outbound,
            inbound_alt,
            outbound_alt,
        });
        self.flush(self.now_ms());
    }

    /// (Re)binds the outbound sockets on `addr` (and `alt`, a dual-stack interface's IPv6
    /// address); no second socket for an address the inbound side has.
    fn set_outbound(&mut self, addr: IpAddr, alt: Option<IpAddr>) -> Result<(), StartError> {
        self.close_outbound();
        self.outbound_addr = Some(addr);
        self.outbound_alt_addr = alt;
        if addr != self.inbound.local.ip() {
            let sock = open(
                &self.poll,
                SIP_OUTBOUND,
                SocketAddr::new(addr, self.port),
                self.dscp,
            )?;
            // TCP on the same port as UDP (with port 0 in tests: the one UDP got).
            let tcp_addr = SocketAddr::new(addr, sock.local.port());
            self.tcp
                .listen(self.poll.registry(), Side::Outbound, tcp_addr)
                .map_err(|e| StartError::BindTcp(tcp_addr, e))?;
            self.outbound = Some(sock);
        }
        let inbound_alt = self.alts[0].as_ref().map(|s| s.local.ip());
        if let Some(a) = alt.filter(|a| Some(*a) != inbound_alt) {
            self.alts[1] = Some(self.bind_side(a, Side::OutboundAlt)?);
        }
        self.sync_addresses();
        Ok(())
    }

    /// A dual-stack side's other-family UDP socket and TCP listener, on the SIP port the
    /// inbound socket got (the configured one, or in tests the one port 0 gave).
    fn bind_side(&mut self, addr: IpAddr, side: Side) -> Result<SipSocket, StartError> {
        let at = SocketAddr::new(addr, self.inbound.local.port());
        let token = match side {
            Side::InboundAlt | Side::Inbound => SIP_ALT[0],
            Side::OutboundAlt | Side::Outbound => SIP_ALT[1],
        };
        let sock = open(&self.poll, token, at, self.dscp)?;
        self.tcp
            .listen(self.poll.registry(), side, at)
            .map_err(|e| StartError::BindTcp(at, e))?;
        Ok(sock)
    }
}

/// The wildcard address of the same family as `ip`.
fn unspecified_like(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
    }
}

fn open(poll: &Poll, token: Token, addr: SocketAddr, dscp: u8) -> Result<SipSocket, StartError> {
    let mut sock = udp::bind(addr, dscp).map_err(|e| StartError::Bind(addr, e))?;
    let local = sock.local_addr().map_err(|e| StartError::Bind(addr, e))?;
    poll.registry()
        .register(&mut sock, token, Interest::READABLE)
        .map_err(|e| StartError::Setup("cannot register SIP socket", e))?;
    log::info!("listening for SIP on udp:{local}");
    Ok(SipSocket { sock, local })
}

/// The proxy as the TCP connections see it.
struct ToProxy<'a> {
    now: u64,
    proxy: &'a mut Proxy,
    relay: &'a mut Relay,
}

impl super::tcp::Up for ToProxy<'_> {
    fn admit(&mut self, peer: SocketAddr) -> bool {
        self.proxy.admits_connection(self.now, peer)
    }

    fn deliver(&mut self, origin: Origin, bytes: &[u8]) {
        log::debug!(
            target: NET,
            "received {} bytes from tcp:{} on {}",
            bytes.len(),
            origin.src,
            origin.local
        );
        self.proxy
            .handle_message(self.now, origin, bytes, &mut *self.relay);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::net::signals::TEST_SIGNAL_LOCK;

    fn loopback(port: u16) -> Config {
        Config {
            if_inbound: Some("127.0.0.1".into()),
            if_outbound: Some("127.0.0.2".into()),
            sip_listen_port: port,
            ..Config::default()
        }
    }

    impl EventLoop {
        /// The earliest deadline the proxy and upkeep reported after they last handled
        /// something.
        fn core_deadline(&self) -> Option<u64> {
            [
                self.proxy_deadline,
                self.upkeep.as_ref().and_then(Upkeep::poll_timeout),
            ]
            .into_iter()
            .flatten()
            .min()
        }

        /// Whether the loop owes a core a wake-up: its reported deadline has passed.
        fn core_stale(&self) -> bool {
            self.core_deadline().is_some_and(|d| d <= self.now_ms())
        }
    }

    fn start(cfg: &Config) -> Result<EventLoop, StartError> {
        EventLoop::new(setup::build(cfg)?)
    }

    /// Turns the loop until `done` holds (or panics after 2 s).
    fn turn_until(el: &mut EventLoop, done: impl Fn(&EventLoop) -> bool) {
        let end = Instant::now() + Duration::from_secs(2);
        while !done(el) {
            assert!(
                Instant::now() < end,
                "condition not reached: {:?}",
                el.stats()
            );
            el.turn(Some(Duration::from_millis(50))).unwrap();
        }
    }

    #[test]
    fn binds_both_addresses_counts_datagrams_and_drops_oversized_ones() {
        let _g = TEST_SIGNAL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        // Port 0: each address gets its own free port, so parallel tests never clash.
        let mut el = start(&loopback(0)).unwrap();
        let addrs: Vec<SocketAddr> = el.sip_addresses().collect();
        assert_eq!(addrs.len(), 2);
        assert_eq!(addrs[0].ip(), IpAddr::from([127, 0, 0, 1]));
        assert_eq!(addrs[1].ip(), IpAddr::from([127, 0, 0, 2]));
        assert_eq!(el.outbound_address(), Some(IpAddr::from([127, 0, 0, 2])));

        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        // Several datagrams queued before the loop looks: all are drained in one readiness.
        for _ in 0..3 {
            tx.send_to(b"OPTIONS sip:x SIP/2.0\r\n\r\n", addrs[0])
                .unwrap();
        }
        tx.send_to(b"hello", addrs[1]).unwrap();
        turn_until(&mut el, |el| el.stats().sip_datagrams == 4);
        assert_eq!(el.stats().sip_oversized, 0);

        tx.send_to(&vec![b'x'; limits::SIP_MAX_MESSAGE + 1], addrs[0])
            .unwrap();
        tx.send_to(&vec![b'x'; limits::SIP_MAX_MESSAGE], addrs[0])
            .unwrap();
        turn_until(&mut el, |el| el.stats().sip_datagrams == 6);
        assert_eq!(el.stats().sip_oversized, 1);
    }

    #[test]
    fn a_dual_stack_interface_gets_an_ipv6_socket_beside_the_ipv4_one() {
        let _g = TEST_SIGNAL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        // lo is dual-stack: 127.0.0.1 and ::1.
        let cfg = Config {
            if_inbound: Some("lo".into()),
            ..loopback(0)
        };
        let mut el = start(&cfg).unwrap();
        let v6: Vec<SocketAddr> = el.sip_addresses().filter(SocketAddr::is_ipv6).collect();
        assert_eq!(v6.len(), 1, "{:?}", el.sip_addresses().collect::<Vec<_>>());
        let at = v6[0];
        assert_eq!(at.ip(), IpAddr::from(std::net::Ipv6Addr::LOCALHOST));
        assert_eq!(el.proxy().addresses().inbound_alt, Some(at.ip()));
        // An OPTIONS with Max-Forwards 0 is answered by the proxy: over IPv6, from ::1.
        let tx = std::net::UdpSocket::bind("[::1]:0").unwrap();
        let me = tx.local_addr().unwrap();
        let opt = format!("OPTIONS sip:x@[::1] SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK6\r\nMax-Forwards: 0\r\nFrom: <sip:a@[::1]>;tag=1\r\nTo: <sip:x@[::1]>\r\nCall-ID: v6@x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
        tx.send_to(opt.as_bytes(), at).unwrap();
        turn_until(&mut el, |el| el.stats().sip_datagrams == 1);
        tx.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut buf = [0u8; 2048];
        let (n, from) = tx.recv_from(&mut buf).unwrap();
        assert_eq!(from, at);
        assert!(
            buf[..n].starts_with(b"SIP/2.0 200 "),
            "{}",
            String::from_utf8_lossy(&buf[..n])
        );
        // And TCP listens there too.
        std::net::TcpStream::connect(at).unwrap();
    }

    #[test]
    fn the_cached_core_deadline_follows_what_sip_changes() {
        let _g = TEST_SIGNAL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let mut el = start(&loopback(0)).unwrap();
        el.turn(Some(Duration::ZERO)).unwrap();
        // Nothing registered, nothing resolving: no deadline, the loop may sleep for ever.
        assert_eq!(el.core_deadline(), None);
        assert!(!el.core_stale());

        let registrar = std::net::UdpSocket::bind("127.0.0.3:0").unwrap();
        let reg = registrar.local_addr().unwrap();
        let phone = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let me = phone.local_addr().unwrap();
        let proxy = el.sip_addresses().next().unwrap();
        let msg = format!(
            "REGISTER sip:{reg} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKcd1\r\n\
             Max-Forwards: 70\r\nFrom: <sip:alice@{reg}>;tag=1\r\nTo: <sip:alice@{reg}>\r\n\
             Call-ID: cd@test\r\nCSeq: 1 REGISTER\r\nContact: <sip:alice@{me}>\r\n\
             Expires: 600\r\nContent-Length: 0\r\n\r\n"
        );
        phone.send_to(msg.as_bytes(), proxy).unwrap();
        turn_until(&mut el, |el| el.stats().sip_datagrams == 1);
        el.turn(Some(Duration::ZERO)).unwrap();
        // The registration's expiry is a new proxy deadline: the cache must have taken it.
        let fresh = match el.proxy.poll_output(&mut [0u8; 16]) {
            Output::Timeout(t) => t,
            other => panic!("nothing was left to send, got {other:?}"),
        };
        assert!(fresh.is_some(), "the REGISTER left no deadline");
        assert_eq!(el.core_deadline(), fresh);
        assert!(!el.core_stale());
    }

    #[test]
    fn same_inbound_and_outbound_address_binds_once() {
        let _g = TEST_SIGNAL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let mut cfg = loopback(0);
        cfg.if_outbound = Some("127.0.0.1".into());
        let el = start(&cfg).unwrap();
        assert_eq!(el.sip_addresses().count(), 1);
        assert_eq!(el.outbound_address(), Some(IpAddr::from([127, 0, 0, 1])));
    }

    #[test]
    fn a_deadline_the_proxy_has_from_the_start_wakes_it_without_any_input() {
        let _g = TEST_SIGNAL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let mut cfg = loopback(0);
        // A name is looked up at once: the new proxy is due at 0.
        cfg.host_outbound = Some("public.example.invalid".into());
        cfg.if_outbound = None;
        let mut el = start(&cfg).unwrap();
        assert_eq!(el.core_deadline(), Some(0));
        el.turn(Some(Duration::ZERO)).unwrap();
        assert!(el.core_deadline().is_some_and(|d| d > 0));
        assert!(!el.core_stale());
    }

    #[test]
    fn host_outbound_literal_is_the_public_address() {
        let _g = TEST_SIGNAL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let mut cfg = loopback(0);
        cfg.host_outbound = Some("203.0.113.9".into());
        let el = start(&cfg).unwrap();
        assert_eq!(el.outbound_address(), Some(IpAddr::from([203, 0, 113, 9])));
    }

    #[test]
    fn start_errors_say_what_is_wrong() {
        let _g = TEST_SIGNAL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let err = |cfg: &Config| start(cfg).err().unwrap().to_string();
        let mut cfg = loopback(0);
        cfg.if_inbound = None;
        assert_eq!(err(&cfg), "if_inbound is not set in the configuration");
        cfg.if_inbound = Some("no-such-if0".into());
        assert_eq!(
            err(&cfg),
            "if_inbound = no-such-if0: no interface named 'no-such-if0'"
        );
        // A literal outbound address that is not ours cannot be bound.
        let mut cfg = loopback(0);
        cfg.if_outbound = Some("192.0.2.1".into());
        assert!(
            err(&cfg).starts_with("cannot bind SIP UDP socket on 192.0.2.1:0"),
            "{}",
            err(&cfg)
        );
    }

    #[test]
    fn missing_outbound_interface_is_followed_through_netlink() {
        let _g = TEST_SIGNAL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let mut cfg = loopback(0);
        cfg.if_outbound = Some("ppp-missing0".into());
        let el = start(&cfg).unwrap();
        assert_eq!(el.sip_addresses().count(), 1);
        assert_eq!(el.outbound_address(), None);
        // Followed by netlink: no timer, no idle wake-up.
        assert!(el.addr_watch.is_some());
        assert!(el.timers.is_empty());
        // Literal addresses never change: nothing to follow.
        let el = start(&loopback(0)).unwrap();
        assert!(el.addr_watch.is_none());
        assert!(el.timers.is_empty());
    }

    #[test]
    fn outbound_named_interface_is_rebound_when_it_gets_an_address() {
        let _g = TEST_SIGNAL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let mut cfg = loopback(0);
        cfg.if_inbound = Some("127.0.0.2".into());
        cfg.if_outbound = Some("lo".into());
        let mut el = start(&cfg).unwrap();
        assert_eq!(el.outbound_address(), Some(IpAddr::from([127, 0, 0, 1])));
        // Pretend the interface had another address before: the re-check rebinds.
        el.close_outbound();
        el.outbound_addr = Some(IpAddr::from([127, 0, 0, 3]));
        assert_eq!(el.sip_addresses().count(), 1);
        el.recheck_outbound();
        assert_eq!(el.outbound_address(), Some(IpAddr::from([127, 0, 0, 1])));
        let addrs: Vec<SocketAddr> = el.sip_addresses().collect();
        // lo is dual-stack: its ::1 gets the outbound side's IPv6 socket.
        assert_eq!(addrs.len(), 3);
        assert_eq!(addrs[1].ip(), IpAddr::from([127, 0, 0, 1]));
        assert_eq!(addrs[2].ip(), IpAddr::from(std::net::Ipv6Addr::LOCALHOST));
        assert_eq!(
            el.proxy().addresses().outbound_alt,
            Some(IpAddr::from(std::net::Ipv6Addr::LOCALHOST))
        );
        // The fallback timer re-checks and re-arms itself.
        el.close_outbound();
        el.outbound_addr = Some(IpAddr::from([127, 0, 0, 3]));
        el.on_timer(0, TimerKey::OutboundRecheck);
        assert_eq!(el.sip_addresses().count(), 3);
        assert_eq!(
            el.timers.deadline(TimerKey::OutboundRecheck),
            Some(limits::IFACE_RECHECK_MS)
        );
    }

    #[test]
    fn sigterm_ends_the_loop() {
        let _g = TEST_SIGNAL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let mut el = start(&loopback(0)).unwrap();
        // SAFETY: our handler is installed; raise delivers to this thread.
        unsafe { libc::raise(libc::SIGHUP) };
        assert_eq!(el.turn(Some(Duration::from_secs(2))).unwrap(), None);
        // SAFETY: as above.
        unsafe { libc::raise(libc::SIGTERM) };
        let end = Instant::now() + Duration::from_secs(2);
        let exit = loop {
            if let Some(exit) = el.turn(Some(Duration::from_millis(100))).unwrap() {
                break exit;
            }
            assert!(Instant::now() < end);
        };
        assert_eq!(exit, Exit::Terminated(libc::SIGTERM));
    }

    /// Runs `f` in a private network namespace with `lo` up, `f` getting an `ip(8)` runner;
    /// without root or `ip` it says so and passes. A network namespace is per thread: a new
    /// thread and the commands it starts get a private one, the rest of the test binary keeps
    /// the host's.
    fn in_private_netns(f: impl FnOnce(&dyn Fn(&str)) + Send + 'static) {
        if !crate::process::is_root()
            || std::process::Command::new("ip").arg("-V").output().is_err()
        {
            eprintln!("skipped: needs root and ip(8)");
            return;
        }
        let _g = TEST_SIGNAL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        std::thread::spawn(|| {
            // SAFETY: plain syscall affecting this thread only.
            assert_eq!(unsafe { libc::unshare(libc::CLONE_NEWNET) }, 0, "unshare");
            let ip = |args: &str| {
                let st = std::process::Command::new("ip")
                    .args(args.split(' '))
                    .status()
                    .unwrap();
                assert!(st.success(), "ip {args}");
            };
            ip("link set lo up");
            f(&ip);
        })
        .join()
        .unwrap();
    }

    /// A new IPv6 prefix on the LAN interface (DHCPv6-PD renumbering): the inbound IPv6
    /// socket moves to the new address and serves it; the IPv4 one stays. Needs root.
    #[test]
    fn inbound_ipv6_address_changes_are_followed_in_a_private_netns() {
        in_private_netns(|ip| {
            ip("link add l0 type veth peer name l1");
            ip("addr add 10.1.1.1/24 dev l0");
            ip("addr add fd00:1::1/64 dev l0 nodad");
            ip("link set l0 up");
            ip("link set l1 up");
            let cfg = Config {
                if_inbound: Some("l0".into()),
                if_outbound: Some("127.0.0.2".into()),
                sip_listen_port: 0,
                ..Config::default()
            };
            let mut el = start(&cfg).unwrap();
            let has = |el: &EventLoop, a: &str| {
                let a: IpAddr = a.parse().unwrap();
                el.sip_addresses().any(|s| s.ip() == a)
            };
            assert!(has(&el, "10.1.1.1") && has(&el, "fd00:1::1"));

            ip("addr del fd00:1::1/64 dev l0");
            ip("addr add fd00:2::1/64 dev l0 nodad");
            let end = Instant::now() + Duration::from_secs(2);
            while !has(&el, "fd00:2::1") {
                assert!(Instant::now() < end, "the new LAN prefix was not followed");
                el.turn(Some(Duration::from_millis(100))).unwrap();
            }
            assert!(!has(&el, "fd00:1::1") && has(&el, "10.1.1.1"));
            let local = el
                .sip_addresses()
                .find(|s| s.ip() == "fd00:2::1".parse::<IpAddr>().unwrap())
                .unwrap();
            let before = el.stats().sip_datagrams;
            let tx = std::net::UdpSocket::bind("[fd00:2::1]:0").unwrap();
            tx.send_to(b"hello", local).unwrap();
            turn_until(&mut el, |el| el.stats().sip_datagrams == before + 1);
        });
    }

    /// Needs root (for a private network namespace) and `ip`; elsewhere it says so and passes.
    #[test]
    fn outbound_address_changes_are_followed_at_once_in_a_private_netns() {
        in_private_netns(|ip| {
            ip("link add v0 type veth peer name v1");
            let mut cfg = loopback(0);
            cfg.if_outbound = Some("v0".into());
            let mut el = start(&cfg).unwrap();
            assert_eq!(el.outbound_address(), None);
            assert!(el.timers.is_empty(), "netlink, not a timer, follows v0");

            let until = |el: &mut EventLoop, addr: [u8; 4]| {
                let start = Instant::now();
                while el.outbound_address() != Some(IpAddr::from(addr)) {
                    assert!(
                        start.elapsed() < Duration::from_secs(2),
                        "{addr:?} not seen"
                    );
                    el.turn(Some(Duration::from_millis(100))).unwrap();
                }
            };
            ip("addr add 10.9.9.9/24 dev v0");
            ip("link set v0 up");
            until(&mut el, [10, 9, 9, 9]);
            assert_eq!(
                el.sip_addresses().nth(1).unwrap().ip(),
                IpAddr::from([10, 9, 9, 9])
            );

            // A reconnect with a new address: the socket is rebound and serves it.
            ip("addr del 10.9.9.9/24 dev v0");
            ip("addr add 10.9.9.10/24 dev v0");
            until(&mut el, [10, 9, 9, 10]);
            let local = el.sip_addresses().nth(1).unwrap();
            assert_eq!(local.ip(), IpAddr::from([10, 9, 9, 10]));
            let tx = std::net::UdpSocket::bind("10.9.9.10:0").unwrap();
            tx.send_to(b"hello", local).unwrap();
            turn_until(&mut el, |el| el.stats().sip_datagrams == 1);
        });
    }
}
