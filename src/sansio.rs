//! The one shape every sans-IO core has (in the style of str0m and quinn-proto): inputs go in
//! through `handle_*` methods that take `now` (monotonic milliseconds) and bytes; what the core
//! wants done comes out of `poll_output`, one [`Output`] at a time, until it says when it next
//! wants to be woken ([`Output::Timeout`]). The shell (`net/`) owns sockets and the clock and
//! only dispatches: it never decides which event changes which core's deadline.

use std::net::SocketAddr;

use crate::sip::Framing;

/// The wire transport of a message (not its framing, see [`Transport::framing`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    /// How messages are delimited on this transport.
    pub fn framing(self) -> Framing {
        match self {
            Transport::Udp => Framing::Datagram,
            Transport::Tcp => Framing::Stream,
        }
    }

    /// The transport a Via token or `transport=` parameter names (UDP and TCP; others, such
    /// as TLS or SCTP, are not spoken here).
    pub fn from_token(token: &[u8]) -> Option<Transport> {
        if token.eq_ignore_ascii_case(b"UDP") {
            Some(Transport::Udp)
        } else if token.eq_ignore_ascii_case(b"TCP") {
            Some(Transport::Tcp)
        } else {
            None
        }
    }

    /// The transport token of a Via header (`SIP/2.0/UDP`).
    pub fn via_token(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        }
    }
}

/// A stream connection of the shell's connection table (index of its slot and a generation,
/// so that a reused slot is never mistaken for the connection that was closed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnId {
    pub slot: u32,
    pub generation: u32,
}

/// `conn <slot>.<generation>` in logs.
impl std::fmt::Display for ConnId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "conn {}.{}", self.slot, self.generation)
    }
}

/// One datagram or stream message to send. The bytes are in the buffer that `poll_output`
/// was given, `..len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    /// The local address to send from (the shell picks the socket bound to it).
    pub source: SocketAddr,
    pub destination: SocketAddr,
    pub transport: Transport,
    /// The connection to send on; `None` for UDP, or for a stream the shell must open (or
    /// find) towards `destination`.
    pub connection: Option<ConnId>,
    pub len: usize,
}

/// What a core wants done next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output<E> {
    /// Send these bytes.
    Transmit(Transmit),
    /// Something the shell (or another core) acts on.
    Event(E),
    /// Nothing more to do now; call `handle_timeout` at this instant (ms), if any. Always
    /// the last output of a drain.
    Timeout(Option<u64>),
}

/// A core without events of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoEvent {}
