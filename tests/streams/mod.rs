//! The relay tests' stream requests: one caller, one call direction, only what a test varies.
#![allow(dead_code)] // each test binary uses part of this module

use siproxd_rs::rtp::{ClientId, Direction, StreamRequest};
use std::net::SocketAddr;

/// A request for stream 0 of `call_id` (alice's, outgoing call) towards `remote`, relayed on
/// `local` (an IP address literal).
pub fn req<'a>(
    call_id: &'a str,
    dir: Direction,
    local: &str,
    remote: SocketAddr,
) -> StreamRequest<'a> {
    StreamRequest {
        call_id,
        client_id: ClientId::new("alice@example.com", remote.ip()),
        cseq: 1,
        stream_dir: dir,
        call_dir: Direction::Outgoing,
        media_index: 0,
        local_ip: local.parse().unwrap(),
        remote,
        remote_rtcp_port: None,
        media_info: None,
    }
}
