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
/// Largest request sent over UDP where the next hop takes TCP too (RFC 3261 §18.1.1).
pub const SIP_UDP_MAX_REQUEST: usize = 1300;
/// Smallest datagram treated as SIP (siproxd's SEC_MINLEN); shorter ones are keepalives.
pub const SIP_MIN_MESSAGE: usize = 16;
/// Header lines indexed per message.
pub const SIP_MAX_HEADERS: usize = 128;
/// Longest header line accepted (siproxd's SEC_MAXLINELEN).
pub const SIP_MAX_LINE: usize = 2048;
/// Edits one `sip::Editor` holds for one outgoing message.
pub const SIP_MAX_EDITS: usize = 32;
/// Default Max-Forwards inserted when a request has none.
pub const SIP_DEFAULT_MAX_FORWARDS: u32 = 70;

/// Largest relayed RTP/RTCP datagram.
pub const RTP_BUFFER: usize = 1520;

/// Default table capacities (decisions §3), overridable by the `max_*` directives.
pub const DEFAULT_MAX_REGISTRATIONS: usize = 512;
pub const DEFAULT_MAX_RTP_STREAMS: usize = 1024;
pub const DEFAULT_MAX_TCP_CONNECTIONS: usize = 256;
/// Connections one source address may hold open to us (a phone needs one or two).
pub const TCP_PER_SOURCE: usize = 8;
/// A stream message must be complete this long after its first byte (slow senders, ms).
pub const TCP_MESSAGE_DEADLINE_MS: u64 = 10_000;
/// Bytes queued for one connection before its peer counts as not reading.
pub const TCP_WRITE_QUEUE: usize = 256 * 1024;
/// Bytes read from one TCP connection per turn of the event loop: a peer that writes without
/// pause must not hold the loop (UDP, RTP, other connections) or pile up answers.
pub const TCP_READ_BUDGET: usize = 4 * SIP_RECV_BUFFER;
/// Largest value accepted for the `max_*` table-size directives.
pub const MAX_TABLE_CAPACITY: usize = 65536;
/// Contacts kept per address-of-record (decisions §4).
pub const MAX_CONTACTS_PER_AOR: usize = 4;

/// Lengths of strings stored inside table slots.
pub const HOSTNAME_SIZE: usize = 128;
pub const URI_SIZE: usize = 256;
pub const CALLID_SIZE: usize = 256;
/// Parts of a URI kept in a registration slot (`registry::Uri`); the host uses `HOSTNAME_SIZE`.
pub const URI_SCHEME_SIZE: usize = 8;
pub const URI_USER_SIZE: usize = 64;
pub const URI_PARAMS_SIZE: usize = 96;

/// DNS cache (behaviour §3.2, §4.4).
pub const DNS_CACHE_SIZE: usize = 256;
pub const DNS_ATTEMPTS: u32 = 3;
pub const DNS_BAD_AGE_SECS: u64 = 600;
/// A failure counts towards the blacklist only if it follows the previous one within this time
/// (siproxd's DNS_GOOD_AGE).
pub const DNS_FAILURE_WINDOW_SECS: u64 = 60;
/// Cached answer lifetimes: the DNS TTL clamped to this range; failures are cached briefly.
pub const DNS_TTL_MIN_SECS: u32 = 10;
pub const DNS_TTL_MAX_SECS: u32 = 3600;
pub const DNS_NEGATIVE_SECS: u32 = 10;
/// Longest domain name in text form (RFC 1035: 255 octets on the wire).
pub const DNS_NAME_MAX: usize = 253;
/// Addresses returned per lookup, SRV targets followed per lookup, nameservers (glibc MAXNS).
pub const DNS_MAX_ADDRS: usize = 8;
pub const DNS_MAX_SRV: usize = 4;
pub const DNS_MAX_NAMESERVERS: usize = 3;
/// Concurrent lookups, queries on the wire, and callers waiting on lookups.
pub const DNS_MAX_JOBS: usize = 32;
pub const DNS_MAX_QUERIES: usize = 64;
pub const DNS_MAX_WAITERS: usize = 64;
/// /etc/hosts entries (address, name) kept; more are ignored with a warning.
pub const DNS_HOSTS_MAX: usize = 256;
/// Largest query built (12 header + 255 name + 4) and response read (plain UDP, no EDNS).
pub const DNS_QUERY_MAX: usize = 271;
pub const DNS_MESSAGE_MAX: usize = 512;

/// Debug port (decisions §8).
pub const DEBUG_MAX_CLIENTS: usize = 4;
pub const DEBUG_CLIENT_BUFFER: usize = 64 * 1024;
/// Log text queued between two event-loop turns on its way to the debug clients.
pub const DEBUG_SINK_BUFFER: usize = 64 * 1024;
/// Listen backlog of the debug port: room for a burst of connects until the loop accepts them.
pub const DEBUG_LISTEN_BACKLOG: i32 = 8;

/// SDP bodies (module `sdp`): lines indexed per body, media sections per body, and edits one
/// rewrite may hold (a removed line, a replaced address or port, an inserted line each count one).
/// The relay rewrite edits each line once, plus per media section an inserted `c=` and the
/// `a=rtcp:` address beside its port: so every body that parses can be relayed.
pub const SDP_MAX_LINES: usize = 256;
pub const SDP_MAX_MEDIA: usize = 16;
pub const SDP_MAX_EDITS: usize = SDP_MAX_LINES + 2 * SDP_MAX_MEDIA;

/// RTP relay (behaviour §5.4): longest client id (`user@host`) kept per half-stream; longer ones
/// are truncated (they only tell apart the two legs of a call that passes siproxd twice).
pub const RTP_CLIENT_ID_SIZE: usize = 128;
/// Silence of a latched RTP/RTCP source after which another source may take over (decisions §6).
pub const RTP_RELATCH_SILENCE_MS: u64 = 2_000;
/// Floor for `rtp_timeout`: siproxd's `rtp_timeout = 0` killed streams on its next ~10 s aging
/// pass rather than at once, so 0 (or anything smaller) behaves as 10 s.
pub const RTP_MIN_TIMEOUT_SECS: u32 = 10;
/// Upper bound of `max_rtp_streams`, so every socket token (`slot * 2 + 1`) fits a `u32`.
pub const RTP_MAX_STREAMS: usize = 1 << 20;
/// First mio token of the relay's sockets (`net::relay`): well above the event loop's fixed and
/// per-connection tokens; the highest relay token still fits a 32-bit `usize`.
pub const RELAY_TOKEN_BASE: usize = 1 << 24;
/// First mio token of the SIP TCP connections (one per slot, below the relay's).
pub const TCP_TOKEN_BASE: usize = 1 << 20;
/// Descriptors kept for everything but relay sockets (SIP, DNS, netlink, debug port, TCP) when
/// sizing RLIMIT_NOFILE.
pub const FD_RESERVE: u64 = 64;

/// Event loop (decisions §3).
/// Readiness events taken per poll call.
pub const POLL_EVENTS: usize = 64;
/// Deadlines the event loop can hold at once.
pub const MAX_TIMERS: usize = 16;
/// How often a dynamic `if_outbound` (an interface name) is re-checked for a new address
/// where netlink notifications are unavailable.
pub const IFACE_RECHECK_MS: u64 = 5_000;

/// Status snapshot (module `status`): nesting accepted when reading it back, and the largest
/// status file `--status` reads (65536 registrations and streams fit well within it).
pub const STATUS_JSON_MAX_DEPTH: usize = 32;
pub const STATUS_FILE_MAX: u64 = 64 * 1024 * 1024;
/// Saving after a change (module `fsutil`, `SaveSchedule`): wait this long so a burst of
/// changes is written once, and never write more often than the minimum interval.
pub const SAVE_DELAY_MS: u64 = 2000;
pub const SAVE_MIN_INTERVAL_MS: u64 = 1000;

/// plugin_stun: a request not answered is sent again after this long (siproxd: 10 s); the
/// largest answer looked at (a Binding answer is well under 100 bytes).
pub const STUN_RETRY_MS: u64 = 10_000;
pub const STUN_MAX_MESSAGE: usize = 548;

/// A URI a plugin builds (a 302 Contact): the longest header line and room for the
/// loop-prevention marker. A longer result is not used: the request goes on unchanged, with a
/// warning. Plugins hold their buffers at this size, so nothing grows per message.
pub const PLUGIN_URI_MAX: usize = SIP_MAX_LINE + 32;

/// Forwarded messages waiting for their next hop's DNS answer (proxy core); more are dropped
/// and counted.
pub const PROXY_DNS_PENDING: usize = 64;

/// plugin_blacklist (module `plugins::blacklist`): sources with failed registrations kept,
/// REGISTERs with credentials whose answer is awaited, and manual entries (addresses or
/// networks) read from the manual file.
pub const BLACKLIST_ENTRIES: usize = 256;
pub const BLACKLIST_WATCH: usize = 64;
pub const BLACKLIST_MANUAL: usize = 256;
/// `wan_request_rate_limit` (module `ratelimit`): WAN sources tracked at once.
pub const RATE_LIMIT_SOURCES: usize = 64;
