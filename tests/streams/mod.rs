//! The relay tests' stream requests: one caller, one call direction, only what a test varies.
#![allow(dead_code)] // each test binary uses part of this module
#![allow(clippy::unwrap_used)] // test helpers: a failed set-up panics, as a test should

use siproxd_rs::rtp::{ClientId, StreamDirection, StreamRequest};
use std::net::SocketAddr;

/// A request for stream 0 of `call_id` (alice's, outgoing call) towards `remote`, relayed on
/// `local` (an IP address literal).
pub fn req<'a>(
    call_id: &'a str,
    dir: StreamDirection,
    local: &str,
    remote: SocketAddr,
) -> StreamRequest<'a> {
    StreamRequest {
        call_id,
        client_id: ClientId::new("alice@example.com", remote.ip()),
        cseq: 1,
        stream_dir: dir,
        call_dir: StreamDirection::Outgoing,
        media_index: 0,
        local_ip: local.parse().unwrap(),
        remote,
        remote_rtcp_port: None,
        media_info: None,
    }
}
