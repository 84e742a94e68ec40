//! siproxd-rs: a SIP masquerading proxy for NAT routers.
//!
//! The modules below `net` are a sans-IO core: they take bytes, addresses and a `now` and
//! return actions. Only `net` (and `main.rs`) touch sockets, the clock and the filesystem.
//!
//! References in comments: `behaviour §N` (or a bare `§N` about siproxd's behaviour) is
//! section N of `docs/BEHAVIOUR.md`, what siproxd does and what siproxd-rs keeps of it;
//! `decisions §N` is section N of `docs/DECISIONS.md`, where siproxd-rs differs (and wins over
//! BEHAVIOUR.md); `§11 test N` is test case N of `docs/BEHAVIOUR.md` §11. `RFC NNNN §N` is a
//! section of that RFC.

pub mod acl;
pub mod auth;
pub mod config;
pub mod debug_log;
pub mod dns;
pub mod fsutil;
pub mod limits;
pub mod logging;
pub mod net;
pub mod plugins;
pub mod process;
pub mod proxy;
pub mod ratelimit;
pub mod registry;
pub mod rtp;
pub mod sansio;
pub mod sdp;
pub mod sip;
pub mod status;
pub mod stream;
