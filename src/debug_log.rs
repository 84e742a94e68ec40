//! The debug log's pure side (the `debug_port` directive, decisions §8, behaviour §7.2): what
//! remote debug clients are sent, without sockets. The listener and the client sockets are
//! `net::debug_port::DebugPort`, which moves these bytes.
//!
//! Plain text, one way: each client first gets a banner (version, pid, `debug_level` mask), then
//! every log record the logger hands to [`DebugSink`], whatever `silence_log` says. Where siproxd
//! serves one client and may block on a slow reader, here:
//! - up to [`DEBUG_MAX_CLIENTS`] are served ([`DebugClients`]), a further one reads [`refusal`];
//! - each client has a preallocated ring of [`DEBUG_CLIENT_BUFFER`] bytes ([`LineRing`]). The
//!   socket side writes as much of it as the socket takes; the rest waits. A full ring drops
//!   whole lines and counts them; once space returns the client reads `[N lines dropped]`
//!   before newer lines. A client that stops reading therefore costs a counter increment per
//!   line, never a wait;
//! - the listener binds to the inbound address unless `debug_bind` names another
//!   ([`listen_addr`]), so it is not reachable from the WAN side by default.
//!
//! How the logger feeds the clients without owning them: the process is single-threaded, so
//! the queue between them is a thread-local bounded byte buffer ([`DEBUG_SINK_BUFFER`]). The
//! logger calls [`DebugSink::record`] (a zero-sized, `Send + Sync` handle, fit for
//! `logging::set_hook`), which only appends text to that buffer; the event loop moves the text
//! to the clients once per turn with [`DebugClients::drain_log`]. The sink never calls into the
//! clients, so a record logged by the port itself (accept, disconnect) is queued for the next
//! turn instead of recursing, and a record logged while the queue is being written is dropped.
//! Records logged on other threads are ignored. When the queue fills between two turns, later
//! records are dropped (keeping order) and the clients get the same `[N lines dropped]` marker.

use std::fmt::{self, Write as _};
use std::net::{IpAddr, SocketAddr};

use log::Level;

use crate::limits::{DEBUG_CLIENT_BUFFER, DEBUG_MAX_CLIENTS, DEBUG_SINK_BUFFER};
use crate::logging;

/// Longest `[N lines dropped]\n` marker (N up to 20 digits); an empty ring has room for it
/// beside the longest line.
const MARKER_MAX: usize = 40;

/// Banner line capacity (version, pid, mask and the names of all classes fit).
pub const BANNER_MAX: usize = 256;

/// Where the listener binds: the `debug_bind` address if set, else the inbound address.
pub fn listen_addr(port: u16, inbound: IpAddr, debug_bind: Option<IpAddr>) -> SocketAddr {
    SocketAddr::new(debug_bind.unwrap_or(inbound), port)
}

/// The line a client gets when all slots are taken.
pub fn refusal() -> heapless::String<64> {
    let mut s = heapless::String::new();
    // 44 bytes for any DEBUG_MAX_CLIENTS below 10^16: the write cannot fail.
    let _ = writeln!(
        s,
        "siproxd-rs: too many debug clients (max {DEBUG_MAX_CLIENTS})"
    );
    s
}

/// The first line a client reads, e.g.
/// `siproxd-rs 0.1.0 debug log, pid 812, debug_level 0x0204 (sip rtp)`.
pub fn banner(version: &str, pid: u32, mask: u32) -> heapless::String<BANNER_MAX> {
    let mut s = heapless::String::new();
    if write_banner(&mut s, version, pid, mask).is_err() {
        // Only an absurdly long version string gets here: leave the version out.
        s.clear();
        let _ = write!(
            s,
            "siproxd-rs debug log, pid {pid}, debug_level 0x{mask:04x}"
        );
    }
    s
}

fn write_banner(out: &mut impl fmt::Write, version: &str, pid: u32, mask: u32) -> fmt::Result {
    write!(
        out,
        "siproxd-rs {version} debug log, pid {pid}, debug_level 0x{mask:04x} ("
    )?;
    let mut first = true;
    for (name, bit) in logging::CLASSES {
        if mask & bit != 0 {
            out.write_str(if first { "" } else { " " })?;
            out.write_str(name)?;
            first = false;
        }
    }
    out.write_str(if first { "no debug classes)" } else { ")" })
}

/// One client's output: a fixed ring of whole lines plus the count of lines dropped since the
/// last marker. The socket side moves its bytes.
#[derive(Debug)]
pub struct LineRing {
    buf: Box<[u8]>,
    head: usize,
    len: usize,
    dropped: u64,
    lost: u64,
}

impl LineRing {
    /// Allocates the ring once; nothing grows afterwards.
    pub fn new(capacity: usize) -> Self {
        LineRing {
            buf: vec![0; capacity].into_boxed_slice(),
            head: 0,
            len: 0,
            dropped: 0,
            lost: 0,
        }
    }

    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Bytes waiting to be written.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Lines dropped and not yet announced by a marker.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Lines dropped since the last [`clear`](Self::clear), announced or not.
    pub fn lost(&self) -> u64 {
        self.lost
    }

    fn free(&self) -> usize {
        self.capacity().saturating_sub(self.len)
    }

    /// Longest line kept: an empty ring always has room for it, its newline and a marker.
    fn max_line(&self) -> usize {
        self.capacity().saturating_sub(MARKER_MAX + 1)
    }

    /// Forgets everything (a new client starts clean).
    pub fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
        self.dropped = 0;
        self.lost = 0;
    }

    /// Appends `line` and a newline (one trailing newline of `line` is not doubled), or drops
    /// and counts it when it does not fit or earlier drops are not yet announced. Over-long
    /// lines are truncated. Returns whether the line was kept.
    pub fn push_line(&mut self, line: &[u8]) -> bool {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.get(..self.max_line()).unwrap_or(line);
        // A marker only where the line fits behind it: a ring that is still full would
        // otherwise interleave markers with single drops.
        self.settle_with_room(line.len().saturating_add(1));
        if self.dropped == 0 && self.free() > line.len() {
            self.put(line);
            self.put(b"\n");
            true
        } else {
            self.note_dropped(1);
            false
        }
    }

    /// Counts `n` lines lost before they reached this box (the sink's queue overflowed).
    pub fn note_dropped(&mut self, n: u64) {
        self.dropped = self.dropped.saturating_add(n);
        self.lost = self.lost.saturating_add(n);
    }

    /// Writes the `[N lines dropped]` marker if lines were dropped and it fits now.
    pub fn settle(&mut self) {
        self.settle_with_room(0);
    }

    fn settle_with_room(&mut self, room_after: usize) {
        if self.dropped == 0 {
            return;
        }
        let mut marker: heapless::String<MARKER_MAX> = heapless::String::new();
        if writeln!(marker, "[{} lines dropped]", self.dropped).is_ok()
            && self.free() >= marker.len().saturating_add(room_after)
        {
            self.put(marker.as_bytes());
            self.dropped = 0;
        }
    }

    /// The waiting bytes in order, as the two parts of the ring (the second may be empty).
    pub fn pending(&self) -> (&[u8], &[u8]) {
        let cap = self.capacity();
        let first_len = self.len.min(cap.saturating_sub(self.head));
        let first = self
            .buf
            .get(self.head..self.head.saturating_add(first_len))
            .unwrap_or_default();
        let second = self
            .buf
            .get(..self.len.saturating_sub(first_len))
            .unwrap_or_default();
        (first, second)
    }

    /// Marks `n` waiting bytes as written.
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.len);
        self.len -= n;
        self.head = if self.len == 0 {
            0
        } else {
            self.head.saturating_add(n) % self.capacity().max(1)
        };
    }

    /// Copies `bytes` behind the waiting ones; the caller checked that they fit.
    fn put(&mut self, mut bytes: &[u8]) {
        let cap = self.capacity();
        while !bytes.is_empty() && self.free() > 0 {
            let tail = self.head.saturating_add(self.len) % cap;
            let n = bytes.len().min(cap.saturating_sub(tail)).min(self.free());
            let (Some(dst), Some(src)) = (
                self.buf.get_mut(tail..tail.saturating_add(n)),
                bytes.get(..n),
            ) else {
                return;
            };
            dst.copy_from_slice(src);
            self.len = self.len.saturating_add(n);
            bytes = bytes.get(n..).unwrap_or_default();
        }
    }
}

/// The state of one connected client, for statistics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientStatus {
    pub peer: SocketAddr,
    /// Bytes waiting in its ring.
    pub pending: usize,
    /// Lines dropped and not yet announced to it.
    pub dropped: u64,
    /// Lines dropped since it connected.
    pub lost: u64,
    /// Whether the socket refused more data and WRITABLE interest is registered.
    pub blocked: bool,
}

/// One connected client.
#[derive(Debug)]
struct Client {
    peer: SocketAddr,
    since: u64,
    /// The socket refused more data: writing waits until it is writable again.
    blocked: bool,
}

#[derive(Debug)]
struct Slot {
    client: Option<Client>,
    ring: LineRing,
}

/// The client slots of the debug port and what each is to be sent: the fan-out of log
/// lines into per-client rings. Sans-IO: the socket side admits and closes clients by slot,
/// asks [`output`](Self::output) what to write to a slot and reports what was written with
/// [`consume`](Self::consume). One per thread: it drains that thread's [`DebugSink`] queue.
#[derive(Debug)]
pub struct DebugClients {
    slots: Box<[Slot]>,
    /// Swapped with the sink's queue on each drain, so neither side allocates.
    spare: Vec<u8>,
    mask: u32,
}

impl Default for DebugClients {
    fn default() -> Self {
        Self::new()
    }
}

impl DebugClients {
    /// [`DEBUG_MAX_CLIENTS`] slots with their rings, allocated once; enables the
    /// [`DebugSink`] queue of this thread (disabled again when dropped).
    pub fn new() -> DebugClients {
        let slots = (0..DEBUG_MAX_CLIENTS)
            .map(|_| Slot {
                client: None,
                ring: LineRing::new(DEBUG_CLIENT_BUFFER),
            })
            .collect();
        sink::enable();
        DebugClients {
            slots,
            spare: Vec::with_capacity(DEBUG_SINK_BUFFER),
            mask: 0,
        }
    }

    /// Number of slots (connected or not).
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Sets the `debug_level` mask shown in banners and used by [`DebugSink::wants`].
    pub fn set_mask(&mut self, mask: u32) {
        self.mask = mask;
        sink::set_mask(mask);
    }

    pub fn mask(&self) -> u32 {
        self.mask
    }

    /// A free slot for a new connection; `None` when all are taken (send it [`refusal`]).
    pub fn free_slot(&self) -> Option<usize> {
        self.slots.iter().position(|s| s.client.is_none())
    }

    /// Connects `peer` in `slot` (from [`free_slot`](Self::free_slot)): its ring starts
    /// with the banner. Returns false if the slot does not exist or is taken.
    pub fn admit(&mut self, slot: usize, peer: SocketAddr, now: u64) -> bool {
        let banner = banner(env!("CARGO_PKG_VERSION"), std::process::id(), self.mask);
        let Some(s) = self.slots.get_mut(slot).filter(|s| s.client.is_none()) else {
            return false;
        };
        s.ring.clear();
        s.ring.push_line(banner.as_bytes());
        s.client = Some(Client {
            peer,
            since: now,
            blocked: false,
        });
        sink::client_joined();
        log::info!(
            "debug port: accepted connection from {peer}, debug_level 0x{:04x}",
            self.mask
        );
        true
    }

    /// Disconnects the client of `slot` (logging `why`, its connection time and lost
    /// lines); returns whether one was connected.
    pub fn close(&mut self, slot: usize, now: u64, why: &str) -> bool {
        let Some(s) = self.slots.get_mut(slot) else {
            return false;
        };
        let Some(client) = s.client.take() else {
            return false;
        };
        let lost = s.ring.lost();
        s.ring.clear();
        let secs = now.saturating_sub(client.since) / 1000;
        log::info!(
            "debug port: {why}: {} after {secs} s, {lost} lines lost",
            client.peer
        );
        sink::client_left();
        true
    }

    pub fn is_connected(&self, slot: usize) -> bool {
        self.slots.get(slot).is_some_and(|s| s.client.is_some())
    }

    /// Whether the client of `slot` is connected and its socket refused more data.
    pub fn is_blocked(&self, slot: usize) -> bool {
        self.client(slot).is_some_and(|c| c.blocked)
    }

    /// Notes that the socket of `slot` refused more data (`true`) or took everything.
    pub fn set_blocked(&mut self, slot: usize, blocked: bool) {
        if let Some(c) = self.slots.get_mut(slot).and_then(|s| s.client.as_mut()) {
            c.blocked = blocked;
        }
    }

    fn client(&self, slot: usize) -> Option<&Client> {
        self.slots.get(slot).and_then(|s| s.client.as_ref())
    }

    /// Connected clients.
    pub fn client_count(&self) -> usize {
        self.slots.iter().filter(|s| s.client.is_some()).count()
    }

    pub fn clients(&self) -> impl Iterator<Item = ClientStatus> + '_ {
        self.slots.iter().filter_map(|s| {
            s.client.as_ref().map(|c| ClientStatus {
                peer: c.peer,
                pending: s.ring.len(),
                dropped: s.ring.dropped(),
                lost: s.ring.lost(),
                blocked: c.blocked,
            })
        })
    }

    /// What to write to the client of `slot` next, in order (the two parts of its ring; the
    /// first is empty when nothing waits). A pending `[N lines dropped]` marker is added
    /// first if it fits now.
    pub fn output(&mut self, slot: usize) -> (&[u8], &[u8]) {
        match self.slots.get_mut(slot) {
            Some(s) if s.client.is_some() => {
                s.ring.settle();
                s.ring.pending()
            }
            _ => (&[], &[]),
        }
    }

    /// `n` bytes of [`output`](Self::output) of `slot` were written.
    pub fn consume(&mut self, slot: usize, n: usize) {
        if let Some(s) = self.slots.get_mut(slot) {
            s.ring.consume(n);
        }
    }

    /// Appends one log line (a trailing newline is optional; embedded newlines make several
    /// lines) to every client's ring. Never allocates.
    pub fn push_record(&mut self, line: &str) {
        let line = line.strip_suffix('\n').unwrap_or(line);
        for s in self.slots.iter_mut().filter(|s| s.client.is_some()) {
            for part in line.split('\n') {
                s.ring.push_line(part.as_bytes());
            }
        }
    }

    /// Moves the text queued by [`DebugSink`] since the last call to the clients' rings;
    /// returns whether there was any (then the socket side writes). Call once per loop turn,
    /// before polling.
    pub fn drain_log(&mut self) -> bool {
        let dropped = sink::take(&mut self.spare);
        let text = std::mem::take(&mut self.spare);
        let any = !text.is_empty() || dropped > 0;
        if any {
            for s in self.slots.iter_mut().filter(|s| s.client.is_some()) {
                if let Some(body) = text.strip_suffix(b"\n") {
                    for line in body.split(|b| *b == b'\n') {
                        s.ring.push_line(line);
                    }
                }
                s.ring.note_dropped(dropped);
            }
        }
        self.spare = text;
        self.spare.clear();
        any
    }
}

impl Drop for DebugClients {
    fn drop(&mut self) {
        sink::disable(u32::try_from(self.client_count()).unwrap_or(u32::MAX));
    }
}

/// The logger's handle on the debug clients of this thread (see the module documentation).
/// Zero-sized and `Send + Sync`, so it can live in a process-wide logger.
#[derive(Debug, Clone, Copy, Default)]
pub struct DebugSink;

impl DebugSink {
    /// Whether a record would reach a client: a client is connected, and the record is info
    /// or above, or a debug record whose class bit is in the port's mask (independent of
    /// `silence_log`). Lets the logger skip formatting when nobody listens.
    pub fn wants(&self, level: Level, class_bit: Option<u32>) -> bool {
        let (listening, mask) = sink::state();
        listening
            && match level {
                Level::Error | Level::Warn | Level::Info => true,
                Level::Debug | Level::Trace => class_bit.is_some_and(|bit| mask & bit != 0),
            }
    }

    /// Queues one record as the stderr sink prints it: `HH:MM:SS.mmm LABEL text` (local
    /// time; labels `ERROR: `, `WARNING: `, `INFO: `, or the class target for debug).
    /// Dropped at once when no client is connected. Never blocks, allocates or logs.
    pub fn record(&self, level: Level, target: &str, text: &str) {
        sink::push(text, |w| {
            write_clock(w)?;
            match level {
                Level::Error => w.write_str(" ERROR: "),
                Level::Warn => w.write_str(" WARNING: "),
                Level::Info => w.write_str(" INFO: "),
                Level::Debug | Level::Trace => write!(w, " {target}: "),
            }?;
            w.write_str(text)
        });
    }

    /// Queues `text` as it is (one or more lines).
    pub fn push_line(&self, text: &str) {
        sink::push(text, |w| w.write_str(text));
    }
}

/// Local wall-clock time `HH:MM:SS.mmm`, as the stderr sink prints it.
fn write_clock(w: &mut impl fmt::Write) -> fmt::Result {
    let t = crate::logging::LocalTime::now();
    write!(w, "{:02}:{:02}:{:02}.{:03}", t.hour, t.min, t.sec, t.millis)
}

/// The thread-local queue between [`DebugSink`] and [`DebugClients::drain_log`].
mod sink {
    use std::cell::RefCell;
    use std::fmt;

    use crate::limits::DEBUG_SINK_BUFFER;

    pub(super) struct Sink {
        /// Newline-terminated records; never grows past `DEBUG_SINK_BUFFER` (its capacity is
        /// at least that while a port exists).
        queue: Vec<u8>,
        /// Ports alive on this thread (more than one only while the shell rebinds).
        ports: u32,
        /// Clients connected to them; records are queued only while there are some.
        clients: u32,
        /// Lines lost since the last drain; once one is lost, all later ones are too, so
        /// the marker sits exactly where the gap is.
        dropped: u64,
        mask: u32,
    }

    impl Sink {
        fn listening(&self) -> bool {
            self.ports > 0 && self.clients > 0
        }

        fn reset_queue(&mut self) {
            self.queue.clear();
            self.dropped = 0;
        }
    }

    thread_local! {
        pub(super) static SINK: RefCell<Sink> = const {
            RefCell::new(Sink { queue: Vec::new(), ports: 0, clients: 0, dropped: 0, mask: 0 })
        };
    }

    /// Runs `f` on this thread's sink unless it is busy (a record logged while one is being
    /// queued) or gone (thread exit); the record is then lost, which ends any recursion.
    fn with<R>(f: impl FnOnce(&mut Sink) -> R) -> Option<R> {
        SINK.try_with(|s| s.try_borrow_mut().ok().map(|mut s| f(&mut s)))
            .ok()
            .flatten()
    }

    /// A port was bound on this thread.
    pub(super) fn enable() {
        with(|s| {
            if s.queue.capacity() < DEBUG_SINK_BUFFER {
                s.queue = Vec::with_capacity(DEBUG_SINK_BUFFER);
            }
            s.ports = s.ports.saturating_add(1);
        });
    }

    /// A port with `clients` connected clients was dropped; the last one frees the queue.
    pub(super) fn disable(clients: u32) {
        with(|s| {
            s.ports = s.ports.saturating_sub(1);
            s.clients = s.clients.saturating_sub(clients);
            if s.ports == 0 {
                s.queue = Vec::new();
                s.clients = 0;
                s.dropped = 0;
            } else if s.clients == 0 {
                s.reset_queue();
            }
        });
    }

    pub(super) fn client_joined() {
        with(|s| {
            if s.ports > 0 {
                s.clients = s.clients.saturating_add(1);
            }
        });
    }

    pub(super) fn client_left() {
        with(|s| {
            s.clients = s.clients.saturating_sub(1);
            if s.clients == 0 {
                s.reset_queue();
            }
        });
    }

    pub(super) fn set_mask(mask: u32) {
        with(|s| s.mask = mask);
    }

    pub(super) fn state() -> (bool, u32) {
        with(|s| (s.listening(), s.mask)).unwrap_or((false, 0))
    }

    /// Appends the record `write` produces plus a newline, all or nothing. `text` is the
    /// record's text, for counting its lines if it is dropped.
    pub(super) fn push(text: &str, write: impl FnOnce(&mut Bounded<'_>) -> fmt::Result) {
        with(|s| {
            if !s.listening() {
                return;
            }
            let body = text.strip_suffix('\n').unwrap_or(text);
            let lines = 1 + body.bytes().filter(|b| *b == b'\n').count() as u64;
            if s.dropped == 0 {
                let start = s.queue.len();
                let mut w = Bounded {
                    buf: &mut s.queue,
                    cap: DEBUG_SINK_BUFFER,
                };
                let ok = write(&mut w).is_ok() && w.end_line().is_ok();
                if ok {
                    return;
                }
                s.queue.truncate(start);
            }
            s.dropped = s.dropped.saturating_add(lines);
        });
    }

    /// Swaps the queued text into `out` (an empty buffer of the same capacity) and returns
    /// the number of lines dropped since the last call.
    pub(super) fn take(out: &mut Vec<u8>) -> u64 {
        with(|s| {
            out.clear();
            if s.queue.is_empty() {
                return std::mem::take(&mut s.dropped);
            }
            std::mem::swap(&mut s.queue, out);
            std::mem::take(&mut s.dropped)
        })
        .unwrap_or(0)
    }

    /// A `fmt::Write` into the queue that fails instead of growing past `cap`.
    pub(super) struct Bounded<'a> {
        buf: &'a mut Vec<u8>,
        cap: usize,
    }

    impl Bounded<'_> {
        /// Terminates the record with exactly one newline.
        fn end_line(&mut self) -> fmt::Result {
            if self.buf.last() == Some(&b'\n') {
                Ok(())
            } else {
                fmt::Write::write_str(self, "\n")
            }
        }
    }

    impl fmt::Write for Bounded<'_> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            if self.buf.len().saturating_add(s.len()) > self.cap {
                return Err(fmt::Error);
            }
            self.buf.extend_from_slice(s.as_bytes());
            Ok(())
        }
    }
}

/// The logger reaches the debug port through its hook (`logging::set_hook`).
impl crate::logging::LogHook for DebugSink {
    fn record(&self, level: Level, target: &str, line: &str) {
        let bit = crate::logging::class_bit(target);
        if self.wants(level, bit) {
            DebugSink::record(self, level, target, line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Everything waiting for `slot`, as the socket side would write it.
    fn sent(c: &mut DebugClients, slot: usize) -> String {
        let (a, b) = c.output(slot);
        let bytes = [a, b].concat();
        c.consume(slot, bytes.len());
        String::from_utf8(bytes).unwrap()
    }

    fn peer(n: u8) -> SocketAddr {
        SocketAddr::from(([192, 168, 1, n], 40_000))
    }

    #[test]
    fn clients_get_the_banner_then_every_record() {
        let mut c = DebugClients::new();
        c.set_mask(0x204);
        assert_eq!(c.client_count(), 0);
        assert_eq!(c.output(0), (&[][..], &[][..]));
        let a = c.free_slot().unwrap();
        assert!(c.admit(a, peer(1), 0));
        let b = c.free_slot().unwrap();
        assert_ne!(a, b);
        assert!(c.admit(b, peer(2), 0));
        let banner = sent(&mut c, a);
        assert!(banner.starts_with("siproxd-rs "), "{banner}");
        assert!(
            banner.ends_with("debug_level 0x0204 (sip rtp)\n"),
            "{banner}"
        );
        c.push_record("one\ntwo\n");
        assert_eq!(sent(&mut c, a), "one\ntwo\n");
        assert_eq!(sent(&mut c, b), format!("{banner}one\ntwo\n"));
        // A partial write leaves the rest for later.
        c.push_record("three");
        c.consume(a, 2);
        assert_eq!(sent(&mut c, a), "ree\n");
    }

    #[test]
    fn slots_run_out_and_a_closed_one_starts_clean() {
        let mut c = DebugClients::new();
        for n in 0..DEBUG_MAX_CLIENTS {
            let slot = c.free_slot().unwrap();
            assert!(c.admit(slot, peer(n as u8), 0));
        }
        assert_eq!(c.free_slot(), None);
        assert!(!c.admit(0, peer(99), 0), "a taken slot is not reused");
        c.push_record("left behind");
        assert!(c.close(1, 5_000, "disconnected"));
        assert!(!c.close(1, 5_000, "disconnected"));
        assert!(!c.is_connected(1));
        assert_eq!(c.output(1), (&[][..], &[][..]));
        assert_eq!(c.free_slot(), Some(1));
        assert!(c.admit(1, peer(50), 6_000));
        assert!(!sent(&mut c, 1).contains("left behind"));
        assert_eq!(c.client_count(), DEBUG_MAX_CLIENTS);
    }

    #[test]
    fn status_reports_backlog_drops_and_blocking() {
        let mut c = DebugClients::new();
        assert!(c.admit(0, peer(1), 0));
        let _ = sent(&mut c, 0);
        c.set_blocked(0, true);
        assert!(c.is_blocked(0));
        let line = "x".repeat(1000);
        let fit = DEBUG_CLIENT_BUFFER / 1001;
        for _ in 0..fit + 5 {
            c.push_record(&line);
        }
        let st = c.clients().next().unwrap();
        assert_eq!(st.peer, peer(1));
        assert!(st.blocked);
        assert_eq!(st.pending, fit * 1001);
        assert_eq!((st.dropped, st.lost), (5, 5));
        // Once the socket takes data again the marker follows the kept lines.
        c.set_blocked(0, false);
        let backlog = sent(&mut c, 0);
        assert_eq!(backlog.lines().count(), fit + 1);
        assert!(backlog.ends_with("x\n[5 lines dropped]\n"));
        c.push_record("after");
        assert_eq!(sent(&mut c, 0), "after\n");
        // Setting a slot nobody uses changes nothing.
        c.set_blocked(3, true);
        assert!(!c.is_blocked(3));
    }

    #[test]
    fn drain_log_moves_the_sink_queue_to_the_clients() {
        let mut c = DebugClients::new();
        assert!(!c.drain_log(), "nothing queued");
        assert!(c.admit(0, peer(1), 0));
        let _ = sent(&mut c, 0);
        // The admission itself was logged; the sink needs no logger to queue text.
        let _ = c.drain_log();
        let _ = sent(&mut c, 0);
        DebugSink.push_line("from the logger");
        assert!(c.drain_log());
        assert_eq!(sent(&mut c, 0), "from the logger\n");
        assert!(!c.drain_log());
    }

    fn drain(out: &mut LineRing) -> Vec<u8> {
        let (a, b) = out.pending();
        let bytes = [a, b].concat();
        out.consume(bytes.len());
        bytes
    }

    #[test]
    fn lines_come_out_in_order_across_the_wrap() {
        let mut out = LineRing::new(64);
        let mut got = Vec::new();
        for i in 0..40 {
            assert!(out.push_line(format!("line {i}").as_bytes()));
            // Consume a few bytes at a time so lines wrap at varying offsets.
            let (a, b) = out.pending();
            let n = (a.len() + b.len()).min(7 + i % 5);
            got.extend_from_slice(&[a, b].concat()[..n]);
            out.consume(n);
        }
        got.extend(drain(&mut out));
        let expect: String = (0..40).map(|i| format!("line {i}\n")).collect();
        assert_eq!(String::from_utf8(got).unwrap(), expect);
    }

    #[test]
    fn full_ring_drops_whole_lines_then_marks_the_gap() {
        let mut out = LineRing::new(100);
        let mut kept = 0;
        for i in 0..20 {
            if out.push_line(format!("message {i:03}").as_bytes()) {
                kept += 1;
            }
        }
        // 12 bytes a line: 8 fit in 100.
        assert_eq!(kept, 8);
        assert_eq!(out.dropped(), 12);
        let first = String::from_utf8(drain(&mut out)).unwrap();
        assert!(first.ends_with("message 007\n"), "{first}");
        assert_eq!(first.lines().count(), 8);
        // Space is back: the marker comes before any newer line.
        assert!(out.push_line(b"message 020"));
        assert_eq!(
            String::from_utf8(drain(&mut out)).unwrap(),
            "[12 lines dropped]\nmessage 020\n"
        );
        assert_eq!(out.dropped(), 0);
        assert_eq!(out.lost(), 12);
        out.clear();
        assert_eq!(out.lost(), 0);
    }

    #[test]
    fn marker_waits_until_it_fits_and_keeps_counting() {
        let mut out = LineRing::new(100);
        assert!(out.push_line(&[b'x'; 59]));
        assert!(out.push_line(&[b'w'; 38]));
        assert_eq!(out.len(), 99);
        assert!(!out.push_line(b"a"));
        out.consume(5);
        // 6 bytes free: "[1 lines dropped]\n" (18) does not fit, so "b" is dropped too.
        assert!(!out.push_line(b"b"));
        assert_eq!(out.dropped(), 2);
        out.consume(12);
        out.settle();
        assert_eq!(out.dropped(), 0);
        let rest = String::from_utf8(drain(&mut out)).unwrap();
        assert!(rest.ends_with("w\n[2 lines dropped]\n"), "{rest}");
    }

    #[test]
    fn overlong_lines_are_truncated_and_tiny_rings_do_not_panic() {
        let mut out = LineRing::new(100);
        assert!(out.push_line(&[b'y'; 500]));
        assert_eq!(out.len(), 100 - MARKER_MAX);
        let mut tiny = LineRing::new(3);
        tiny.push_line(b"abc");
        tiny.note_dropped(7);
        tiny.settle();
        let _ = drain(&mut tiny);
        let mut zero = LineRing::new(0);
        assert!(!zero.push_line(b"abc"));
        zero.settle();
        zero.consume(10);
        assert!(zero.is_empty());
    }

    #[test]
    fn one_trailing_newline_is_not_doubled() {
        let mut out = LineRing::new(64);
        out.push_line(b"a\n");
        out.push_line(b"");
        assert_eq!(drain(&mut out), b"a\n\n");
    }

    #[test]
    fn banner_names_version_pid_and_classes() {
        assert_eq!(
            banner("0.1.0", 812, 0x204).as_str(),
            "siproxd-rs 0.1.0 debug log, pid 812, debug_level 0x0204 (sip rtp)"
        );
        assert_eq!(
            banner("0.1.0", 1, 0).as_str(),
            "siproxd-rs 0.1.0 debug log, pid 1, debug_level 0x0000 (no debug classes)"
        );
        let all = banner("0.1.0", u32::MAX, u32::MAX);
        assert!(all.ends_with("rtpbabl)"), "{all}");
        let long = banner(&"v".repeat(400), 5, 4);
        assert_eq!(
            long.as_str(),
            "siproxd-rs debug log, pid 5, debug_level 0x0004"
        );
    }

    #[test]
    fn refusal_names_the_limit() {
        assert_eq!(
            refusal().as_str(),
            "siproxd-rs: too many debug clients (max 4)\n"
        );
    }

    #[test]
    fn listen_addr_prefers_debug_bind() {
        let inbound: IpAddr = "192.168.1.1".parse().unwrap();
        let bind: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(
            listen_addr(9999, inbound, None),
            "192.168.1.1:9999".parse().unwrap()
        );
        assert_eq!(
            listen_addr(9999, inbound, Some(bind)),
            "127.0.0.1:9999".parse().unwrap()
        );
    }

    fn queued() -> (String, u64) {
        let mut out = Vec::with_capacity(DEBUG_SINK_BUFFER);
        let dropped = sink::take(&mut out);
        (String::from_utf8(out).unwrap(), dropped)
    }

    // Each test runs on its own thread, so each has its own sink.
    #[test]
    fn sink_queues_only_while_a_client_listens() {
        DebugSink.push_line("before enable");
        sink::enable();
        DebugSink.push_line("nobody listens");
        assert_eq!(queued(), (String::new(), 0));
        assert!(!DebugSink.wants(Level::Error, None));
        sink::client_joined();
        DebugSink.push_line("one\n");
        DebugSink.record(Level::Info, "siproxd_rs::x", "two");
        DebugSink.record(Level::Debug, logging::SIP, "three\nfour");
        let (text, dropped) = queued();
        assert_eq!(dropped, 0);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert_eq!(lines[0], "one");
        // "HH:MM:SS.mmm " prefix, then the stderr labels.
        assert_eq!(lines[1].as_bytes()[2], b':');
        assert_eq!(&lines[1][12..], " INFO: two");
        assert_eq!(&lines[2][12..], " sip: three");
        assert_eq!(lines[3], "four");
        assert_eq!(queued(), (String::new(), 0));
        sink::disable(1);
        DebugSink.push_line("after disable");
        assert_eq!(queued(), (String::new(), 0));
    }

    #[test]
    fn sink_overflow_drops_everything_after_the_gap_until_drained() {
        sink::enable();
        sink::client_joined();
        let line = "z".repeat(99);
        let fit = DEBUG_SINK_BUFFER / 100;
        for _ in 0..fit + 3 {
            DebugSink.push_line(&line);
        }
        // A short record would still fit, but must not jump the gap.
        DebugSink.push_line("short");
        DebugSink.push_line("two\nlines");
        let (text, dropped) = queued();
        assert_eq!(text.lines().count(), fit);
        assert_eq!(dropped, 3 + 1 + 2);
        DebugSink.push_line("after drain");
        assert_eq!(queued(), ("after drain\n".to_string(), 0));
    }

    #[test]
    fn wants_follows_the_mask_for_debug_only() {
        sink::enable();
        sink::client_joined();
        sink::set_mask(0x204);
        assert!(DebugSink.wants(Level::Debug, logging::class_bit(logging::SIP)));
        assert!(DebugSink.wants(Level::Trace, Some(0x200)));
        assert!(!DebugSink.wants(Level::Debug, logging::class_bit(logging::NET)));
        assert!(!DebugSink.wants(Level::Debug, None));
        assert!(DebugSink.wants(Level::Warn, None));
        sink::client_left();
        assert!(!DebugSink.wants(Level::Warn, None));
    }

    #[test]
    fn a_record_logged_while_queueing_is_dropped_not_recursed() {
        sink::enable();
        sink::client_joined();
        sink::push("outer", |w| {
            // As if formatting the record logged again.
            DebugSink.push_line("inner");
            fmt::Write::write_str(w, "outer")
        });
        assert_eq!(queued(), ("outer\n".to_string(), 0));
    }
}
