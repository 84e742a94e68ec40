//! Every capacity and size bound of siproxd-rs, in one place.
//!
//! Tables are allocated once at start with these sizes (or the configured `max_*` values);
//! nothing grows per packet.

/// Largest SIP message handled over UDP (bytes); larger datagrams are dropped.
pub const SIP_MAX_MESSAGE: usize = 16 * 1024;
/// Receive buffer for one UDP datagram (one more than the largest message, to detect truncation).
pub const SIP_RECV_BUFFER: usize = SIP_MAX_MESSAGE + 1;
/// Output buffer a rewritten message is written into (rewriting can grow a message).
pub const SIP_SEND_BUFFER: usize = SIP_MAX_MESSAGE + 2048;
/// Smallest datagram treated as SIP (siproxd's SEC_MINLEN); shorter ones are keepalives.
pub const SIP_MIN_MESSAGE: usize = 16;
/// Header lines indexed per message.
pub const SIP_MAX_HEADERS: usize = 128;
/// Longest header line accepted (siproxd's SEC_MAXLINELEN).
pub const SIP_MAX_LINE: usize = 2048;
/// Default Max-Forwards inserted when a request has none.
pub const SIP_DEFAULT_MAX_FORWARDS: u32 = 70;

/// Largest relayed RTP/RTCP datagram.
pub const RTP_BUFFER: usize = 1520;

/// Default table capacities (decisions §3), overridable by the `max_*` directives.
pub const DEFAULT_MAX_REGISTRATIONS: usize = 512;
pub const DEFAULT_MAX_RTP_STREAMS: usize = 1024;
pub const DEFAULT_MAX_TCP_CONNECTIONS: usize = 256;
/// Contacts kept per address-of-record (decisions §4).
pub const MAX_CONTACTS_PER_AOR: usize = 4;

/// Lengths of strings stored inside table slots.
pub const HOSTNAME_SIZE: usize = 128;
pub const URI_SIZE: usize = 256;
pub const CALLID_SIZE: usize = 256;

/// DNS cache (behaviour §3.2, §4.4).
pub const DNS_CACHE_SIZE: usize = 256;
pub const DNS_ATTEMPTS: u32 = 3;
pub const DNS_BAD_AGE_SECS: u64 = 600;

/// Debug port (decisions §8).
pub const DEBUG_MAX_CLIENTS: usize = 4;
pub const DEBUG_CLIENT_BUFFER: usize = 64 * 1024;

/// Event loop (decisions §3).
/// Readiness events taken per poll call.
pub const POLL_EVENTS: usize = 64;
/// Deadlines the event loop can hold at once.
pub const MAX_TIMERS: usize = 16;
/// How often a dynamic `if_outbound` (an interface name) is re-checked for a new address
/// where netlink notifications are unavailable.
pub const IFACE_RECHECK_MS: u64 = 5_000;
