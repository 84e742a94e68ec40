//! The whole proxy core: sequences of SIP messages from the LAN and the Internet, answers to
//! what the proxy sent, raw datagrams, clock, DNS and WAN-address steps through `Proxy` with
//! the RTP relay table (`common/proxy_sim`, shared with `tests/proxy_core_props.rs`).
//!
//! Invariants besides "no panic": at most `PROXY_DNS_PENDING + 8` outputs per step, each within
//! `SIP_SEND_BUFFER`; SIP outputs parse and leave from one of the proxy's addresses; nothing
//! sent from the outbound address to the Internet carries a LAN address outside the phone's
//! own lower Vias and the Call-ID (SDP included, when the relay is on).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common/proxy_sim/mod.rs"]
mod proxy_sim;

fuzz_target!(|data: &[u8]| {
    proxy_sim::steps::run(data, 64);
});
