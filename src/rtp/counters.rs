//! Per-half-stream and table-wide relay counters (for the status snapshot, decisions §7).
//!
//! Plain `u64` fields, not atomics (32-bit MIPS has no 64-bit atomics; the relay is
//! single-threaded). They wrap rather than panic.

/// Why a datagram was not relayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketDrop {
    /// The token names no open half-stream (stale event after close, or a shell bug).
    UnknownToken,
    /// Zero-length datagram.
    Empty,
    /// The opposite half does not exist yet (media before the answer's SDP).
    NoPeer,
    /// Source is not the latched (or signalled) endpoint: anti-hijack (decisions §6).
    ForeignSource,
    /// No usable destination: the endpoint signalled hold (`0.0.0.0`) or port 0.
    NoDestination,
}

/// The variant's name, as the rtpbabl log has always shown it (`Drop(ForeignSource)`).
impl std::fmt::Display for PacketDrop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PacketDrop::UnknownToken => "UnknownToken",
            PacketDrop::Empty => "Empty",
            PacketDrop::NoPeer => "NoPeer",
            PacketDrop::ForeignSource => "ForeignSource",
            PacketDrop::NoDestination => "NoDestination",
        })
    }
}

/// Traffic of one half-stream: datagrams that arrived on its RTP/RTCP sockets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HalfCounters {
    /// Datagrams forwarded.
    pub packets: u64,
    /// Payload bytes forwarded.
    pub bytes: u64,
    pub dropped_empty: u64,
    pub dropped_no_peer: u64,
    pub dropped_foreign_source: u64,
    pub dropped_no_destination: u64,
}

impl HalfCounters {
    pub fn forwarded(&mut self, len: usize) {
        self.packets = self.packets.wrapping_add(1);
        self.bytes = self.bytes.wrapping_add(len as u64);
    }

    pub fn dropped(&mut self, reason: PacketDrop) {
        let c = match reason {
            PacketDrop::Empty => &mut self.dropped_empty,
            PacketDrop::NoPeer => &mut self.dropped_no_peer,
            PacketDrop::ForeignSource => &mut self.dropped_foreign_source,
            PacketDrop::NoDestination => &mut self.dropped_no_destination,
            // Not attributable to a half; counted in `TableStats`.
            PacketDrop::UnknownToken => return,
        };
        *c = c.wrapping_add(1);
    }

    /// All drops of this half.
    pub fn dropped_total(&self) -> u64 {
        self.dropped_empty
            .wrapping_add(self.dropped_no_peer)
            .wrapping_add(self.dropped_foreign_source)
            .wrapping_add(self.dropped_no_destination)
    }
}

/// Table-wide events, including those of half-streams already closed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableStats {
    /// Half-streams opened with new ports.
    pub opened: u64,
    /// Open requests answered from an existing half (retransmission, re-INVITE).
    pub reused: u64,
    /// Half-streams closed for any reason (including expiry).
    pub closed: u64,
    /// Half-streams closed by `rtp_timeout`.
    pub expired: u64,
    /// Open requests refused: no free slot.
    pub table_full: u64,
    /// Open requests refused: no port pair could be bound.
    pub ports_exhausted: u64,
    /// Bind attempts the shell reported as failed.
    pub bind_failures: u64,
    /// Datagrams for a token with no open half.
    pub unknown_token: u64,
    /// Latch set or moved (first packet of an endpoint, re-latch).
    pub latches: u64,
}

/// Adds one to a counter, wrapping.
pub(crate) fn bump(c: &mut u64) {
    *c = c.wrapping_add(1);
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_and_dropped_accumulate_by_reason() {
        let mut c = HalfCounters::default();
        c.forwarded(172);
        c.forwarded(100);
        c.dropped(PacketDrop::ForeignSource);
        c.dropped(PacketDrop::ForeignSource);
        c.dropped(PacketDrop::Empty);
        c.dropped(PacketDrop::NoPeer);
        c.dropped(PacketDrop::NoDestination);
        c.dropped(PacketDrop::UnknownToken);
        assert_eq!(c.packets, 2);
        assert_eq!(c.bytes, 272);
        assert_eq!(c.dropped_foreign_source, 2);
        assert_eq!(c.dropped_empty, 1);
        assert_eq!(c.dropped_no_peer, 1);
        assert_eq!(c.dropped_no_destination, 1);
        assert_eq!(c.dropped_total(), 5);
    }

    #[test]
    fn counters_wrap_instead_of_panicking() {
        let mut c = HalfCounters {
            packets: u64::MAX,
            bytes: u64::MAX,
            ..HalfCounters::default()
        };
        c.forwarded(1);
        assert_eq!(c.packets, 0);
        assert_eq!(c.bytes, 0);
    }
}
