//! The RTP relay's sockets and hot path (behaviour §5.4, §5.8, decisions §6): the shell side of
//! [`rtp::Table`].
//!
//! [`Relay`] owns the table and one preallocated socket slot per half-stream. It binds the
//! (RTP, RTCP) pair of a half when the table asks ([`RelaySockets`]), registers both with the
//! event loop's poll under `RELAY_TOKEN_BASE + rtp::Token`, and on readiness drains the socket,
//! asks the table where each datagram goes and sends it from the paired half's socket
//! ([`Relay::handle_readable`]). Aging has the shape of every core (`crate::sansio`): the loop
//! sleeps until [`Relay::poll_timeout`] and then calls [`Relay::handle_timeout`].
//!
//! `rtp_dscp` is set on the RTP socket when it is opened; failing to set it (no privilege) is a
//! warning, not a failure. [`ensure_fd_limit`] makes sure RLIMIT_NOFILE allows every socket the
//! configured range and table can need.

use std::io;
use std::net::SocketAddr;

use mio::net::UdpSocket;
use mio::{Interest, Registry};
use socket2::{Domain, Protocol, Socket, Type};

use super::udp::tos_byte;
use crate::config::Config;
use crate::limits::{FD_RESERVE, RELAY_TOKEN_BASE, RTP_BUFFER, RTP_MAX_STREAMS};
use crate::logging::{RTP, RTPBABL};
use crate::rtp::{
    self, Kind, OpenError, Opened, PortAllocator, RelaySockets, SlotId, StreamRequest, Table,
    Verdict,
};

/// Counters of the relay's socket side (the table counts relay decisions).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayStats {
    /// Datagrams read from relay sockets.
    pub received: u64,
    /// Datagrams sent on.
    pub sent: u64,
    /// Datagrams the table dropped (reason counted per half / in `TableStats`).
    pub dropped: u64,
    /// Datagrams longer than `limits::RTP_BUFFER`, relayed truncated to it.
    pub truncated: u64,
    /// `sendto` failures that keep the stream (ICMP unreachable, full queue).
    pub send_errors_transient: u64,
    /// `sendto` failures that closed the receiving half.
    pub send_errors_fatal: u64,
    /// `recvfrom` failures other than "nothing queued".
    pub recv_errors: u64,
    /// Sockets where `rtp_dscp` could not be set.
    pub dscp_failures: u64,
}

fn bump(c: &mut u64) {
    *c = c.wrapping_add(1);
}

// Every relay token fits a 32-bit usize (MIPS, PowerPC).
const _: () = assert!(RELAY_TOKEN_BASE as u64 + 2 * RTP_MAX_STREAMS as u64 <= u32::MAX as u64);

/// The mio token of relay socket `t`.
pub fn mio_token(t: rtp::Token) -> mio::Token {
    mio::Token(RELAY_TOKEN_BASE.wrapping_add(t.0 as usize))
}

/// The relay socket a mio token names, if it is in the relay's token space.
pub fn relay_token(t: mio::Token) -> Option<rtp::Token> {
    let offset = t.0.checked_sub(RELAY_TOKEN_BASE)?;
    u32::try_from(offset).ok().map(rtp::Token)
}

/// `debug_level` bit of RTPBABL (behaviour §7.1); a test checks it against `logging`.
const RTPBABL_BIT: u32 = 0x2000;

/// Whether per-packet RTPBABL records are wanted. The mask test comes first: it is one load,
/// and with the bit clear no sink emits a debug record of the class.
fn rtpbabl_enabled() -> bool {
    crate::logging::debug_mask() & RTPBABL_BIT != 0
        && log::log_enabled!(target: RTPBABL, log::Level::Debug)
}

/// The socket half of the relay: one (RTP, RTCP) pair per table slot, bound on demand.
struct Sockets {
    registry: Registry,
    pairs: Box<[Option<(UdpSocket, UdpSocket)>]>,
    dscp: u8,
    stats: RelayStats,
}

impl Sockets {
    fn get(&self, t: rtp::Token) -> Option<&UdpSocket> {
        let (rtp, rtcp) = self.pairs.get(t.slot().index())?.as_ref()?;
        Some(match t.kind() {
            Kind::Rtp => rtp,
            Kind::Rtcp => rtcp,
        })
    }

    /// A non-blocking UDP socket on `addr`, SO_REUSEADDR like siproxd (quick restart).
    fn bind(&mut self, addr: SocketAddr, dscp: u8) -> io::Result<UdpSocket> {
        let sock = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
        sock.set_reuse_address(true)?;
        if addr.is_ipv6() {
            sock.set_only_v6(true)?;
        }
        if dscp != 0 {
            let set = match addr {
                SocketAddr::V4(_) => sock.set_tos_v4(tos_byte(dscp)),
                SocketAddr::V6(_) => sock.set_tclass_v6(tos_byte(dscp)),
            };
            if let Err(e) = set {
                // Warn once; media still flows, only unmarked.
                if self.stats.dscp_failures == 0 {
                    log::warn!("rtp_dscp = {dscp}: cannot mark RTP socket {addr}: {e}");
                }
                bump(&mut self.stats.dscp_failures);
            }
        }
        sock.set_nonblocking(true)?;
        sock.bind(&addr.into())?;
        Ok(UdpSocket::from_std(sock.into()))
    }

    fn try_open(&mut self, slot: SlotId, rtp: SocketAddr) -> io::Result<()> {
        let rtcp_port = rtp
            .port()
            .checked_add(1)
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        let mut a = self.bind(rtp, self.dscp)?;
        let mut b = self.bind(SocketAddr::new(rtp.ip(), rtcp_port), 0)?;
        self.registry
            .register(&mut a, mio_token(rtp::Token::rtp(slot)), Interest::READABLE)?;
        if let Err(e) = self.registry.register(
            &mut b,
            mio_token(rtp::Token::rtcp(slot)),
            Interest::READABLE,
        ) {
            let _ = self.registry.deregister(&mut a);
            return Err(e);
        }
        let Some(entry) = self.pairs.get_mut(slot.index()) else {
            let _ = self.registry.deregister(&mut a);
            let _ = self.registry.deregister(&mut b);
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        };
        if let Some((mut old_a, mut old_b)) = entry.replace((a, b)) {
            // The table never reuses an open slot; should it, the old sockets must not leak.
            let _ = self.registry.deregister(&mut old_a);
            let _ = self.registry.deregister(&mut old_b);
        }
        Ok(())
    }
}

impl RelaySockets for Sockets {
    fn open_pair(&mut self, slot: SlotId, rtp: SocketAddr) -> bool {
        match self.try_open(slot, rtp) {
            Ok(()) => true,
            Err(e) => {
                log::debug!(target: RTP, "cannot open RTP socket pair {rtp} (+1): {e}");
                false
            }
        }
    }

    fn close_pair(&mut self, slot: SlotId, _rtp: SocketAddr) {
        if let Some((mut a, mut b)) = self.pairs.get_mut(slot.index()).and_then(Option::take) {
            let _ = self.registry.deregister(&mut a);
            let _ = self.registry.deregister(&mut b);
        }
    }
}

/// The RTP relay of the event loop: table, sockets, receive buffer.
pub struct Relay {
    table: Table,
    sockets: Sockets,
    /// One byte more than `RTP_BUFFER`, so a longer datagram is noticed (and truncated).
    buf: Box<[u8]>,
    /// A lower bound of the earliest `rtp_timeout` deadline, so the loop does not scan the
    /// table on every wake-up. Traffic and new halves only move deadlines later and closing
    /// only removes them, so it stays a lower bound (at worst an early, harmless wake-up).
    wake: Option<u64>,
    /// Set when the table was changed in a way that can add an earlier deadline.
    wake_stale: bool,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("table", &self.table)
            .field("stats", &self.sockets.stats)
            .finish()
    }
}

impl Relay {
    /// A relay over `table` (`setup::build` sizes it from the configuration, tests use small
    /// ones); `rtp_dscp` for the RTP sockets; `registry` is the event loop's (a
    /// `Registry::try_clone`), used to register the sockets it opens.
    pub fn new(table: Table, rtp_dscp: u8, registry: Registry) -> Relay {
        let pairs = (0..table.capacity()).map(|_| None).collect();
        Relay {
            table,
            sockets: Sockets {
                registry,
                pairs,
                dscp: rtp_dscp,
                stats: RelayStats::default(),
            },
            buf: vec![0u8; RTP_BUFFER.saturating_add(1)].into_boxed_slice(),
            wake: None,
            wake_stale: true,
        }
    }

    pub fn table(&self) -> &Table {
        &self.table
    }

    pub fn stats(&self) -> &RelayStats {
        &self.sockets.stats
    }

    /// The table and the sockets it drives, for table operations without a wrapper here.
    pub fn parts(&mut self) -> (&mut Table, &mut dyn RelaySockets) {
        self.wake_stale = true;
        (&mut self.table, &mut self.sockets)
    }

    /// [`Table::open`] with the relay's sockets.
    pub fn open(&mut self, now: u64, req: &StreamRequest<'_>) -> Result<Opened, OpenError> {
        self.wake_stale = true;
        self.table.open(now, req, &mut self.sockets)
    }

    /// [`Table::close`]: one half.
    pub fn close(&mut self, slot: SlotId) -> bool {
        self.table.close(slot, &mut self.sockets)
    }

    /// [`Table::close_call`]: BYE / CANCEL.
    pub fn close_call(&mut self, call_id: &str) -> usize {
        self.table.close_call(call_id, &mut self.sockets)
    }

    /// [`Table::close_call_up_to_cseq`]: error response to INVITE/UPDATE.
    pub fn close_call_up_to_cseq(&mut self, call_id: &str, cseq: u32) -> usize {
        self.table
            .close_call_up_to_cseq(call_id, cseq, &mut self.sockets)
    }

    /// Shutdown: every half.
    pub fn close_all(&mut self) -> usize {
        self.table.close_all(&mut self.sockets)
    }

    /// Whether a socket of this relay is bound for `t` (open half-stream).
    pub fn is_open(&self, t: rtp::Token) -> bool {
        self.sockets.get(t).is_some()
    }

    /// The socket bound for `t`, if its half-stream is open.
    pub fn socket(&self, t: rtp::Token) -> Option<&UdpSocket> {
        self.sockets.get(t)
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due (ms, the loop's clock): the
    /// earliest `rtp_timeout` deadline or a little before it. Cached: the table is scanned only
    /// after an open, not on every wake-up.
    pub fn poll_timeout(&mut self) -> Option<u64> {
        if self.wake_stale {
            self.wake = self.table.next_deadline();
            self.wake_stale = false;
        }
        self.wake
    }

    /// Input: the clock reached `now`. Closes every half whose deadline is ≤ `now` (if
    /// [`poll_timeout`](Self::poll_timeout) has come) and returns how many.
    pub fn handle_timeout(&mut self, now: u64) -> usize {
        if self.poll_timeout().is_none_or(|d| d > now) {
            return 0;
        }
        let closed = self.table.expire(now, &mut self.sockets);
        self.wake = self.table.next_deadline();
        closed
    }

    /// Hot path: relay every datagram queued on the socket of `token` (edge-triggered: until
    /// WouldBlock). Tokens outside the relay's space or of closed halves are ignored. Returns
    /// the number of datagrams read.
    pub fn handle_readable(&mut self, now: u64, token: mio::Token) -> usize {
        let Some(t) = relay_token(token) else {
            return 0;
        };
        // Asked once per readiness, not per datagram: the logger's class lookup cost more
        // than the relay's own work. The mask only changes on SIGHUP, in this same thread.
        let babble = rtpbabl_enabled();
        let mut n = 0;
        loop {
            // Looked up per datagram: a fatal send error closes this very socket.
            let Some(sock) = self.sockets.get(t) else {
                return n;
            };
            let (len, src) = match sock.recv_from(&mut self.buf) {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return n,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionRefused
                    ) =>
                {
                    // ICMP unreachable of an earlier send, reported once; data may follow.
                    bump(&mut self.sockets.stats.recv_errors);
                    continue;
                }
                Err(e) => {
                    bump(&mut self.sockets.stats.recv_errors);
                    log::debug!(target: RTP, "RTP recv on token {}: {e}", t.0);
                    return n;
                }
            };
            n = n.saturating_add(1);
            bump(&mut self.sockets.stats.received);
            let len = if len > RTP_BUFFER {
                bump(&mut self.sockets.stats.truncated);
                RTP_BUFFER
            } else {
                len
            };
            let verdict = self.table.on_packet(now, t, src, len);
            if babble {
                log::debug!(target: RTPBABL, "RTP {len} bytes from {src} on {}: {verdict}", t.0);
            }
            let Verdict::Forward { out, dst } = verdict else {
                bump(&mut self.sockets.stats.dropped);
                continue;
            };
            let (Some(out_sock), Some(bytes)) = (self.sockets.get(out), self.buf.get(..len)) else {
                bump(&mut self.sockets.stats.dropped);
                continue;
            };
            match out_sock.send_to(bytes, dst) {
                Ok(_) => bump(&mut self.sockets.stats.sent),
                Err(e) if rtp::send_error_is_transient(&e) => {
                    bump(&mut self.sockets.stats.send_errors_transient)
                }
                Err(e) => {
                    bump(&mut self.sockets.stats.send_errors_fatal);
                    log::warn!("RTP send to {dst} failed: {e}; stopping this stream");
                    self.table.close(t.slot(), &mut self.sockets);
                    return n;
                }
            }
        }
    }
}

/// Descriptors the relay may need with `config`: two per half-stream, for at most
/// `min(max_rtp_streams, 2 × pairs in the range)` halves (each pair usable once on each of the
/// two interface addresses), plus `FD_RESERVE` for SIP, DNS, netlink, debug and TCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdNeed {
    pub halves: u64,
    pub total: u64,
}

/// See [`FdNeed`].
pub fn fd_need(config: &Config) -> FdNeed {
    let halves = if config.rtp_proxy_enable == 0 {
        0
    } else {
        let pairs =
            u64::from(PortAllocator::new(config.rtp_port_low, config.rtp_port_high).pairs());
        let table = config.max_rtp_streams.min(RTP_MAX_STREAMS) as u64;
        table.min(pairs.saturating_mul(2))
    };
    FdNeed {
        halves,
        total: halves.saturating_mul(2).saturating_add(FD_RESERVE),
    }
}

/// What to do about RLIMIT_NOFILE (soft, hard) for `need` descriptors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FdPlan {
    Enough,
    /// setrlimit to (soft, hard).
    Raise {
        soft: u64,
        hard: u64,
    },
    TooLow,
}

pub fn fd_plan(soft: u64, hard: u64, need: u64, root: bool) -> FdPlan {
    if soft >= need {
        FdPlan::Enough
    } else if hard >= need {
        FdPlan::Raise { soft: need, hard }
    } else if root {
        FdPlan::Raise {
            soft: need,
            hard: need,
        }
    } else {
        FdPlan::TooLow
    }
}

/// The start-up error for a limit that cannot be raised far enough.
pub fn fd_limit_error(soft: u64, hard: u64, config: &Config, need: FdNeed) -> String {
    format!(
        "RLIMIT_NOFILE is {soft} (hard {hard}) but rtp_port_low..rtp_port_high = {}..{} \
         needs {} descriptors (2 for each of {} half-streams, max_rtp_streams = {}, plus {}); \
         raise the limit (ulimit -n / procd limits nofile) or narrow the range",
        config.rtp_port_low,
        config.rtp_port_high,
        need.total,
        need.halves,
        config.max_rtp_streams,
        FD_RESERVE
    )
}

/// Raises RLIMIT_NOFILE to what the relay can need with `config` (soft up to hard; as root the
/// hard limit too). Call at start, before privileges are dropped.
pub fn ensure_fd_limit(config: &Config) -> Result<(), String> {
    let need = fd_need(config);
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(format!(
            "cannot read RLIMIT_NOFILE: {}",
            io::Error::last_os_error()
        ));
    }
    // rlim_t is 32 bits on some 32-bit targets, 64 on others.
    #[allow(clippy::useless_conversion)]
    let (soft, hard) = (u64::from(lim.rlim_cur), u64::from(lim.rlim_max));
    match fd_plan(soft, hard, need.total, crate::process::is_root()) {
        FdPlan::Enough => Ok(()),
        FdPlan::TooLow => Err(fd_limit_error(soft, hard, config, need)),
        FdPlan::Raise {
            soft: new_soft,
            hard: new_hard,
        } => {
            #[allow(clippy::useless_conversion, clippy::unnecessary_fallible_conversions)]
            let to_rlim = |v: u64| libc::rlim_t::try_from(v).ok();
            let (Some(cur), Some(max)) = (to_rlim(new_soft), to_rlim(new_hard)) else {
                return Err(fd_limit_error(soft, hard, config, need));
            };
            let new = libc::rlimit {
                rlim_cur: cur,
                rlim_max: max,
            };
            // SAFETY: setrlimit reads the struct we own.
            if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &new) } != 0 {
                let e = io::Error::last_os_error();
                return Err(format!(
                    "{} (setrlimit: {e})",
                    fd_limit_error(soft, hard, config, need)
                ));
            }
            log::info!(
                "RLIMIT_NOFILE raised from {soft} (hard {hard}) to {new_soft} (hard {new_hard}) \
                 for {} RTP half-streams",
                need.halves
            );
            Ok(())
        }
    }
}

/// The proxy core opens and closes streams through this (SDP rewriting, BYE, errors).
impl crate::proxy::Media for Relay {
    fn open(&mut self, now: u64, req: &StreamRequest<'_>) -> Result<Opened, OpenError> {
        Relay::open(self, now, req)
    }
    fn close(&mut self, slot: SlotId) {
        Relay::close(self, slot);
    }
    fn close_call(&mut self, call_id: &str) -> usize {
        Relay::close_call(self, call_id)
    }
    fn close_call_up_to_cseq(&mut self, call_id: &str, cseq: u32) -> usize {
        Relay::close_call_up_to_cseq(self, call_id, cseq)
    }
    fn confirm_call(&mut self, call_id: &str, cseq: u32) -> usize {
        self.table.confirm_call(call_id, cseq)
    }
    fn partner(
        &self,
        call_id: &str,
        index: u16,
        dir: rtp::StreamDirection,
    ) -> Option<(SocketAddr, SocketAddr)> {
        self.table.partner(call_id, index, dir)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    fn cfg(low: u16, high: u16, streams: usize) -> Config {
        Config {
            rtp_port_low: low,
            rtp_port_high: high,
            max_rtp_streams: streams,
            ..Config::default()
        }
    }

    #[test]
    fn tokens_map_both_ways_and_stay_clear_of_the_loop() {
        for raw in [0u32, 1, 2047, (RTP_MAX_STREAMS as u32) * 2 - 1] {
            let t = rtp::Token(raw);
            let m = mio_token(t);
            assert!(m.0 >= RELAY_TOKEN_BASE);
            assert_eq!(relay_token(m), Some(t));
        }
        assert_eq!(relay_token(mio::Token(0)), None);
        assert_eq!(relay_token(mio::Token(RELAY_TOKEN_BASE - 1)), None);
    }

    #[test]
    fn rtpbabl_pre_check_uses_the_class_bit_of_logging() {
        assert_eq!(crate::logging::class_bit(RTPBABL), Some(RTPBABL_BIT));
        // Without the bit no sink emits the class, so the pre-check never hides a record.
        for sink in [
            crate::logging::Sink::Stderr,
            crate::logging::Sink::Syslog,
            crate::logging::Sink::Hook,
        ] {
            assert!(!crate::logging::emits(
                sink,
                log::Level::Debug,
                RTPBABL,
                !RTPBABL_BIT,
                0
            ));
            assert!(crate::logging::emits(
                sink,
                log::Level::Debug,
                RTPBABL,
                RTPBABL_BIT,
                0
            ));
        }
    }

    #[test]
    fn need_is_bounded_by_table_and_by_range() {
        // 7070..9070: 1001 pairs, each usable on two addresses.
        assert_eq!(
            fd_need(&cfg(7070, 9070, 4096)),
            FdNeed {
                halves: 2002,
                total: 4004 + FD_RESERVE
            }
        );
        // The default table (1024 half-streams) is the smaller bound.
        assert_eq!(fd_need(&cfg(7070, 9070, 1024)).halves, 1024);
        // siproxd's default range 7070..7089: 10 pairs.
        assert_eq!(fd_need(&cfg(7070, 7089, 1024)).halves, 20);
        // An empty range or a disabled relay needs only the reserve.
        assert_eq!(fd_need(&cfg(0, 0, 1024)).total, FD_RESERVE);
        let mut off = cfg(7070, 9070, 1024);
        off.rtp_proxy_enable = 0;
        assert_eq!(fd_need(&off).halves, 0);
    }

    #[test]
    fn plan_raises_soft_then_hard_only_as_root() {
        assert_eq!(fd_plan(4096, 4096, 4000, false), FdPlan::Enough);
        assert_eq!(
            fd_plan(1024, 8192, 4000, false),
            FdPlan::Raise {
                soft: 4000,
                hard: 8192
            }
        );
        assert_eq!(fd_plan(1024, 1024, 4000, false), FdPlan::TooLow);
        assert_eq!(
            fd_plan(1024, 1024, 4000, true),
            FdPlan::Raise {
                soft: 4000,
                hard: 4000
            }
        );
    }

    #[test]
    fn error_names_limit_current_values_and_range() {
        let c = cfg(7070, 9070, 4096);
        let msg = fd_limit_error(1024, 1024, &c, fd_need(&c));
        assert!(
            msg.starts_with(
                "RLIMIT_NOFILE is 1024 (hard 1024) but rtp_port_low..rtp_port_high = \
                 7070..9070 needs 4068 descriptors"
            ),
            "{msg}"
        );
        assert!(msg.contains("max_rtp_streams = 4096"), "{msg}");
        assert!(
            msg.ends_with("raise the limit (ulimit -n / procd limits nofile) or narrow the range"),
            "{msg}"
        );
    }

    #[test]
    fn ensure_keeps_a_limit_that_is_already_enough() {
        // The reserve alone is far below any usable limit; nothing is changed.
        let mut before = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: writes into our struct.
        assert_eq!(
            unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut before) },
            0
        );
        ensure_fd_limit(&cfg(0, 0, 16)).unwrap();
        let mut after = before;
        // SAFETY: as above.
        assert_eq!(
            unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut after) },
            0
        );
        assert_eq!(
            (before.rlim_cur, before.rlim_max),
            (after.rlim_cur, after.rlim_max)
        );
    }
}
