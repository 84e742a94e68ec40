//! siproxd-rs: a SIP masquerading proxy for NAT routers.
//!
//! The modules below `net` are a sans-IO core: they take bytes, addresses and a `now` and
//! return actions. Only `net` (and `main.rs`) touch sockets, the clock and the filesystem.

pub mod acl;
pub mod auth;
pub mod config;
pub mod debug_log;
pub mod dns;
pub mod fsutil;
pub mod limits;
pub mod logging;
pub mod net;
pub mod process;
pub mod proxy;
pub mod registry;
pub mod rtp;
pub mod sansio;
pub mod sdp;
pub mod sip;
pub mod status;
