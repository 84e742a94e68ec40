//! Inputs found by the fuzz targets (`fuzz/`, `scripts/fuzz.sh`) that showed a bug in a module
//! the fuzzing work does not own. Each test asserts the correct behaviour; a test marked
//! `#[ignore]` documents a bug still open (run them with `cargo test -- --ignored`).

use siproxd_rs::sdp::{rewrite_for_relay, Sdp, StreamRewrite};
use siproxd_rs::sip::{frame_stream, Framing, Message, StreamFrame};
use std::net::{IpAddr, Ipv4Addr};

const SESSION: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
const STREAM: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

/// Found by `sdp` on 2026-11-24: when the body's last line ends with a CR but no LF, the
/// relay rewrite appends the media-level `c=` it adds right after that CR, so the new line is
/// glued onto the `m=` line and the stream keeps the session address. (The same insertion
/// point serves `a=rtcp:` lines.)
#[test]
fn relay_connection_after_last_line_ending_in_bare_cr() {
    let body = b"v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 0\r";
    let sdp = Sdp::parse(body).unwrap();
    let streams = [StreamRewrite {
        address: STREAM,
        rtp_port: 5000,
        rtcp_port: None,
    }];
    let mut out = [0u8; 256];
    let n = rewrite_for_relay(&sdp, SESSION, &streams, false, &mut out).unwrap();
    let new = Sdp::parse(&out[..n]).unwrap();
    let stream = new.stream(0).unwrap();
    assert_eq!(
        stream.address.and_then(|a| a.ip),
        Some(STREAM),
        "rewritten body: {:?}",
        String::from_utf8_lossy(&out[..n])
    );
    assert_eq!(new.media(0).unwrap().format_list().count(), 1);
}

/// The same insertion point, reached through `a=rtcp:` (RTCP port not RTP + 1).
#[test]
fn relay_rtcp_after_last_line_ending_in_bare_cr() {
    let body = b"v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 0\r";
    let sdp = Sdp::parse(body).unwrap();
    let streams = [StreamRewrite {
        address: SESSION,
        rtp_port: 5000,
        rtcp_port: Some(7001),
    }];
    let mut out = [0u8; 256];
    let n = rewrite_for_relay(&sdp, SESSION, &streams, false, &mut out).unwrap();
    let new = Sdp::parse(&out[..n]).unwrap();
    assert_eq!(
        new.stream(0).unwrap().rtcp_port,
        Some(7001),
        "rewritten body: {:?}",
        String::from_utf8_lossy(&out[..n])
    );
}

/// Found by `sip_message` on 2026-11-24: a Content-Length whose value is on a continuation
/// line (legal header folding, RFC 3261 §7.3.1) is read by `Message::parse` but rejected by
/// `frame_stream`, so over TCP a message that parses would close the connection instead of
/// being framed.
#[test]
fn stream_framing_of_folded_content_length() {
    let msg = b"OPTIONS sip:a@example.com SIP/2.0\r\nContent-Length:\r\n 0\r\n\r\n";
    let parsed = Message::parse(msg, Framing::Stream).unwrap();
    assert_eq!(parsed.content_length(), Some(0));
    assert_eq!(frame_stream(msg), Ok(StreamFrame::Message(msg.len())));
}
