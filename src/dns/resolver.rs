//! The asynchronous resolver: cache, failure blacklist, in-flight queries, waiters.
//!
//! Sans-IO: the caller owns the UDP socket and the clock (`now` in milliseconds). It calls
//! `resolve`, sends what `poll_transmit` yields to the returned nameserver, feeds datagrams to
//! `handle_response`, calls `handle_timeout` at `poll_timeout`, and collects `poll_event`.

use core::fmt;
use core::net::{IpAddr, SocketAddr};

use super::conf::{Hosts, ResolvConf};
use super::wire::{self, build_query, parse_reply, Name, QType, Reply, SrvRecord};
use crate::limits::{
    DNS_ATTEMPTS, DNS_BAD_AGE_SECS, DNS_CACHE_SIZE, DNS_FAILURE_WINDOW_SECS, DNS_MAX_ADDRS,
    DNS_MAX_JOBS, DNS_MAX_NAMESERVERS, DNS_MAX_QUERIES, DNS_MAX_SRV, DNS_MAX_WAITERS,
    DNS_NEGATIVE_SECS, DNS_TTL_MAX_SECS, DNS_TTL_MIN_SECS,
};
use crate::logging;

/// Addresses a lookup yields, best first.
pub type Addrs = heapless::Vec<SocketAddr, DNS_MAX_ADDRS>;

/// The SIP port used when neither the caller nor an SRV record gives one (RFC 3263 §4.2).
pub const SIP_DEFAULT_PORT: u16 = 5060;

/// Why a lookup failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Not a valid domain name.
    InvalidName,
    /// The name does not exist.
    NxDomain,
    /// The name exists but has no usable address.
    NoAddress,
    /// Every nameserver answered with an error (SERVFAIL, REFUSED, ...).
    ServerFailure,
    /// A reply was truncated (TC); TCP fallback is not implemented.
    Truncated,
    /// No reply within timeout × attempts over all nameservers.
    Timeout,
    /// The name failed `DNS_ATTEMPTS` times in a row and is blacklisted for `DNS_BAD_AGE_SECS`.
    Blacklisted,
    /// The lookup or waiter table is full.
    Busy,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Failure::InvalidName => "invalid domain name",
            Failure::NxDomain => "no such domain",
            Failure::NoAddress => "no address for the name",
            Failure::ServerFailure => "nameserver failure",
            Failure::Truncated => "truncated DNS reply",
            Failure::Timeout => "DNS timeout",
            Failure::Blacklisted => "name blacklisted after repeated failures",
            Failure::Busy => "too many DNS lookups in progress",
        })
    }
}

/// The immediate answer of `resolve`.
// Kept inline: boxing would allocate per lookup.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    Ready(Addrs),
    /// A `Resolved` event with the same `user_token` will follow.
    Pending,
    Failed(Failure),
}

/// Completion of a pending lookup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    pub user_token: u64,
    pub result: Result<Addrs, Failure>,
}

/// What the resolver needs from the system files.
#[derive(Clone, Debug, Default)]
pub struct ResolverConfig {
    pub resolv: ResolvConf,
    pub hosts: Hosts,
    /// Ask for AAAA records besides A (IPv4 addresses are listed first).
    pub ipv6: bool,
}

/// xorshift64*: enough to make query ids unguessable to an off-path spoofer that cannot see
/// our traffic, given a seed from getrandom.
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }
    fn next_u16(&mut self) -> u16 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 48) as u16
    }
}

/// A name on its own (A/AAAA, port supplied by the caller) or as a SIP domain (SRV first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Host,
    SipDomain,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Host => "host",
            Kind::SipDomain => "SIP domain",
        })
    }
}

#[derive(Clone, Debug)]
struct CacheEntry {
    name: Name,
    kind: Kind,
    /// For `Kind::Host` the ports are 0 and replaced by the caller's port.
    addrs: Addrs,
    /// `Some` for a cached failure.
    failure: Option<Failure>,
    expires_at: u64,
    /// Consecutive failures, each within `DNS_FAILURE_WINDOW_SECS` of the previous one.
    errors: u32,
    last_failure_at: u64,
}

impl CacheEntry {
    fn blacklisted(&self, now: u64) -> bool {
        self.errors >= DNS_ATTEMPTS && now < self.expires_at
    }
    /// Until when the entry is worth keeping (its answer, or its failure count).
    fn useful_until(&self) -> u64 {
        let window = self
            .last_failure_at
            .saturating_add(DNS_FAILURE_WINDOW_SECS * 1000);
        if self.errors > 0 {
            self.expires_at.max(window)
        } else {
            self.expires_at
        }
    }
}

#[derive(Clone, Debug)]
struct Target {
    host: Name,
    port: u16,
    /// Queries still outstanding for this target.
    pending: u8,
    v4: heapless::Vec<IpAddr, DNS_MAX_ADDRS>,
    v6: heapless::Vec<IpAddr, DNS_MAX_ADDRS>,
    ttl: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Srv,
    Addresses,
}

#[derive(Clone, Debug)]
struct Job {
    name: Name,
    kind: Kind,
    stage: Stage,
    srv_ttl: u32,
    targets: heapless::Vec<Target, DNS_MAX_SRV>,
    /// The first failure met, reported if no address at all is found.
    failure: Option<Failure>,
}

#[derive(Clone, Debug)]
struct Query {
    id: u16,
    job: usize,
    target: usize,
    qtype: QType,
    qname: Name,
    /// Sends scheduled so far (the first included).
    tries: u32,
    nameserver: usize,
    deadline: u64,
    needs_send: bool,
}

#[derive(Clone, Copy, Debug)]
struct Waiter {
    job: usize,
    user_token: u64,
    port: Option<u16>,
}

/// The resolver state; all tables are allocated once in `new`.
pub struct Resolver {
    nameservers: heapless::Vec<SocketAddr, DNS_MAX_NAMESERVERS>,
    timeout_ms: u64,
    attempts: u32,
    hosts: Hosts,
    ipv6: bool,
    rng: Rng,
    cache: Box<[Option<CacheEntry>]>,
    jobs: Box<[Option<Job>]>,
    queries: Box<[Option<Query>]>,
    waiters: Box<[Option<Waiter>]>,
    events: heapless::Deque<Resolved, DNS_MAX_WAITERS>,
}

fn table<T>(n: usize) -> Box<[Option<T>]> {
    (0..n).map(|_| None).collect()
}

fn free_slot<T>(t: &[Option<T>]) -> Option<usize> {
    t.iter().position(Option::is_none)
}

fn clamp_ttl(ttl: u32) -> u64 {
    u64::from(ttl.clamp(DNS_TTL_MIN_SECS, DNS_TTL_MAX_SECS)) * 1000
}

/// How a name is answered: at once, or from the cache or the network under its key.
enum Start {
    Answer(Addrs),
    Lookup(Name, Kind),
}

/// An IP literal, bracketed or not.
fn ip_literal(name: &str) -> Option<IpAddr> {
    let bare = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name);
    bare.parse().ok()
}

fn with_port(addrs: &Addrs, port: Option<u16>) -> Addrs {
    match port {
        None => addrs.clone(),
        Some(p) => addrs.iter().map(|a| SocketAddr::new(a.ip(), p)).collect(),
    }
}

/// Priority ascending, then weight descending (RFC 2782 picks higher weights more often; a
/// stable deterministic order serves a proxy that tries targets one after another).
fn sort_srv(records: &mut [SrvRecord]) {
    for i in 1..records.len() {
        let mut j = i;
        while j > 0 {
            let (Some(a), Some(b)) = (records.get(j - 1), records.get(j)) else {
                break;
            };
            if a.preference() <= b.preference() {
                break;
            }
            records.swap(j - 1, j);
            j -= 1;
        }
    }
}

impl Resolver {
    /// `seed` feeds the query-id generator; the shell takes it from getrandom.
    pub fn new(config: ResolverConfig, seed: u64) -> Self {
        let mut nameservers = config.resolv.nameservers.clone();
        if nameservers.is_empty() {
            nameservers = ResolvConf::default().nameservers;
        }
        Resolver {
            nameservers,
            timeout_ms: u64::from(config.resolv.timeout_secs.max(1)) * 1000,
            attempts: config.resolv.attempts.max(1),
            hosts: config.hosts,
            ipv6: config.ipv6,
            rng: Rng::new(seed),
            cache: table(DNS_CACHE_SIZE),
            jobs: table(DNS_MAX_JOBS),
            queries: table(DNS_MAX_QUERIES),
            waiters: table(DNS_MAX_WAITERS),
            events: heapless::Deque::new(),
        }
    }

    /// A literal or a name in /etc/hosts is answered at once; anything else is looked up in
    /// the cache as (key, kind): by its A/AAAA records with a port, else as a SIP domain.
    fn classify(&self, name: &str, port: Option<u16>) -> Result<Start, Failure> {
        if let Some(ip) = ip_literal(name) {
            let mut addrs = Addrs::new();
            let _ = addrs.push(SocketAddr::new(ip, port.unwrap_or(SIP_DEFAULT_PORT)));
            return Ok(Start::Answer(addrs));
        }
        let key = normalise(name).ok_or(Failure::InvalidName)?;
        let local = self.local_addrs(&key);
        if !local.is_empty() {
            let p = port.unwrap_or(SIP_DEFAULT_PORT);
            return Ok(Start::Answer(
                local.iter().map(|ip| SocketAddr::new(*ip, p)).collect(),
            ));
        }
        let kind = if port.is_some() {
            Kind::Host
        } else {
            Kind::SipDomain
        };
        Ok(Start::Lookup(key, kind))
    }

    /// What `name` resolves to without asking the network (literal, /etc/hosts, a fresh
    /// cache entry); empty when a lookup would be needed.
    pub fn peek(&self, now: u64, name: &str, port: Option<u16>) -> Addrs {
        match self.classify(name, port) {
            Ok(Start::Answer(addrs)) => addrs,
            Ok(Start::Lookup(key, kind)) => match self.cache_get(&key, kind) {
                Some(e) if now < e.expires_at && e.failure.is_none() => with_port(&e.addrs, port),
                _ => Addrs::new(),
            },
            Err(_) => Addrs::new(),
        }
    }

    /// Resolves `name` for sending SIP to it. With `port`, its A (and AAAA) records; without,
    /// `_sip._udp.<name>` SRV first (RFC 3263 §4.2), then A/AAAA of the name on port 5060.
    pub fn resolve(&mut self, now: u64, name: &str, port: Option<u16>, user_token: u64) -> Lookup {
        let (key, kind) = match self.classify(name, port) {
            Ok(Start::Answer(addrs)) => return Lookup::Ready(addrs),
            Ok(Start::Lookup(key, kind)) => (key, kind),
            Err(f) => return Lookup::Failed(f),
        };
        if let Some(e) = self.cache_get(&key, kind) {
            if e.blacklisted(now) {
                log::debug!(target: logging::DNS, "{key}: blacklisted");
                return Lookup::Failed(Failure::Blacklisted);
            }
            if now < e.expires_at {
                return match e.failure {
                    Some(f) => Lookup::Failed(f),
                    None => Lookup::Ready(with_port(&e.addrs, port)),
                };
            }
        }
        // Waiters plus undelivered events stay within the event queue's capacity.
        let waiting = self.waiters.iter().filter(|w| w.is_some()).count();
        if waiting + self.events.len() >= DNS_MAX_WAITERS {
            return Lookup::Failed(Failure::Busy);
        }
        let existing = self
            .jobs
            .iter()
            .position(|j| j.as_ref().is_some_and(|j| j.kind == kind && j.name == key));
        let job = match existing {
            Some(j) => j,
            None => match self.start_job(now, key, kind) {
                Ok(j) => j,
                Err(Lookup::Ready(addrs)) => return Lookup::Ready(with_port(&addrs, port)),
                Err(other) => return other,
            },
        };
        let Some(slot) = free_slot(&self.waiters) else {
            return Lookup::Failed(Failure::Busy);
        };
        if let Some(w) = self.waiters.get_mut(slot) {
            *w = Some(Waiter {
                job,
                user_token,
                port,
            });
        }
        Lookup::Pending
    }

    /// Creates a job and its first queries; `Err` carries an immediate answer.
    #[allow(clippy::result_large_err)] // internal, moved once, no allocation wanted
    fn start_job(&mut self, now: u64, name: Name, kind: Kind) -> Result<usize, Lookup> {
        let Some(j) = free_slot(&self.jobs) else {
            return Err(Lookup::Failed(Failure::Busy));
        };
        let mut job = Job {
            name: name.clone(),
            kind,
            stage: Stage::Srv,
            srv_ttl: u32::MAX,
            targets: heapless::Vec::new(),
            failure: None,
        };
        match kind {
            Kind::SipDomain => {
                let mut qname = Name::new();
                if qname.push_str("_sip._udp.").is_err()
                    || qname.push_str(&name).is_err()
                    || wire::validate_name(&qname).is_err()
                {
                    // too long for an SRV name: the name itself may still resolve
                    job.stage = Stage::Addresses;
                    let _ = job.targets.push(Target::new(name, SIP_DEFAULT_PORT));
                    self.start_targets(now, j, &mut job);
                } else if !self.add_query(now, j, 0, QType::Srv, qname) {
                    return Err(Lookup::Failed(Failure::Busy));
                }
            }
            Kind::Host => {
                job.stage = Stage::Addresses;
                let _ = job.targets.push(Target::new(name, 0));
                self.start_targets(now, j, &mut job);
            }
        }
        log::debug!(target: logging::DNS, "lookup {} ({kind}) started", job.name);
        let done = job.stage == Stage::Addresses && job.targets.iter().all(|t| t.pending == 0);
        if let Some(slot) = self.jobs.get_mut(j) {
            *slot = Some(job);
        }
        if done {
            // nothing to ask: no queries could be placed
            let result = self.finish_job(now, j);
            return Err(match result {
                Ok(addrs) => Lookup::Ready(addrs),
                Err(f) => Lookup::Failed(f),
            });
        }
        Ok(j)
    }

    /// Answers targets from /etc/hosts or IP literals, queries the rest.
    fn start_targets(&mut self, now: u64, j: usize, job: &mut Job) {
        for (t, target) in job.targets.iter_mut().enumerate() {
            if let Some(ip) = ip_literal(&target.host) {
                let _ = target.v4.push(ip);
                target.ttl = DNS_TTL_MAX_SECS;
                continue;
            }
            let local = self.local_addrs(&target.host);
            if !local.is_empty() {
                target.v4 = local;
                target.ttl = DNS_TTL_MAX_SECS;
                continue;
            }
            let mut types: heapless::Vec<QType, 2> = heapless::Vec::new();
            let _ = types.push(QType::A);
            if self.ipv6 {
                let _ = types.push(QType::Aaaa);
            }
            for qtype in types {
                if self.add_query(now, j, t, qtype, target.host.clone()) {
                    target.pending += 1;
                } else {
                    job.failure.get_or_insert(Failure::Busy);
                }
            }
        }
    }

    /// /etc/hosts addresses of the families we use, IPv4 first.
    fn local_addrs(&self, name: &str) -> heapless::Vec<IpAddr, DNS_MAX_ADDRS> {
        let all = self.hosts.lookup(name);
        let v4 = all.iter().filter(|ip| ip.is_ipv4());
        let v6 = all.iter().filter(|ip| self.ipv6 && ip.is_ipv6());
        v4.chain(v6).copied().collect()
    }

    fn add_query(
        &mut self,
        now: u64,
        job: usize,
        target: usize,
        qtype: QType,
        qname: Name,
    ) -> bool {
        let Some(slot) = free_slot(&self.queries) else {
            log::warn!("DNS: query table full ({DNS_MAX_QUERIES}), {qname} not asked");
            return false;
        };
        let mut id = self.rng.next_u16();
        for _ in 0..64 {
            if !self.queries.iter().flatten().any(|q| q.id == id) {
                break;
            }
            id = self.rng.next_u16();
        }
        if let Some(s) = self.queries.get_mut(slot) {
            *s = Some(Query {
                id,
                job,
                target,
                qtype,
                qname,
                tries: 1,
                nameserver: 0,
                deadline: now.saturating_add(self.timeout_ms),
                needs_send: true,
            });
        }
        true
    }

    /// The next query to send: written into `buf` (at least `DNS_QUERY_MAX` bytes), with the
    /// nameserver to send it to.
    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<(SocketAddr, usize)> {
        for q in self.queries.iter_mut().flatten() {
            if !q.needs_send {
                continue;
            }
            let server = *self.nameservers.get(q.nameserver)?;
            match build_query(buf, q.id, &q.qname, q.qtype) {
                Ok(n) => {
                    q.needs_send = false;
                    log::debug!(target: logging::DNS, "query {} {} id {} to {server} (try {})", q.qtype, q.qname, q.id, q.tries);
                    return Some((server, n));
                }
                Err(e) => {
                    log::warn!("DNS: cannot build query for {}: {e}", q.qname);
                    return None;
                }
            }
        }
        None
    }

    /// Applies a re-read resolv.conf / hosts (e.g. after a PPP reconnect); the cache and the
    /// lookups in progress are kept, retransmissions go to the new nameservers.
    pub fn reconfigure(&mut self, config: ResolverConfig) {
        self.nameservers = config.resolv.nameservers;
        if self.nameservers.is_empty() {
            self.nameservers = ResolvConf::default().nameservers;
        }
        self.timeout_ms = u64::from(config.resolv.timeout_secs.max(1)) * 1000;
        self.attempts = config.resolv.attempts.max(1);
        self.hosts = config.hosts;
        self.ipv6 = config.ipv6;
        let count = self.nameservers.len();
        for q in self.queries.iter_mut().flatten() {
            q.nameserver %= count;
        }
    }

    /// A configured nameserver; an IPv4-mapped source (dual-stack socket) counts as IPv4.
    fn is_nameserver(&self, from: SocketAddr) -> bool {
        self.nameservers.iter().any(|ns| {
            ns.port() == from.port() && ns.ip().to_canonical() == from.ip().to_canonical()
        })
    }

    /// Feeds one datagram received on the resolver socket.
    pub fn handle_response(&mut self, now: u64, from: SocketAddr, bytes: &[u8]) {
        if !self.is_nameserver(from) {
            log::debug!(target: logging::DNS, "reply from {from}, not a nameserver: ignored");
            return;
        }
        let Some(id) = wire::message_id(bytes) else {
            return;
        };
        let Some(qi) = self
            .queries
            .iter()
            .position(|q| q.as_ref().is_some_and(|q| q.id == id))
        else {
            log::debug!(target: logging::DNS, "reply id {id} from {from} matches no query: ignored");
            return;
        };
        let Some(q) = self.queries.get(qi).and_then(Option::as_ref) else {
            return;
        };
        let reply = match parse_reply(bytes, id, &q.qname, q.qtype) {
            Ok(r) => r,
            Err(e) => {
                log::debug!(target: logging::DNS, "reply id {id} from {from} for {} ignored: {e}", q.qname);
                return;
            }
        };
        match reply {
            Reply::Truncated => {
                log::warn!(
                    "DNS: truncated reply for {} from {from}; TCP not supported",
                    q.qname
                );
                self.retry_or_fail(now, qi, Failure::Truncated);
            }
            Reply::ServerFailure { rcode } => {
                log::debug!(target: logging::DNS, "{} from {from}: rcode {rcode}", q.qname);
                self.retry_or_fail(now, qi, Failure::ServerFailure);
            }
            other => self.complete_query(now, qi, Ok(other)),
        }
    }

    /// The earliest retransmission deadline, in the caller's milliseconds.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.queries.iter().flatten().map(|q| q.deadline).min()
    }

    /// Retransmits (to the next nameserver) or fails queries whose deadline has passed.
    pub fn handle_timeout(&mut self, now: u64) {
        for qi in 0..self.queries.len() {
            let expired = self
                .queries
                .get(qi)
                .and_then(Option::as_ref)
                .is_some_and(|q| q.deadline <= now);
            if expired {
                self.retry_or_fail(now, qi, Failure::Timeout);
            }
        }
    }

    /// The next completed lookup.
    pub fn poll_event(&mut self) -> Option<Resolved> {
        self.events.pop_front()
    }

    fn retry_or_fail(&mut self, now: u64, qi: usize, failure: Failure) {
        let max_tries = self.attempts.saturating_mul(self.nameservers.len() as u32);
        let count = self.nameservers.len();
        let Some(q) = self.queries.get_mut(qi).and_then(Option::as_mut) else {
            return;
        };
        if q.tries < max_tries {
            q.tries += 1;
            q.nameserver = (q.nameserver + 1) % count.max(1);
            q.needs_send = true;
            q.deadline = now.saturating_add(self.timeout_ms);
            log::debug!(target: logging::DNS, "{} {}: {failure}, retrying", q.qname, q.qtype);
        } else {
            self.complete_query(now, qi, Err(failure));
        }
    }

    fn complete_query(&mut self, now: u64, qi: usize, outcome: Result<Reply, Failure>) {
        let Some(q) = self.queries.get_mut(qi).and_then(Option::take) else {
            return;
        };
        let Some(mut job) = self.jobs.get_mut(q.job).and_then(Option::take) else {
            return;
        };
        match job.stage {
            Stage::Srv => {
                job.stage = Stage::Addresses;
                match outcome {
                    Ok(Reply::Srv { mut records, ttl }) => {
                        sort_srv(&mut records);
                        job.srv_ttl = ttl;
                        for r in records {
                            let _ = job.targets.push(Target::new(r.target, r.port));
                        }
                    }
                    other => {
                        let why: &dyn fmt::Display = match &other {
                            Err(f) => f,
                            Ok(_) => &"no SRV records in the reply",
                        };
                        log::debug!(target: logging::DNS, "{}: no SRV ({why}), using A/AAAA on {SIP_DEFAULT_PORT}", job.name);
                        let _ = job
                            .targets
                            .push(Target::new(job.name.clone(), SIP_DEFAULT_PORT));
                    }
                }
                self.start_targets(now, q.job, &mut job);
            }
            Stage::Addresses => {
                if let Some(t) = job.targets.get_mut(q.target) {
                    t.pending = t.pending.saturating_sub(1);
                    let failure = match outcome {
                        Ok(Reply::Addrs { addrs, ttl }) => {
                            let list = if q.qtype == QType::A {
                                &mut t.v4
                            } else {
                                &mut t.v6
                            };
                            *list = addrs;
                            t.ttl = t.ttl.min(ttl);
                            None
                        }
                        Ok(Reply::NxDomain { .. }) => Some(Failure::NxDomain),
                        Ok(_) => Some(Failure::NoAddress),
                        Err(f) => Some(f),
                    };
                    if let Some(f) = failure {
                        // NXDOMAIN or a real error says more than "no AAAA record"
                        if job.failure.is_none() || job.failure == Some(Failure::NoAddress) {
                            job.failure = Some(f);
                        }
                    }
                }
            }
        }
        let done = job.targets.iter().all(|t| t.pending == 0);
        if let Some(slot) = self.jobs.get_mut(q.job) {
            *slot = Some(job);
        }
        if done {
            let _ = self.finish_job(now, q.job);
        }
    }

    /// Builds the result, caches it, queues one event per waiter, frees the job.
    fn finish_job(&mut self, now: u64, j: usize) -> Result<Addrs, Failure> {
        let Some(job) = self.jobs.get_mut(j).and_then(Option::take) else {
            return Err(Failure::Busy);
        };
        // any query left belongs to a finished job
        for q in self.queries.iter_mut() {
            if q.as_ref().is_some_and(|q| q.job == j) {
                *q = None;
            }
        }
        let mut addrs = Addrs::new();
        let mut ttl = job.srv_ttl;
        for t in &job.targets {
            if !t.v4.is_empty() || !t.v6.is_empty() {
                ttl = ttl.min(t.ttl);
            }
            for ip in t.v4.iter().chain(t.v6.iter()) {
                let a = SocketAddr::new(*ip, t.port);
                if !addrs.contains(&a) {
                    let _ = addrs.push(a);
                }
            }
        }
        let result = if addrs.is_empty() {
            let f = job.failure.unwrap_or(Failure::NoAddress);
            // a full table is our problem, not the name's
            if f != Failure::Busy {
                self.cache_failure(now, &job.name, job.kind, f);
            }
            log::debug!(target: logging::DNS, "lookup {} failed: {f}", job.name);
            Err(f)
        } else {
            self.cache_success(now, &job.name, job.kind, &addrs, ttl);
            log::debug!(target: logging::DNS, "lookup {} -> {}", job.name, logging::List(addrs.as_slice()));
            Ok(addrs)
        };
        for w in self.waiters.iter_mut() {
            let Some(waiter) = w.filter(|w| w.job == j) else {
                continue;
            };
            *w = None;
            let event = Resolved {
                user_token: waiter.user_token,
                result: result
                    .as_ref()
                    .map(|a| with_port(a, waiter.port))
                    .map_err(|f| *f),
            };
            // resolve() keeps waiters + events within capacity
            let _ = self.events.push_back(event);
        }
        result
    }

    fn cache_get(&self, name: &str, kind: Kind) -> Option<&CacheEntry> {
        self.cache
            .iter()
            .flatten()
            .find(|e| e.kind == kind && e.name == name)
    }

    /// The slot of `name`, or a free one, or the one whose content is least useful.
    fn cache_slot(&mut self, name: &Name, kind: Kind) -> Option<&mut Option<CacheEntry>> {
        let idx = self
            .cache
            .iter()
            .position(|e| {
                e.as_ref()
                    .is_some_and(|e| e.kind == kind && e.name == *name)
            })
            .or_else(|| free_slot(&self.cache))
            .or_else(|| {
                self.cache
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, e)| e.as_ref().map_or(0, CacheEntry::useful_until))
                    .map(|(i, _)| i)
            })?;
        self.cache.get_mut(idx)
    }

    fn cache_success(&mut self, now: u64, name: &Name, kind: Kind, addrs: &Addrs, ttl: u32) {
        let addrs = if kind == Kind::Host {
            with_port(addrs, Some(0))
        } else {
            addrs.clone()
        };
        if let Some(slot) = self.cache_slot(name, kind) {
            *slot = Some(CacheEntry {
                name: name.clone(),
                kind,
                addrs,
                failure: None,
                expires_at: now.saturating_add(clamp_ttl(ttl)),
                errors: 0,
                last_failure_at: 0,
            });
        }
    }

    fn cache_failure(&mut self, now: u64, name: &Name, kind: Kind, failure: Failure) {
        let Some(slot) = self.cache_slot(name, kind) else {
            return;
        };
        let previous = slot
            .as_ref()
            .filter(|e| e.kind == kind && e.name == *name && e.errors > 0)
            .filter(|e| now.saturating_sub(e.last_failure_at) <= DNS_FAILURE_WINDOW_SECS * 1000)
            .map_or(0, |e| e.errors);
        let errors = previous.saturating_add(1);
        let lifetime = if errors >= DNS_ATTEMPTS {
            log::warn!(
                "DNS: {name} failed {errors} times in a row, blacklisted for {DNS_BAD_AGE_SECS} s"
            );
            DNS_BAD_AGE_SECS * 1000
        } else {
            u64::from(DNS_NEGATIVE_SECS) * 1000
        };
        *slot = Some(CacheEntry {
            name: name.clone(),
            kind,
            addrs: Addrs::new(),
            failure: Some(failure),
            expires_at: now.saturating_add(lifetime),
            errors,
            last_failure_at: now,
        });
    }
}

impl Target {
    fn new(host: Name, port: u16) -> Self {
        Target {
            host,
            port,
            pending: 0,
            v4: heapless::Vec::new(),
            v6: heapless::Vec::new(),
            ttl: u32::MAX,
        }
    }
}

/// Lower-cased name without trailing dot, if valid.
fn normalise(name: &str) -> Option<Name> {
    wire::validate_name(name).ok()?;
    let mut out = Name::new();
    for c in name.strip_suffix('.').unwrap_or(name).chars() {
        out.push(c.to_ascii_lowercase()).ok()?;
    }
    Some(out)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use super::*;
    use crate::dns::conf::{parse_hosts, parse_resolv_conf};

    const NS1: &str = "192.0.2.53:53";
    const NS2: &str = "198.51.100.53:53";

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn resolver(resolv: &str, hosts: &str, ipv6: bool) -> Resolver {
        let config = ResolverConfig {
            resolv: parse_resolv_conf(resolv),
            hosts: parse_hosts(hosts),
            ipv6,
        };
        Resolver::new(config, 42)
    }

    fn one_ns() -> Resolver {
        resolver(
            "nameserver 192.0.2.53\noptions timeout:1 attempts:1\n",
            "",
            false,
        )
    }

    fn drain(r: &mut Resolver) -> Vec<(SocketAddr, Vec<u8>)> {
        let mut out = Vec::new();
        let mut buf = [0u8; crate::limits::DNS_QUERY_MAX];
        while let Some((to, n)) = r.poll_transmit(&mut buf) {
            out.push((to, buf[..n].to_vec()));
        }
        out
    }

    fn events(r: &mut Resolver) -> Vec<Resolved> {
        std::iter::from_fn(|| r.poll_event()).collect()
    }

    /// (id, name, qtype) of a query we built.
    fn question(q: &[u8]) -> (u16, String, u16) {
        let mut name = Name::new();
        let end = wire::read_name(q, 12, &mut name).unwrap();
        let qtype = u16::from_be_bytes([q[end], q[end + 1]]);
        (u16::from_be_bytes([q[0], q[1]]), name.to_string(), qtype)
    }

    fn enc(name: &str) -> Vec<u8> {
        let mut v = Vec::new();
        for l in name.split('.').filter(|l| !l.is_empty()) {
            v.push(l.len() as u8);
            v.extend_from_slice(l.as_bytes());
        }
        v.push(0);
        v
    }

    enum Rd<'a> {
        A(&'a str),
        Aaaa(&'a str),
        Srv(u16, u16, u16, &'a str),
    }

    /// A reply to `q` with rcode and answers (owner = question name).
    fn respond(q: &[u8], rcode: u8, ttl: u32, answers: &[Rd]) -> Vec<u8> {
        let mut m = q.to_vec();
        m[2] = 0x81;
        m[3] = 0x80 | rcode;
        m[6..8].copy_from_slice(&(answers.len() as u16).to_be_bytes());
        for a in answers {
            let (t, data) = match a {
                Rd::A(ip) => (
                    1u16,
                    ip.parse::<core::net::Ipv4Addr>().unwrap().octets().to_vec(),
                ),
                Rd::Aaaa(ip) => (
                    28,
                    ip.parse::<core::net::Ipv6Addr>().unwrap().octets().to_vec(),
                ),
                Rd::Srv(p, w, port, target) => {
                    let mut d = Vec::new();
                    for v in [p, w, port] {
                        d.extend_from_slice(&v.to_be_bytes());
                    }
                    d.extend_from_slice(&enc(target));
                    (33, d)
                }
            };
            m.extend_from_slice(&[0xC0, 12]);
            m.extend_from_slice(&t.to_be_bytes());
            m.extend_from_slice(&[0, 1]);
            m.extend_from_slice(&ttl.to_be_bytes());
            m.extend_from_slice(&(data.len() as u16).to_be_bytes());
            m.extend_from_slice(&data);
        }
        m
    }

    fn addrs(list: &[&str]) -> Addrs {
        list.iter().map(|s| sa(s)).collect()
    }

    #[test]
    fn literals_hosts_and_invalid_names_answer_at_once() {
        let mut r = resolver("", "10.0.0.7 pbx.lan pbx\n", false);
        assert_eq!(
            r.resolve(0, "192.0.2.1", Some(5062), 1),
            Lookup::Ready(addrs(&["192.0.2.1:5062"]))
        );
        assert_eq!(
            r.resolve(0, "[2001:db8::1]", None, 1),
            Lookup::Ready(addrs(&["[2001:db8::1]:5060"]))
        );
        assert_eq!(
            r.resolve(0, "PBX.", None, 1),
            Lookup::Ready(addrs(&["10.0.0.7:5060"]))
        );
        assert_eq!(
            r.resolve(0, "pbx.lan", Some(5070), 1),
            Lookup::Ready(addrs(&["10.0.0.7:5070"]))
        );
        assert_eq!(
            r.resolve(0, "bad name", None, 1),
            Lookup::Failed(Failure::InvalidName)
        );
        assert_eq!(
            r.resolve(0, "", None, 1),
            Lookup::Failed(Failure::InvalidName)
        );
        assert!(drain(&mut r).is_empty());
        assert_eq!(r.poll_timeout(), None);
    }

    #[test]
    fn hosts_entries_follow_the_address_families() {
        let hosts = "::1 localhost\n127.0.0.1 localhost\n2001:db8::7 v6only\n";
        let mut r = resolver("", hosts, false);
        assert_eq!(
            r.resolve(0, "localhost", Some(5060), 1),
            Lookup::Ready(addrs(&["127.0.0.1:5060"]))
        );
        // nothing usable locally: asked in DNS
        assert_eq!(r.resolve(0, "v6only", Some(5060), 1), Lookup::Pending);
        let mut r = resolver("", hosts, true);
        assert_eq!(
            r.resolve(0, "localhost", Some(5060), 1),
            Lookup::Ready(addrs(&["127.0.0.1:5060", "[::1]:5060"]))
        );
        assert_eq!(
            r.resolve(0, "v6only", None, 1),
            Lookup::Ready(addrs(&["[2001:db8::7]:5060"]))
        );
    }

    #[test]
    fn a_and_aaaa_then_cache_until_ttl() {
        let mut r = resolver("nameserver 192.0.2.53\n", "", true);
        assert_eq!(
            r.resolve(1000, "Sip.Example.com", Some(5080), 7),
            Lookup::Pending
        );
        let sent = drain(&mut r);
        assert_eq!(sent.len(), 2);
        assert!(sent.iter().all(|(to, _)| *to == sa(NS1)));
        let types: Vec<u16> = sent.iter().map(|(_, q)| question(q).2).collect();
        assert_eq!(types, vec![1, 28]);
        assert_eq!(question(&sent[0].1).1, "sip.example.com");
        // AAAA answer first: the order of results is still IPv4 first
        r.handle_response(
            1010,
            sa(NS1),
            &respond(&sent[1].1, 0, 300, &[Rd::Aaaa("2001:db8::9")]),
        );
        assert!(events(&mut r).is_empty());
        r.handle_response(
            1020,
            sa(NS1),
            &respond(&sent[0].1, 0, 30, &[Rd::A("192.0.2.9")]),
        );
        let ev = events(&mut r);
        assert_eq!(
            ev,
            vec![Resolved {
                user_token: 7,
                result: Ok(addrs(&["192.0.2.9:5080", "[2001:db8::9]:5080"]))
            }]
        );
        assert_eq!(r.poll_timeout(), None);
        // cached for the smaller TTL (30 s), with the caller's port
        assert_eq!(
            r.resolve(30_000, "sip.example.com.", Some(5060), 8),
            Lookup::Ready(addrs(&["192.0.2.9:5060", "[2001:db8::9]:5060"]))
        );
        assert!(drain(&mut r).is_empty());
        assert_eq!(
            r.resolve(31_020, "sip.example.com", Some(5060), 9),
            Lookup::Pending
        );
        assert_eq!(drain(&mut r).len(), 2);
    }

    #[test]
    fn ttl_is_clamped() {
        let mut r = one_ns();
        assert_eq!(r.resolve(0, "short.example", Some(1), 1), Lookup::Pending);
        let q = drain(&mut r).remove(0).1;
        r.handle_response(0, sa(NS1), &respond(&q, 0, 1, &[Rd::A("192.0.2.1")]));
        assert!(matches!(
            r.resolve(9_999, "short.example", Some(1), 2),
            Lookup::Ready(_)
        ));
        assert_eq!(
            r.resolve(10_000, "short.example", Some(1), 3),
            Lookup::Pending
        );

        assert_eq!(r.resolve(0, "long.example", Some(1), 1), Lookup::Pending);
        let q = drain(&mut r).pop().unwrap().1;
        r.handle_response(
            0,
            sa(NS1),
            &respond(&q, 0, 1_000_000, &[Rd::A("192.0.2.2")]),
        );
        assert!(matches!(
            r.resolve(3_599_999, "long.example", Some(1), 2),
            Lookup::Ready(_)
        ));
        assert_eq!(
            r.resolve(3_600_000, "long.example", Some(1), 3),
            Lookup::Pending
        );
    }

    /// Resolves `name` and answers NXDOMAIN; returns the failure reported.
    fn fail_once(r: &mut Resolver, now: u64, name: &str) -> Result<Addrs, Failure> {
        assert_eq!(r.resolve(now, name, Some(5060), 1), Lookup::Pending);
        let q = drain(r).remove(0).1;
        r.handle_response(now, sa(NS1), &respond(&q, 3, 0, &[]));
        events(r).remove(0).result
    }

    #[test]
    fn three_failures_in_a_row_blacklist_for_600s() {
        let mut r = one_ns();
        assert_eq!(fail_once(&mut r, 0, "gone.example"), Err(Failure::NxDomain));
        // the failure is cached briefly
        assert_eq!(
            r.resolve(9_999, "gone.example", Some(5060), 2),
            Lookup::Failed(Failure::NxDomain)
        );
        assert_eq!(
            fail_once(&mut r, 10_000, "gone.example"),
            Err(Failure::NxDomain)
        );
        assert_eq!(
            fail_once(&mut r, 70_000, "gone.example"),
            Err(Failure::NxDomain)
        );
        assert_eq!(
            r.resolve(80_000, "gone.example", Some(5060), 2),
            Lookup::Failed(Failure::Blacklisted)
        );
        assert_eq!(
            r.resolve(669_999, "GONE.example", Some(5060), 2),
            Lookup::Failed(Failure::Blacklisted)
        );
        assert!(drain(&mut r).is_empty());
        // after 600 s it is asked again, and a success clears the count
        assert_eq!(
            r.resolve(670_000, "gone.example", Some(5060), 3),
            Lookup::Pending
        );
        let q = drain(&mut r).remove(0).1;
        r.handle_response(670_000, sa(NS1), &respond(&q, 0, 60, &[Rd::A("192.0.2.3")]));
        assert!(events(&mut r)[0].result.is_ok());
        assert_eq!(
            fail_once(&mut r, 740_000, "gone.example"),
            Err(Failure::NxDomain)
        );
        assert!(matches!(
            r.resolve(750_000, "gone.example", Some(5060), 4),
            Lookup::Pending
        ));
    }

    #[test]
    fn failures_further_apart_than_60s_do_not_blacklist() {
        let mut r = one_ns();
        for i in 0..5 {
            assert_eq!(
                fail_once(&mut r, i * 61_000, "flaky.example"),
                Err(Failure::NxDomain)
            );
        }
        assert_eq!(
            r.resolve(5 * 61_000, "flaky.example", Some(5060), 2),
            Lookup::Pending
        );
    }

    #[test]
    fn retransmits_round_robin_then_times_out() {
        let mut r = resolver(
            "nameserver 192.0.2.53\nnameserver 198.51.100.53\noptions timeout:1 attempts:2\n",
            "",
            false,
        );
        assert_eq!(r.resolve(0, "slow.example", Some(5060), 5), Lookup::Pending);
        let mut seen = Vec::new();
        let mut now = 0;
        for _ in 0..4 {
            let sent = drain(&mut r);
            assert_eq!(sent.len(), 1);
            seen.push(sent[0].0);
            assert_eq!(r.poll_timeout(), Some(now + 1000));
            r.handle_timeout(now + 999);
            assert!(drain(&mut r).is_empty());
            now += 1000;
            r.handle_timeout(now);
        }
        assert_eq!(seen, vec![sa(NS1), sa(NS2), sa(NS1), sa(NS2)]);
        assert_eq!(
            events(&mut r),
            vec![Resolved {
                user_token: 5,
                result: Err(Failure::Timeout)
            }]
        );
        assert_eq!(r.poll_timeout(), None);
    }

    #[test]
    fn failover_answer_from_second_server_and_servfail_skips_server() {
        let mut r = resolver(
            "nameserver 192.0.2.53\nnameserver 198.51.100.53\noptions timeout:2 attempts:1\n",
            "",
            false,
        );
        assert_eq!(r.resolve(0, "a.example", Some(5060), 1), Lookup::Pending);
        let q1 = drain(&mut r).remove(0);
        assert_eq!(q1.0, sa(NS1));
        r.handle_response(10, sa(NS1), &respond(&q1.1, 2, 0, &[]));
        let q2 = drain(&mut r).remove(0);
        assert_eq!(q2.0, sa(NS2));
        assert_eq!(r.poll_timeout(), Some(2010));
        r.handle_response(20, sa(NS2), &respond(&q2.1, 0, 60, &[Rd::A("192.0.2.77")]));
        assert_eq!(events(&mut r)[0].result, Ok(addrs(&["192.0.2.77:5060"])));

        // all servers failing gives ServerFailure
        assert_eq!(r.resolve(0, "b.example", Some(5060), 2), Lookup::Pending);
        for ns in [NS1, NS2] {
            let q = drain(&mut r).remove(0);
            assert_eq!(q.0, sa(ns));
            r.handle_response(30, sa(ns), &respond(&q.1, 5, 0, &[]));
        }
        assert_eq!(events(&mut r)[0].result, Err(Failure::ServerFailure));
    }

    #[test]
    fn truncated_reply_is_a_failure() {
        let mut r = one_ns();
        assert_eq!(r.resolve(0, "big.example", Some(5060), 1), Lookup::Pending);
        let q = drain(&mut r).remove(0).1;
        let mut reply = respond(&q, 0, 60, &[Rd::A("192.0.2.1")]);
        reply[2] |= 0x02;
        r.handle_response(0, sa(NS1), &reply);
        assert_eq!(events(&mut r)[0].result, Err(Failure::Truncated));
    }

    #[test]
    fn srv_targets_in_priority_and_weight_order() {
        let mut r = resolver("nameserver 192.0.2.53\n", "10.9.9.9 c.example.net\n", false);
        assert_eq!(r.resolve(0, "example.net", None, 11), Lookup::Pending);
        let sent = drain(&mut r);
        assert_eq!(sent.len(), 1);
        assert_eq!(
            question(&sent[0].1),
            (question(&sent[0].1).0, "_sip._udp.example.net".into(), 33)
        );
        let reply = respond(
            &sent[0].1,
            0,
            600,
            &[
                Rd::Srv(20, 0, 5062, "c.example.net"),
                Rd::Srv(10, 10, 5061, "b.example.net"),
                Rd::Srv(10, 50, 5060, "a.example.net"),
            ],
        );
        r.handle_response(5, sa(NS1), &reply);
        let sent = drain(&mut r);
        // c comes from /etc/hosts; a and b are asked
        let names: Vec<String> = sent.iter().map(|(_, q)| question(q).1).collect();
        assert_eq!(names, vec!["a.example.net", "b.example.net"]);
        r.handle_response(
            6,
            sa(NS1),
            &respond(&sent[1].1, 0, 100, &[Rd::A("192.0.2.2")]),
        );
        r.handle_response(
            7,
            sa(NS1),
            &respond(&sent[0].1, 0, 100, &[Rd::A("192.0.2.1")]),
        );
        let ev = events(&mut r);
        assert_eq!(
            ev,
            vec![Resolved {
                user_token: 11,
                result: Ok(addrs(&[
                    "192.0.2.1:5060",
                    "192.0.2.2:5061",
                    "10.9.9.9:5062"
                ]))
            }]
        );
        // the SIP-domain result is cached separately from the host result
        assert!(
            matches!(r.resolve(50_000, "example.net", None, 12), Lookup::Ready(a) if a.len() == 3)
        );
        assert_eq!(
            r.resolve(50_000, "example.net", Some(5060), 13),
            Lookup::Pending
        );
    }

    #[test]
    fn no_srv_falls_back_to_a_on_5060() {
        let mut r = one_ns();
        assert_eq!(r.resolve(0, "plain.example", None, 1), Lookup::Pending);
        let q = drain(&mut r).remove(0).1;
        r.handle_response(0, sa(NS1), &respond(&q, 3, 0, &[]));
        let q = drain(&mut r).remove(0).1;
        assert_eq!(question(&q).1, "plain.example");
        assert_eq!(question(&q).2, 1);
        r.handle_response(0, sa(NS1), &respond(&q, 0, 60, &[Rd::A("192.0.2.5")]));
        assert_eq!(events(&mut r)[0].result, Ok(addrs(&["192.0.2.5:5060"])));
    }

    #[test]
    fn spoofed_replies_are_ignored() {
        let mut r = one_ns();
        assert_eq!(r.resolve(0, "bank.example", Some(5060), 1), Lookup::Pending);
        let q = drain(&mut r).remove(0).1;
        let good = respond(&q, 0, 60, &[Rd::A("192.0.2.10")]);
        let evil = respond(&q, 0, 60, &[Rd::A("203.0.113.66")]);
        // right bytes, wrong source address or port
        r.handle_response(0, sa("203.0.113.1:53"), &evil);
        r.handle_response(0, sa("192.0.2.53:5353"), &evil);
        // right source, wrong id
        let mut wrong_id = evil.clone();
        wrong_id[1] ^= 0x55;
        r.handle_response(0, sa(NS1), &wrong_id);
        // right source and id, other question
        let mut other_q = Vec::new();
        let mut buf = [0u8; 64];
        let n = build_query(&mut buf, question(&q).0, "evil.example", QType::A).unwrap();
        other_q.extend_from_slice(&respond(&buf[..n], 0, 60, &[Rd::A("203.0.113.66")]));
        r.handle_response(0, sa(NS1), &other_q);
        // garbage
        r.handle_response(0, sa(NS1), &q[..5]);
        assert!(events(&mut r).is_empty());
        r.handle_response(0, sa(NS1), &good);
        assert_eq!(events(&mut r)[0].result, Ok(addrs(&["192.0.2.10:5060"])));
        // a replay after completion matches nothing
        r.handle_response(1, sa(NS1), &evil);
        assert!(events(&mut r).is_empty());
    }

    #[test]
    fn several_waiters_share_one_query() {
        let mut r = one_ns();
        assert_eq!(
            r.resolve(0, "shared.example", Some(5060), 1),
            Lookup::Pending
        );
        assert_eq!(
            r.resolve(0, "Shared.Example", Some(6000), 2),
            Lookup::Pending
        );
        let sent = drain(&mut r);
        assert_eq!(sent.len(), 1);
        r.handle_response(
            0,
            sa(NS1),
            &respond(&sent[0].1, 0, 60, &[Rd::A("192.0.2.4")]),
        );
        let ev = events(&mut r);
        assert_eq!(
            ev,
            vec![
                Resolved {
                    user_token: 1,
                    result: Ok(addrs(&["192.0.2.4:5060"]))
                },
                Resolved {
                    user_token: 2,
                    result: Ok(addrs(&["192.0.2.4:6000"]))
                },
            ]
        );
    }

    #[test]
    fn tables_are_bounded() {
        let mut r = one_ns();
        for i in 0..DNS_MAX_WAITERS as u64 {
            assert_eq!(r.resolve(0, "one.example", Some(1), i), Lookup::Pending);
        }
        assert_eq!(
            r.resolve(0, "one.example", Some(1), 999),
            Lookup::Failed(Failure::Busy)
        );
        let mut r = one_ns();
        for i in 0..DNS_MAX_JOBS {
            assert_eq!(
                r.resolve(0, &format!("n{i}.example"), Some(1), 0),
                Lookup::Pending
            );
        }
        assert_eq!(
            r.resolve(0, "more.example", Some(1), 0),
            Lookup::Failed(Failure::Busy)
        );
        // a Busy lookup is not remembered as a failure of the name
        r.handle_timeout(1000);
        assert_eq!(events(&mut r).len(), DNS_MAX_JOBS);
        assert_eq!(r.resolve(1000, "more.example", Some(1), 0), Lookup::Pending);
    }

    #[test]
    fn cache_full_evicts_the_entry_expiring_first() {
        let mut r = one_ns();
        let fill = |r: &mut Resolver, name: &str, ttl: u32| {
            assert_eq!(r.resolve(0, name, Some(1), 0), Lookup::Pending);
            let q = drain(r).remove(0).1;
            r.handle_response(0, sa(NS1), &respond(&q, 0, ttl, &[Rd::A("192.0.2.1")]));
            assert!(events(r)[0].result.is_ok());
        };
        fill(&mut r, "first.example", 100);
        for i in 1..DNS_CACHE_SIZE {
            fill(&mut r, &format!("h{i}.example"), 1000);
        }
        assert!(matches!(
            r.resolve(1, "first.example", Some(1), 0),
            Lookup::Ready(_)
        ));
        fill(&mut r, "newcomer.example", 1000);
        assert!(matches!(
            r.resolve(1, "newcomer.example", Some(1), 0),
            Lookup::Ready(_)
        ));
        assert!(matches!(
            r.resolve(1, "h1.example", Some(1), 0),
            Lookup::Ready(_)
        ));
        assert_eq!(r.resolve(1, "first.example", Some(1), 0), Lookup::Pending);
    }

    #[test]
    fn reconfigure_moves_retransmissions_and_mapped_sources_match() {
        let mut r = one_ns();
        assert_eq!(
            r.resolve(0, "moved.example", Some(5060), 1),
            Lookup::Pending
        );
        let q = drain(&mut r).remove(0);
        assert_eq!(q.0, sa(NS1));
        r.reconfigure(ResolverConfig {
            resolv: parse_resolv_conf("nameserver 198.51.100.53\noptions timeout:3 attempts:2\n"),
            hosts: parse_hosts(""),
            ipv6: false,
        });
        // the old server is no longer trusted
        r.handle_response(10, sa(NS1), &respond(&q.1, 0, 60, &[Rd::A("203.0.113.1")]));
        assert!(events(&mut r).is_empty());
        r.handle_timeout(1000);
        let q2 = drain(&mut r).remove(0);
        assert_eq!(q2.0, sa(NS2));
        assert_eq!(r.poll_timeout(), Some(4000));
        r.handle_response(
            1010,
            sa("[::ffff:198.51.100.53]:53"),
            &respond(&q2.1, 0, 60, &[Rd::A("192.0.2.8")]),
        );
        assert_eq!(events(&mut r)[0].result, Ok(addrs(&["192.0.2.8:5060"])));
    }

    #[derive(Clone, Debug)]
    enum Op {
        Resolve(usize, bool),
        Answer(u8, Vec<u8>),
        Advance(u64),
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            (0usize..6, any::<bool>()).prop_map(|(n, p)| Op::Resolve(n, p)),
            (0u8..6, proptest::collection::vec(any::<u8>(), 0..40))
                .prop_map(|(k, b)| Op::Answer(k, b)),
            (0u64..3000).prop_map(Op::Advance),
        ]
    }

    proptest::proptest! {
        /// Whatever arrives, every Pending lookup ends in exactly one event, and nothing panics.
        #[test]
        fn every_pending_lookup_completes_once(ops in proptest::collection::vec(op(), 1..60)) {
            let mut r = resolver(
                "nameserver 192.0.2.53\nnameserver 198.51.100.53\noptions timeout:1 attempts:2\n",
                "10.0.0.1 local.example\n",
                true,
            );
            let names = ["a.example", "b.example", "local.example", "10.1.1.1", "c.example", "bad name"];
            let mut now = 0u64;
            let mut token = 0u64;
            let mut pending = Vec::new();
            let mut sent: Vec<(SocketAddr, Vec<u8>)> = Vec::new();
            let mut got = Vec::new();
            for op in ops {
                match op {
                    Op::Resolve(n, with_port) => {
                        token += 1;
                        let port = with_port.then_some(5060);
                        if r.resolve(now, names[n], port, token) == Lookup::Pending {
                            pending.push(token);
                        }
                    }
                    Op::Answer(kind, noise) => {
                        if let Some((to, q)) = sent.pop() {
                            let reply = match kind {
                                0 => {
                                    if question(&q).2 == 33 {
                                        respond(&q, 0, 60, &[Rd::Srv(1, 1, 5060, "a.example")])
                                    } else if question(&q).2 == 28 {
                                        respond(&q, 0, 60, &[Rd::Aaaa("2001:db8::1")])
                                    } else {
                                        respond(&q, 0, 60, &[Rd::A("192.0.2.1")])
                                    }
                                }
                                1 => respond(&q, 3, 0, &[]),
                                2 => respond(&q, 2, 0, &[]),
                                3 => [&q[..2], &noise[..]].concat(),
                                4 => {
                                    let mut m = respond(&q, 0, 60, &[Rd::A("192.0.2.1")]);
                                    let i = noise.first().map_or(0, |b| *b as usize) % m.len();
                                    m[i] ^= noise.get(1).copied().unwrap_or(0xFF);
                                    m
                                }
                                _ => noise,
                            };
                            r.handle_response(now, to, &reply);
                        }
                    }
                    Op::Advance(ms) => {
                        now += ms;
                        r.handle_timeout(now);
                    }
                }
                sent.extend(drain(&mut r));
                got.extend(events(&mut r).into_iter().map(|e| e.user_token));
            }
            for _ in 0..40 {
                now += 1000;
                r.handle_timeout(now);
                drain(&mut r);
                got.extend(events(&mut r).into_iter().map(|e| e.user_token));
            }
            proptest::prop_assert_eq!(r.poll_timeout(), None);
            got.sort_unstable();
            proptest::prop_assert_eq!(got, pending);
        }
    }

    #[test]
    fn query_ids_differ_and_follow_the_seed() {
        let ids = |seed| {
            let mut r = Resolver::new(ResolverConfig::default(), seed);
            (0..8)
                .map(|i| {
                    r.resolve(0, &format!("h{i}.example"), Some(1), 0);
                    question(&drain(&mut r)[0].1).0
                })
                .collect::<Vec<_>>()
        };
        let a = ids(1);
        assert_eq!(a, ids(1));
        assert_ne!(a, ids(2));
        let mut uniq = a.clone();
        uniq.sort_unstable();
        uniq.dedup();
        assert_eq!(uniq.len(), a.len());
    }
}
