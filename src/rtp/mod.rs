//! RTP relay core, sans-IO (behaviour §5.4–§5.8, decisions §6).
//!
//! A [`Table`] of half-streams (one per media stream and direction) allocated once. The SDP
//! rewriter opens halves with [`Table::open`], giving a [`RelaySockets`] the table asks to bind
//! the proposed port pair. The shell registers each half's sockets under [`Token::rtp`] and
//! [`Token::rtcp`] of the half's [`SlotId`], and for every datagram calls [`Table::on_packet`],
//! which answers "send these bytes from socket `out` to `dst`" or "drop". Teardown (BYE/CANCEL,
//! error responses, `rtp_timeout`) closes halves through the same [`RelaySockets`].
//!
//! Time is `now` in milliseconds of any monotonic clock, passed in by the caller.
//!
//! What the shell does:
//! * implement [`RelaySockets`]: bind/close the two UDP sockets of a slot, registered in its
//!   poll under the slot's [`Token`]s (offset into its own token space);
//! * on readiness of a relay socket, drain it: `recv_from` into one preallocated
//!   `limits::RTP_BUFFER`, [`Table::on_packet`], and on [`Verdict::Forward`] `send_to` the
//!   bytes from the socket of `out` to `dst`; a send error that is not
//!   [`send_error_is_transient`] closes the receiving slot with [`Table::close`];
//! * wake at [`Table::next_deadline`] and call [`Table::expire`];
//! * at start, log [`dejitter_warning`] if it returns one; at shutdown, [`Table::close_all`].
//!
//! Data path of one call (behaviour §11 tests 43–45): the outgoing INVITE opens half E1 on
//! O:7070 whose remote is A; the 200 OK opens E2 on I:7072 whose remote is B. A datagram from
//! A arriving on E2's socket leaves from E1's socket towards E2's destination (B), and vice
//! versa, so each endpoint talks to one relay port (symmetric RTP).

mod client_id;
mod counters;
mod dejitter;
mod latch;
mod media_info;
mod ports;
mod send_error;
mod table;

pub use client_id::ClientId;
pub use counters::{HalfCounters, PacketDrop, TableStats};
pub use dejitter::dejitter_warning;
pub use latch::{is_publicly_routable, may_latch};
pub use media_info::{MediaInfo, CODEC_NAME_SIZE, MEDIA_KIND_SIZE};
pub use ports::PortAllocator;
pub use send_error::send_error_is_transient;
pub use table::{Half, OpenError, Opened, StreamRequest, Table, Verdict};

use std::net::SocketAddr;

/// Which way a relayed stream or its call travels (behaviour §5.2): for a half-stream, where
/// media arriving on its local port goes (`Incoming` = Internet → LAN); for a call, which way
/// its INVITE went. Not `proxy::Direction`, which also knows the registration and `Unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamDirection {
    Incoming,
    Outgoing,
}

impl StreamDirection {
    /// `incoming` / `outgoing`, in logs and the status snapshot.
    pub fn name(self) -> &'static str {
        match self {
            StreamDirection::Incoming => "incoming",
            StreamDirection::Outgoing => "outgoing",
        }
    }

    pub fn opposite(self) -> StreamDirection {
        match self {
            StreamDirection::Incoming => StreamDirection::Outgoing,
            StreamDirection::Outgoing => StreamDirection::Incoming,
        }
    }
}

impl std::fmt::Display for StreamDirection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Index of a half-stream in the table; stable while the half is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SlotId(pub u32);

impl SlotId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Which of a half's two sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Rtp,
    Rtcp,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Rtp => "RTP",
            Kind::Rtcp => "RTCP",
        })
    }
}

/// Identifies one relay socket: `slot * 2` for RTP, `slot * 2 + 1` for RTCP. The shell uses it
/// (offset into its own token space) as the mio token of the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Token(pub u32);

impl Token {
    pub fn rtp(slot: SlotId) -> Token {
        Token(slot.0.wrapping_mul(2))
    }

    pub fn rtcp(slot: SlotId) -> Token {
        Token(slot.0.wrapping_mul(2) | 1)
    }

    pub fn new(slot: SlotId, kind: Kind) -> Token {
        match kind {
            Kind::Rtp => Token::rtp(slot),
            Kind::Rtcp => Token::rtcp(slot),
        }
    }

    pub fn slot(self) -> SlotId {
        SlotId(self.0 / 2)
    }

    pub fn kind(self) -> Kind {
        if self.0 & 1 == 0 {
            Kind::Rtp
        } else {
            Kind::Rtcp
        }
    }
}

/// The socket operations the table needs; implemented by the shell (and by fakes in tests).
pub trait RelaySockets {
    /// Bind the RTP socket of `slot` on `rtp` and its RTCP socket on the same address at port
    /// `rtp.port() + 1` (non-blocking UDP, SO_REUSEADDR, `rtp_dscp` on RTP), registered under
    /// `Token::rtp(slot)` / `Token::rtcp(slot)`. Return `false` if either bind fails, leaving
    /// neither open; the table then tries the next port pair.
    fn open_pair(&mut self, slot: SlotId, rtp: SocketAddr) -> bool;

    /// Close both sockets of `slot` (bound on `rtp` and `rtp.port() + 1`).
    fn close_pair(&mut self, slot: SlotId, rtp: SocketAddr);
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn log_names() {
        assert_eq!(StreamDirection::Incoming.to_string(), "incoming");
        assert_eq!(StreamDirection::Outgoing.to_string(), "outgoing");
        assert_eq!(format!("{} {}", Kind::Rtp, Kind::Rtcp), "RTP RTCP");
        let fwd = table::Verdict::Forward {
            out: Token(5),
            dst: "192.0.2.1:4000".parse().unwrap(),
        };
        // the same text as the derived Debug (the rtpbabl log line is grepped by tests)
        assert_eq!(fwd.to_string(), format!("{fwd:?}"));
        assert_eq!(
            fwd.to_string(),
            "Forward { out: Token(5), dst: 192.0.2.1:4000 }"
        );
        let drop = table::Verdict::Drop(counters::PacketDrop::ForeignSource);
        assert_eq!(drop.to_string(), "Drop(ForeignSource)");
        assert_eq!(drop.to_string(), format!("{drop:?}"));
        let id = crate::sansio::ConnId {
            slot: 4,
            generation: 9,
        };
        assert_eq!(id.to_string(), "conn 4.9");
    }

    #[test]
    fn token_round_trips_slot_and_kind() {
        for s in [0u32, 1, 7, 1023, (1 << 20) - 1] {
            let slot = SlotId(s);
            assert_eq!(Token::rtp(slot).slot(), slot);
            assert_eq!(Token::rtcp(slot).slot(), slot);
            assert_eq!(Token::rtp(slot).kind(), Kind::Rtp);
            assert_eq!(Token::rtcp(slot).kind(), Kind::Rtcp);
            assert_eq!(Token::new(slot, Kind::Rtcp), Token::rtcp(slot));
            assert_ne!(Token::rtp(slot), Token::rtcp(slot));
        }
        assert_eq!(Token::rtcp(SlotId(3)), Token(7));
    }

    #[test]
    fn direction_opposite() {
        assert_eq!(
            StreamDirection::Incoming.opposite(),
            StreamDirection::Outgoing
        );
        assert_eq!(
            StreamDirection::Outgoing.opposite(),
            StreamDirection::Incoming
        );
    }
}
