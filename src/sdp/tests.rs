//! Unit tests of the SDP view, the rewriter and the relay rewrite.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use super::*;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const BASIC: &[u8] = b"v=0\r\n\
o=alice 2890844526 2890844527 IN IP4 192.168.1.2\r\n\
s=call\r\n\
c=IN IP4 192.168.1.2\r\n\
t=0 0\r\n\
m=audio 49170 RTP/AVP 0 8 18 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:18 G729/8000\r\n\
a=fmtp:18 annexb=no\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
m=video 51372/2 RTP/AVP 31\r\n\
c=IN IP4 10.0.0.7\r\n\
a=rtcp:53020 IN IP4 10.0.0.7\r\n\
a=recvonly\r\n";

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

fn emit(rw: &Rewriter<'_, '_>) -> Vec<u8> {
    let mut out = vec![0u8; 4096];
    let n = rw.emit(&mut out).unwrap();
    assert_eq!(n, rw.emitted_len());
    out.truncate(n);
    out
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn indexes_crlf_lf_and_unterminated_lines() {
    for body in [
        &b"v=0\r\ns=x\r\nt=0 0\r\n"[..],
        b"v=0\ns=x\nt=0 0\n",
        b"v=0\ns=x\r\nt=0 0",
    ] {
        let sdp = Sdp::parse(body).unwrap();
        assert_eq!(sdp.line_count(), 3);
        assert_eq!(sdp.line(1), Some((b's', &b"x"[..])));
        assert_eq!(sdp.line(2), Some((b't', &b"0 0"[..])));
        assert_eq!(sdp.session_line(b's'), Some(&b"x"[..]));
    }
    // A trailing blank line is tolerated and counted.
    let sdp = Sdp::parse(b"v=0\r\ns=x\r\n\r\n").unwrap();
    assert_eq!(sdp.line(2), Some((0, &b""[..])));
}

#[test]
fn structural_errors() {
    assert_eq!(Sdp::parse(b"").unwrap_err(), SdpError::Empty);
    assert_eq!(Sdp::parse(b"\r\n\r\n").unwrap_err(), SdpError::Empty);
    assert_eq!(
        Sdp::parse(b"s=x\r\nv=0\r\n").unwrap_err(),
        SdpError::MissingVersion
    );
    assert_eq!(Sdp::parse(b"v=1\r\n").unwrap_err(), SdpError::BadVersion);
    assert_eq!(
        Sdp::parse(b"v=0\r\nhello\r\n").unwrap_err(),
        SdpError::BadLine { line: 2 }
    );
    assert_eq!(
        Sdp::parse(b"v=0\r\n=x\r\n").unwrap_err(),
        SdpError::BadLine { line: 2 }
    );
    let mut many = b"v=0\r\n".to_vec();
    for _ in 0..crate::limits::SDP_MAX_LINES {
        many.extend_from_slice(b"a=x\r\n");
    }
    assert_eq!(Sdp::parse(&many).unwrap_err(), SdpError::TooManyLines);
    let mut media = b"v=0\r\nc=IN IP4 1.2.3.4\r\n".to_vec();
    for _ in 0..=crate::limits::SDP_MAX_MEDIA {
        media.extend_from_slice(b"m=audio 1000 RTP/AVP 0\r\n");
    }
    assert_eq!(Sdp::parse(&media).unwrap_err(), SdpError::TooManyMedia);
}

#[test]
fn origin_fields() {
    let sdp = Sdp::parse(BASIC).unwrap();
    let o = sdp.origin().unwrap();
    assert_eq!(o.username, b"alice");
    assert_eq!(o.session_id, b"2890844526");
    assert_eq!(o.session_version, b"2890844527");
    assert_eq!(o.address.addr_type, AddrType::Ip4);
    assert_eq!(o.address.host, b"192.168.1.2");
    assert_eq!(o.address.ip, Some(v4(192, 168, 1, 2)));

    let bad = |b: &[u8]| Sdp::parse(b).unwrap_err();
    assert_eq!(
        bad(b"v=0\r\no=a 1 2 IN IP4\r\n"),
        SdpError::BadOrigin { line: 2 }
    );
    assert_eq!(
        bad(b"v=0\r\no=a 1 2 IN IP4 1.2.3.4 x\r\n"),
        SdpError::BadOrigin { line: 2 }
    );
    assert_eq!(
        bad(b"v=0\r\no=a 1 2 XX IP4 1.2.3.4\r\n"),
        SdpError::UnknownNetType { line: 2 }
    );
    assert_eq!(
        bad(b"v=0\r\no=a 1 2 IN IP5 1.2.3.4\r\n"),
        SdpError::UnknownAddrType { line: 2 }
    );
    assert_eq!(
        bad(b"v=0\r\no=a 1 2 IN IP4 1.2.3.\r\n"),
        SdpError::BadOrigin { line: 2 }
    );
}

#[test]
fn connection_forms() {
    let c = |v: &'static [u8]| {
        let mut b = b"v=0\r\nc=".to_vec();
        b.extend_from_slice(v);
        let sdp = Sdp::parse(Box::leak(b.into_boxed_slice())).map(|s| s.connection().copied());
        sdp
    };
    let a = c(b"IN IP4 0.0.0.0").unwrap().unwrap();
    assert!(a.is_unspecified());
    let a = c(b"IN IP6 fe80::1").unwrap().unwrap();
    assert_eq!(a.addr_type, AddrType::Ip6);
    assert_eq!(
        a.ip,
        Some(IpAddr::V6("fe80::1".parse::<Ipv6Addr>().unwrap()))
    );
    assert!(c(b"IN IP6 ::").unwrap().unwrap().is_unspecified());
    let a = c(b"IN IP4 224.2.1.1/127/3").unwrap().unwrap();
    assert_eq!(a.host, b"224.2.1.1");
    assert_eq!(a.suffix, Some(&b"127/3"[..]));
    let a = c(b"IN IP4 media.example.com").unwrap().unwrap();
    assert_eq!((a.host, a.ip), (&b"media.example.com"[..], None));
    let bad = SdpError::BadConnection { line: 2 };
    assert_eq!(c(b"IN IP4 fe80::1").unwrap_err(), bad);
    assert_eq!(c(b"IN IP6 1.2.3.4.5").unwrap_err(), bad);
    assert_eq!(c(b"IN IP4 1.2.3.4/").unwrap_err(), bad);
    assert_eq!(c(b"IN IP4 1.2.3.4/x").unwrap_err(), bad);
    assert_eq!(c(b"IN IP4").unwrap_err(), bad);
    assert_eq!(
        c(b"IN IPX 1.2.3.4").unwrap_err(),
        SdpError::UnknownAddrType { line: 2 }
    );
    assert_eq!(
        c(b"ATM NSAP 1").unwrap_err(),
        SdpError::UnknownNetType { line: 2 }
    );
}

#[test]
fn media_lines() {
    let sdp = Sdp::parse(BASIC).unwrap();
    assert_eq!(sdp.media_count(), 2);
    let a = sdp.media(0).unwrap();
    assert_eq!((a.media, a.port, a.port_count), (&b"audio"[..], 49170, 1));
    assert_eq!(a.proto, b"RTP/AVP");
    assert_eq!(a.formats, b"0 8 18 101");
    let f: Vec<_> = a.format_list().collect();
    assert_eq!(f, [&b"0"[..], b"8", b"18", b"101"]);
    assert!(a.connection.is_none() && a.is_rtp());
    let v = sdp.media(1).unwrap();
    assert_eq!((v.port, v.port_count), (51372, 2));
    assert_eq!(v.connection.unwrap().ip, Some(v4(10, 0, 0, 7)));
    assert!(sdp.media(2).is_none());

    let bad = |b: &[u8]| Sdp::parse(b).unwrap_err();
    assert_eq!(
        bad(b"v=0\r\nm=audio 5000\r\n"),
        SdpError::BadMedia { line: 2 }
    );
    assert_eq!(
        bad(b"v=0\r\nm=audio 65536 RTP/AVP 0\r\n"),
        SdpError::BadPort { line: 2 }
    );
    assert_eq!(
        bad(b"v=0\r\nm=audio -1 RTP/AVP 0\r\n"),
        SdpError::BadPort { line: 2 }
    );
    assert_eq!(
        bad(b"v=0\r\nm=audio 5000/0 RTP/AVP 0\r\n"),
        SdpError::BadMedia { line: 2 }
    );
    assert_eq!(
        bad(b"v=0\r\nm=audio 5000/x RTP/AVP 0\r\n"),
        SdpError::BadMedia { line: 2 }
    );
    let empty = Sdp::parse(b"v=0\r\nm=application 9 TCP/MSRP\r\n").unwrap();
    assert_eq!(empty.media(0).unwrap().formats, b"");
    assert!(!empty.media(0).unwrap().is_rtp());
}

#[test]
fn rtcp_and_mux() {
    let sdp = Sdp::parse(BASIC).unwrap();
    let r = sdp.media(1).unwrap().rtcp.unwrap();
    assert_eq!(r.port, 53020);
    assert_eq!(r.address.unwrap().ip, Some(v4(10, 0, 0, 7)));
    let sdp = Sdp::parse(
        b"v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 0\r\na=rtcp:4001\r\na=rtcp-mux\r\n",
    )
    .unwrap();
    let m = sdp.media(0).unwrap();
    assert_eq!(
        (m.rtcp.unwrap().port, m.rtcp.unwrap().address),
        (4001, None)
    );
    assert!(m.rtcp_mux);
    let bad = |b: &[u8]| Sdp::parse(b).unwrap_err();
    assert_eq!(
        bad(b"v=0\r\nm=audio 4 RTP/AVP 0\r\na=rtcp:\r\n"),
        SdpError::BadRtcp { line: 3 }
    );
    assert_eq!(
        bad(b"v=0\r\nm=audio 4 RTP/AVP 0\r\na=rtcp:x\r\n"),
        SdpError::BadPort { line: 3 }
    );
    assert_eq!(
        bad(b"v=0\r\nm=audio 4 RTP/AVP 0\r\na=rtcp:5 IN IP4\r\n"),
        SdpError::BadRtcp { line: 3 }
    );
}

#[test]
fn directions_media_wins_over_session() {
    let body = b"v=0\r\nc=IN IP4 1.2.3.4\r\na=sendonly\r\nm=audio 4000 RTP/AVP 0\r\nm=audio 4002 RTP/AVP 0\r\na=inactive\r\nm=audio 4004 RTP/AVP 0\r\na=recvonly\r\n";
    let sdp = Sdp::parse(body).unwrap();
    assert_eq!(sdp.direction(), Some(MediaDirection::SendOnly));
    let d: Vec<_> = (0..3).map(|i| sdp.stream(i).unwrap().direction).collect();
    assert_eq!(
        d,
        [
            MediaDirection::SendOnly,
            MediaDirection::Inactive,
            MediaDirection::RecvOnly
        ]
    );
    let hold: Vec<_> = (0..3).map(|i| sdp.stream(i).unwrap().is_hold).collect();
    assert_eq!(hold, [true, true, false]);
    let plain = Sdp::parse(BASIC).unwrap();
    assert_eq!(plain.stream(0).unwrap().direction, MediaDirection::SendRecv);
}

#[test]
fn stream_info_applies_session_defaults() {
    let sdp = Sdp::parse(BASIC).unwrap();
    let s = sdp.stream(0).unwrap();
    assert_eq!(s.address.unwrap().ip, Some(v4(192, 168, 1, 2)));
    assert_eq!(
        (s.port, s.rtcp_port, s.rtcp_mux),
        (49170, Some(49171), false)
    );
    assert!(!s.is_hold && !s.disabled);
    let s = sdp.stream(1).unwrap();
    assert_eq!(s.address.unwrap().ip, Some(v4(10, 0, 0, 7)));
    assert_eq!((s.port_count, s.rtcp_port), (2, Some(53020)));

    let sdp = Sdp::parse(
        b"v=0\r\nc=IN IP4 0.0.0.0\r\nm=audio 0 RTP/AVP 0\r\nm=audio 65535 RTP/AVP 0\r\n",
    )
    .unwrap();
    let s = sdp.stream(0).unwrap();
    assert!(s.is_hold && s.disabled);
    assert_eq!(sdp.stream(1).unwrap().rtcp_port, None);
    assert!(sdp.stream(2).is_none());
}

#[test]
fn ice_attributes() {
    let body = b"v=0\r\nc=IN IP4 1.2.3.4\r\na=ice-lite\r\na=ice-options:trickle\r\n\
m=audio 4000 RTP/AVP 0\r\na=ice-ufrag:F7gI\r\na=ice-pwd:x9cml\r\na=ice-mismatch\r\n\
a=candidate:1 1 UDP 2130706431 10.0.1.1 8998 typ host\r\n\
a=candidate:2 1 UDP 1694498815 192.0.2.3 45664 typ srflx raddr 10.0.1.1 rport 8998\r\n\
a=remote-candidates:1 192.0.2.3 45664\r\na=end-of-candidates\r\na=sendrecv\r\n";
    let sdp = Sdp::parse(body).unwrap();
    let s = sdp.ice(Section::Session);
    assert!(s.lite && s.options == Some(&b"trickle"[..]) && s.candidates == 0);
    let m = sdp.ice(Section::Media(0));
    assert_eq!((m.ufrag, m.pwd), (Some(&b"F7gI"[..]), Some(&b"x9cml"[..])));
    assert!(m.mismatch && m.end_of_candidates && !m.lite);
    assert_eq!(m.remote_candidates, Some(&b"1 192.0.2.3 45664"[..]));
    assert_eq!(m.candidates, 2);
    let c: Vec<_> = sdp.candidates(Section::Media(0)).collect();
    assert!(c[1].ends_with(b"rport 8998"));
    assert!(Sdp::parse(BASIC).unwrap().ice(Section::Media(0)).is_empty());

    let mut rw = Rewriter::new(&sdp);
    assert_eq!(rw.remove_ice(Section::Media(0)).unwrap(), 7);
    assert_eq!(rw.remove_ice(Section::Session).unwrap(), 2);
    assert_eq!(
        text(&emit(&rw)),
        "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 0\r\na=sendrecv\r\n"
    );
}

#[test]
fn rtpmap_fmtp_and_codec_match() {
    let sdp = Sdp::parse(BASIC).unwrap();
    let r = sdp.rtpmap(0, b"101").unwrap();
    assert_eq!(
        (r.encoding, r.clock_rate, r.params),
        (&b"telephone-event"[..], 8000, None)
    );
    assert_eq!(sdp.rtpmaps(0).count(), 3);
    assert_eq!(sdp.rtpmaps(7).count(), 0);
    assert_eq!(sdp.fmtp(0, b"18"), Some(&b"annexb=no"[..]));
    assert_eq!(sdp.fmtp(0, b"8"), None);
    // PT 8 has no rtpmap: its static name is used.
    assert_eq!(sdp.encoding_name(0, b"8"), Some(&b"PCMA"[..]));
    let g: Vec<_> = sdp.payload_types_matching(0, b"g729").collect();
    assert_eq!(g, [&b"18"[..]]);
    let p: Vec<_> = sdp.payload_types_matching(0, b"PCM").collect();
    assert_eq!(p, [&b"0"[..], b"8"]);
    assert_eq!(sdp.payload_types_matching(0, b"").count(), 0);
    let r = Sdp::parse(
        b"v=0\r\nm=audio 1 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:9 bad\r\n",
    )
    .unwrap();
    let o = r.rtpmap(0, b"111").unwrap();
    assert_eq!((o.clock_rate, o.params), (48000, Some(&b"2"[..])));
    assert_eq!(r.rtpmaps(0).count(), 1);
}

#[test]
fn no_edits_is_identical() {
    let sdp = Sdp::parse(BASIC).unwrap();
    assert_eq!(emit(&Rewriter::new(&sdp)), BASIC);
}

#[test]
fn each_edit_changes_only_its_bytes() {
    let sdp = Sdp::parse(BASIC).unwrap();
    let check = |f: &dyn Fn(&mut Rewriter<'_, '_>), from: &str, to: &str| {
        let mut rw = Rewriter::new(&sdp);
        f(&mut rw);
        let want = text(BASIC).replacen(from, to, 1);
        assert_ne!(want, text(BASIC), "{from}");
        assert_eq!(text(&emit(&rw)), want);
    };
    check(
        &|rw| rw.set_origin_address(v4(203, 0, 113, 9)).unwrap(),
        "2890844527 IN IP4 192.168.1.2",
        "2890844527 IN IP4 203.0.113.9",
    );
    check(
        &|rw| {
            rw.set_connection_address(Section::Session, v4(203, 0, 113, 9))
                .unwrap();
        },
        "c=IN IP4 192.168.1.2",
        "c=IN IP4 203.0.113.9",
    );
    check(
        &|rw| {
            rw.set_connection_address(Section::Media(1), "2001:db8::5".parse().unwrap())
                .unwrap();
        },
        "c=IN IP4 10.0.0.7",
        "c=IN IP6 2001:db8::5",
    );
    check(
        &|rw| rw.set_media_port(0, 7078).unwrap(),
        "audio 49170",
        "audio 7078",
    );
    check(
        &|rw| rw.set_media_port(1, 0).unwrap(),
        "video 51372/2",
        "video 0/2",
    );
    check(
        &|rw| rw.set_rtcp(1, 7081, Some(v4(203, 0, 113, 9))).unwrap(),
        "a=rtcp:53020 IN IP4 10.0.0.7",
        "a=rtcp:7081 IN IP4 203.0.113.9",
    );
    check(
        &|rw| rw.set_rtcp(1, 7081, None).unwrap(),
        "rtcp:53020",
        "rtcp:7081",
    );
    check(
        &|rw| {
            assert_eq!(
                rw.remove_attribute(Section::Media(1), b"recvonly").unwrap(),
                1
            )
        },
        "a=recvonly\r\n",
        "",
    );
    check(&|rw| rw.remove_line(2).unwrap(), "s=call\r\n", "");
    check(
        &|rw| rw.add_rtcp(0, 9000).unwrap(),
        "a=fmtp:101 0-15\r\n",
        "a=fmtp:101 0-15\r\na=rtcp:9000\r\n",
    );
    check(
        &|rw| rw.add_connection(0, v4(1, 2, 3, 4)).unwrap(),
        "RTP/AVP 0 8 18 101\r\n",
        "RTP/AVP 0 8 18 101\r\nc=IN IP4 1.2.3.4\r\n",
    );
}

#[test]
fn remove_payload_type_with_its_lines() {
    let sdp = Sdp::parse(BASIC).unwrap();
    let mut rw = Rewriter::new(&sdp);
    assert_eq!(rw.remove_payload_type(0, b"18").unwrap(), 2);
    assert_eq!(rw.remove_payload_type(0, b"0").unwrap(), 1);
    let out = text(&emit(&rw));
    let want = text(BASIC)
        .replace("RTP/AVP 0 8 18 101", "RTP/AVP 8 101")
        .replace("a=rtpmap:0 PCMU/8000\r\n", "")
        .replace("a=rtpmap:18 G729/8000\r\na=fmtp:18 annexb=no\r\n", "");
    assert_eq!(out, want);
    assert_eq!(
        rw.remove_payload_type(0, b"18").unwrap_err(),
        SdpError::EditConflict
    );
    assert_eq!(
        rw.remove_payload_type(0, b"9").unwrap_err(),
        SdpError::PayloadTypeNotFound
    );
    rw.remove_payload_type(0, b"8").unwrap();
    assert_eq!(
        rw.remove_payload_type(0, b"101").unwrap_err(),
        SdpError::LastPayloadType
    );
    assert_eq!(
        rw.remove_payload_type(5, b"0").unwrap_err(),
        SdpError::NoSuchMedia { media: 5 }
    );
}

#[test]
fn edit_errors() {
    let sdp = Sdp::parse(BASIC).unwrap();
    let mut rw = Rewriter::new(&sdp);
    assert_eq!(rw.set_rtcp(0, 1, None).unwrap_err(), SdpError::NoRtcp);
    assert_eq!(
        rw.set_connection_address(Section::Media(0), v4(1, 1, 1, 1))
            .unwrap_err(),
        SdpError::NoConnection
    );
    assert_eq!(
        rw.remove_line(99).unwrap_err(),
        SdpError::NoSuchLine { line: 100 }
    );
    rw.set_media_port(0, 1).unwrap();
    assert_eq!(rw.set_media_port(0, 2).unwrap_err(), SdpError::EditConflict);
    assert_eq!(rw.remove_line(5).unwrap_err(), SdpError::EditConflict);
    let mut small = [0u8; 20];
    assert_eq!(rw.emit(&mut small).unwrap_err(), SdpError::BufferTooSmall);
    let mut exact = vec![0u8; rw.emitted_len()];
    assert_eq!(rw.emit(&mut exact).unwrap(), exact.len());

    let none = Sdp::parse(b"v=0\r\ns=-\r\n").unwrap();
    let mut rw = Rewriter::new(&none);
    assert_eq!(
        rw.set_origin_address(v4(1, 1, 1, 1)).unwrap_err(),
        SdpError::NoOrigin
    );
    assert_eq!(
        rw.set_media_port(0, 1).unwrap_err(),
        SdpError::NoSuchMedia { media: 0 }
    );

    let mut lines = b"v=0\r\n".to_vec();
    for _ in 0..crate::limits::SDP_MAX_LINES - 1 {
        lines.extend_from_slice(b"a=x\r\n");
    }
    let sdp = Sdp::parse(&lines).unwrap();
    let mut rw = Rewriter::new(&sdp);
    // Every line of a full body can be removed within the edit capacity.
    assert_eq!(
        rw.remove_attribute(Section::Session, b"x").unwrap(),
        crate::limits::SDP_MAX_LINES - 1
    );
    assert_eq!(rw.remove_line(0), Ok(()));
    let one = Sdp::parse(b"v=0\r\nc=IN IP4 1.2.3.4\r\nm=a 1 RTP/AVP 0\r\n").unwrap();
    let mut rw = Rewriter::new(&one);
    for _ in 0..crate::limits::SDP_MAX_EDITS {
        rw.add_rtcp(0, 1).unwrap();
    }
    assert_eq!(rw.add_rtcp(0, 1).unwrap_err(), SdpError::TooManyEdits);
}

#[test]
fn inserted_line_after_unterminated_last_line() {
    let sdp = Sdp::parse(b"v=0\nc=IN IP4 1.2.3.4\nm=audio 5 RTP/AVP 0").unwrap();
    let mut rw = Rewriter::new(&sdp);
    rw.add_rtcp(0, 9).unwrap();
    assert_eq!(
        text(&emit(&rw)),
        "v=0\nc=IN IP4 1.2.3.4\nm=audio 5 RTP/AVP 0\na=rtcp:9"
    );
}

fn relay(
    body: &[u8],
    session: IpAddr,
    streams: &[StreamRewrite],
    ice: bool,
) -> Result<String, SdpError> {
    let sdp = Sdp::parse(body).unwrap();
    let mut out = vec![0u8; 4096];
    let n = rewrite_for_relay(&sdp, session, streams, ice, &mut out)?;
    Ok(text(&out[..n]))
}

fn stream(ip: IpAddr, rtp: u16, rtcp: Option<u16>) -> StreamRewrite {
    StreamRewrite {
        address: ip,
        rtp_port: rtp,
        rtcp_port: rtcp,
    }
}

#[test]
fn relay_rewrites_every_stream() {
    let pub_ip = v4(203, 0, 113, 9);
    let out = relay(
        BASIC,
        pub_ip,
        &[stream(pub_ip, 7070, None), stream(pub_ip, 7072, None)],
        true,
    )
    .unwrap();
    let want = text(BASIC)
        .replace("192.168.1.2", "203.0.113.9")
        .replace("10.0.0.7", "203.0.113.9")
        .replace("audio 49170", "audio 7070")
        .replace("video 51372/2", "video 7072/2")
        .replace("rtcp:53020", "rtcp:7073");
    assert_eq!(out, want);
}

#[test]
fn relay_adds_lines_when_defaults_no_longer_hold() {
    let pub_ip = v4(203, 0, 113, 9);
    let other = v4(198, 51, 100, 1);
    let out = relay(
        BASIC,
        pub_ip,
        &[
            stream(other, 7070, Some(7080)),
            stream(pub_ip, 7072, Some(7090)),
        ],
        false,
    )
    .unwrap();
    assert!(
        out.contains("m=audio 7070 RTP/AVP 0 8 18 101\r\nc=IN IP4 198.51.100.1\r\n"),
        "{out}"
    );
    assert!(
        out.contains("a=fmtp:101 0-15\r\na=rtcp:7080\r\nm=video"),
        "{out}"
    );
    assert!(out.contains("a=rtcp:7090 IN IP4 203.0.113.9\r\n"), "{out}");
    let re = Sdp::parse(out.as_bytes()).unwrap();
    let s = re.stream(0).unwrap();
    assert_eq!(
        (s.address.unwrap().ip, s.port, s.rtcp_port),
        (Some(other), 7070, Some(7080))
    );
}

#[test]
fn relay_keeps_hold_address_and_disabled_streams() {
    let body = b"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n\
m=audio 4000 RTP/AVP 0\r\na=rtcp:4001 IN IP4 0.0.0.0\r\na=sendonly\r\nm=video 0 RTP/AVP 31\r\nc=IN IP4 10.1.1.1\r\n";
    let pub_ip = v4(203, 0, 113, 9);
    let out = relay(
        body,
        pub_ip,
        &[stream(pub_ip, 7070, None), stream(pub_ip, 1, None)],
        true,
    )
    .unwrap();
    assert_eq!(
        out,
        "v=0\r\no=- 1 1 IN IP4 203.0.113.9\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n\
m=audio 7070 RTP/AVP 0\r\na=rtcp:7071 IN IP4 0.0.0.0\r\na=sendonly\r\nm=video 0 RTP/AVP 31\r\nc=IN IP4 203.0.113.9\r\n"
    );
}

/// Found by the `proxy_core` fuzz target: the `a=rtcp:` address of a disabled stream was
/// left as the phone wrote it, so a LAN address went to the Internet.
#[test]
fn relay_masks_the_rtcp_address_of_disabled_streams() {
    let body = b"v=0\r\nc=IN IP4 10.1.1.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n\
m=audio 0 RTP/AVP 0\r\na=rtcp:1 IN IP4 10.1.1.1\r\nm=video 0 RTP/AVP 31\r\na=rtcp:9 IN IP4 0.0.0.0\r\n";
    let pub_ip = v4(203, 0, 113, 9);
    let out = relay(
        body,
        pub_ip,
        &[
            stream(pub_ip, 7070, None),
            stream(pub_ip, 0, None),
            stream(pub_ip, 0, None),
        ],
        true,
    )
    .unwrap();
    assert_eq!(
        out,
        "v=0\r\nc=IN IP4 203.0.113.9\r\nt=0 0\r\nm=audio 7070 RTP/AVP 0\r\n\
m=audio 0 RTP/AVP 0\r\na=rtcp:1 IN IP4 203.0.113.9\r\nm=video 0 RTP/AVP 31\r\na=rtcp:9 IN IP4 0.0.0.0\r\n"
    );
}

#[test]
fn relay_is_all_or_nothing() {
    let pub_ip = v4(203, 0, 113, 9);
    assert_eq!(
        relay(BASIC, pub_ip, &[stream(pub_ip, 7070, None)], false).unwrap_err(),
        SdpError::StreamCountMismatch {
            expected: 2,
            got: 1
        }
    );
    let no_c = b"v=0\r\nm=audio 4000 RTP/AVP 0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4002 RTP/AVP 0\r\n";
    let two = [stream(pub_ip, 7070, None), stream(pub_ip, 7072, None)];
    assert_eq!(
        relay(no_c, pub_ip, &two, false).unwrap_err(),
        SdpError::MissingConnection { media: 1 }
    );
    let top = b"v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\n";
    assert_eq!(
        relay(top, pub_ip, &[stream(pub_ip, 65535, None)], false).unwrap_err(),
        SdpError::RtcpPortOverflow { media: 0 }
    );
    let sdp = Sdp::parse(BASIC).unwrap();
    let mut small = [0u8; 64];
    assert_eq!(
        rewrite_for_relay(&sdp, pub_ip, &two, false, &mut small).unwrap_err(),
        SdpError::BufferTooSmall
    );
}

#[test]
fn relay_with_rtcp_mux_adds_no_rtcp_line() {
    let body = b"v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\na=rtcp-mux\r\n";
    let ip = v4(203, 0, 113, 9);
    let out = relay(body, ip, &[stream(ip, 7070, Some(7070))], false).unwrap();
    assert_eq!(
        out,
        "v=0\r\nc=IN IP4 203.0.113.9\r\nm=audio 7070 RTP/AVP 0\r\na=rtcp-mux\r\n"
    );
}

#[test]
fn relay_to_ipv6_changes_addrtype() {
    let ip6: IpAddr = "2001:db8::1".parse().unwrap();
    let out = relay(
        BASIC,
        ip6,
        &[stream(ip6, 7070, None), stream(ip6, 7072, None)],
        false,
    )
    .unwrap();
    assert!(out.contains("o=alice 2890844526 2890844527 IN IP6 2001:db8::1\r\n"));
    assert!(out.contains("c=IN IP6 2001:db8::1\r\nt=0 0"));
    assert!(out.contains("a=rtcp:7073 IN IP6 2001:db8::1\r\n"));
    assert!(!out.contains("IP4"));
}

#[test]
fn errors_display_what_is_wrong() {
    assert_eq!(
        SdpError::BadPort { line: 3 }.to_string(),
        "SDP line 3: bad port"
    );
    assert!(SdpError::StreamCountMismatch {
        expected: 2,
        got: 1
    }
    .to_string()
    .contains("2 m= sections"));
}

#[test]
fn view_and_rewriter_fit_a_small_stack_budget() {
    // Both live on the stack of the SIP handler; keep them well under 32 KiB together.
    let total = core::mem::size_of::<Sdp<'_>>() + core::mem::size_of::<Rewriter<'_, '_>>();
    assert!(total <= 24 * 1024, "{total} bytes");
}

#[test]
fn codec_removal_and_relay_in_one_rewrite() {
    let sdp = Sdp::parse(BASIC).unwrap();
    let mut rw = Rewriter::new(&sdp);
    let pts: Vec<&[u8]> = sdp.payload_types_matching(0, b"G729").collect();
    for pt in pts {
        rw.remove_payload_type(0, pt).unwrap();
    }
    let ip = v4(203, 0, 113, 9);
    rw.relay(ip, &[stream(ip, 7070, None), stream(ip, 7072, None)], false)
        .unwrap();
    let out = text(&emit(&rw));
    assert!(out.contains("m=audio 7070 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101"));
    assert!(!out.contains("G729") && !out.contains("annexb"));
}

/// The input `tests/sdp_prop.proptest-regressions` records: the relay grows `o=` by one byte
/// (`0.0.0.0` -> `0.0.0.10`), so the untouched `c=` of the disabled section moves one byte on.
/// The rewrite was right; comparing the two views' addresses also compared their offsets.
#[test]
fn proptest_regression_disabled_section_address_after_a_longer_origin() {
    let zero = v4(0, 0, 0, 0);
    let body = b"v=0\r\no=- 123 456 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n\
m=audio 0 RTP/AVP 0\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:0 X0/8000";
    let out = relay(body, v4(0, 0, 0, 10), &[stream(zero, 1, None)], true).unwrap();
    assert_eq!(
        out,
        "v=0\r\no=- 123 456 IN IP4 0.0.0.10\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n\
m=audio 0 RTP/AVP 0\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:0 X0/8000"
    );
    let (old, new) = (
        Sdp::parse(body).unwrap(),
        Sdp::parse(out.as_bytes()).unwrap(),
    );
    let (old_c, new_c) = (
        old.media(0).unwrap().connection,
        new.media(0).unwrap().connection,
    );
    assert_eq!(new_c.unwrap().span.start, old_c.unwrap().span.start + 1);
    assert_eq!(new_c, old_c);
    assert_eq!(new.connection(), old.connection());
    assert_eq!(new.stream(0), old.stream(0));
    assert_eq!(new.media(0), old.media(0));
    // Values still count: the rewritten origin address differs.
    assert_ne!(new.origin().unwrap().address, old.origin().unwrap().address);
}

#[test]
fn view_equality_ignores_position_but_not_values() {
    let a = Sdp::parse(
        b"v=0\r\nm=audio 5 RTP/AVP 0\r\nc=IN IP4 1.2.3.4\r\na=rtcp:7 IN IP4 1.2.3.4\r\n",
    )
    .unwrap();
    let b = Sdp::parse(
        b"v=0\r\ns=moved\r\nm=audio 5 RTP/AVP 0\r\nc=IN IP4 1.2.3.4\r\na=rtcp:7 IN IP4 1.2.3.4\r\n",
    )
    .unwrap();
    let c = Sdp::parse(
        b"v=0\r\nm=audio 5 RTP/AVP 0\r\nc=IN IP4 1.2.3.5\r\na=rtcp:8 IN IP4 1.2.3.4\r\n",
    )
    .unwrap();
    let (ma, mb, mc) = (
        a.media(0).unwrap(),
        b.media(0).unwrap(),
        c.media(0).unwrap(),
    );
    assert_ne!(ma.port_span, mb.port_span);
    assert_eq!(ma, mb);
    assert_eq!(ma.rtcp, mb.rtcp);
    assert_ne!(ma.connection, mc.connection);
    assert_ne!(ma.rtcp, mc.rtcp);
    assert_ne!(ma, mc);
}

/// The relay strips an unterminated last ICE line and adds `a=rtcp:` where it was: the new
/// line must not be led by a second line end (that left a blank line before `a=rtcp:`).
#[test]
fn line_added_where_a_removed_unterminated_last_line_was() {
    let body = b"v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 5 RTP/AVP 0\r\n\
a=candidate:0 1 UDP 1 10.0.0.0 1000 typ host";
    let ip = v4(1, 2, 3, 4);
    let out = relay(body, ip, &[stream(ip, 100, Some(300))], true).unwrap();
    assert_eq!(
        out,
        "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 100 RTP/AVP 0\r\na=rtcp:300"
    );
    // Kept, the unterminated line still gets the line end in front of the new one.
    let out = relay(body, ip, &[stream(ip, 100, Some(300))], false).unwrap();
    assert!(out.ends_with("1000 typ host\r\na=rtcp:300"), "{out:?}");
    // Two lines inserted after a removed last line: only the first is not led.
    let sdp = Sdp::parse(b"v=0\nm=audio 5 RTP/AVP 0\na=ice-lite").unwrap();
    let mut rw = Rewriter::new(&sdp);
    rw.remove_line(2).unwrap();
    rw.add_rtcp(0, 9).unwrap();
    rw.add_rtcp(0, 11).unwrap();
    assert_eq!(
        text(&emit(&rw)),
        "v=0\nm=audio 5 RTP/AVP 0\na=rtcp:9\na=rtcp:11"
    );
}

/// Any body that parses can be relayed: the relay edits each line at most once, plus per
/// media section one inserted `c=` and the address of `a=rtcp:` beside its port.
#[test]
fn relay_of_the_largest_body_fits_the_edit_capacity() {
    use crate::limits::{SDP_MAX_LINES, SDP_MAX_MEDIA};
    let mut body =
        String::from("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n");
    let mut lines = 5;
    for i in 0..SDP_MAX_MEDIA {
        body.push_str(&format!(
            "m=audio {} RTP/AVP 0\r\na=rtcp:9 IN IP4 10.0.0.2\r\n",
            4000 + 2 * i
        ));
        lines += 2;
    }
    // Fill the remaining lines with candidates of the last section: each is a removal.
    while lines < SDP_MAX_LINES {
        body.push_str("a=candidate:1 1 UDP 1 10.0.0.3 5000 typ host\r\n");
        lines += 1;
    }
    let sdp = Sdp::parse(body.as_bytes()).unwrap();
    assert_eq!(sdp.line_count(), SDP_MAX_LINES);
    let streams: Vec<_> = (0..SDP_MAX_MEDIA)
        .map(|i| stream(v4(198, 51, 100, 7), 7000 + 2 * i as u16, None))
        .collect();
    let mut rw = Rewriter::new(&sdp);
    rw.relay(v4(203, 0, 113, 9), &streams, true).unwrap();
    assert!(rw.edit_count() > SDP_MAX_LINES, "{}", rw.edit_count());
    let out = emit(&rw);
    let re = Sdp::parse(&out).unwrap();
    assert_eq!(re.media_count(), SDP_MAX_MEDIA);
    assert_eq!(re.candidates(Section::Media(SDP_MAX_MEDIA - 1)).count(), 0);
    let last = re.stream(SDP_MAX_MEDIA - 1).unwrap();
    assert_eq!(last.address.unwrap().ip, Some(v4(198, 51, 100, 7)));
    assert_eq!(
        last.rtcp_port,
        Some(7000 + 2 * (SDP_MAX_MEDIA as u16 - 1) + 1)
    );
}

/// A body whose last line ends in a bare CR has no line end: a line added after it must
/// complete one, not run on (`a=x\ra=rtcp:300` hid the relay's RTCP port from the reader).
#[test]
fn line_added_after_a_last_line_ending_in_a_bare_cr() {
    let ip = v4(1, 2, 3, 4);
    let head = "v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 5 RTP/AVP 0\r\n";
    for (last, want_tail) in [("a=x\r", "a=x\r\na=rtcp:300"), ("\r", "\r\na=rtcp:300")] {
        let body = format!("{head}{last}");
        let out = relay(body.as_bytes(), ip, &[stream(ip, 100, Some(300))], true).unwrap();
        assert!(out.ends_with(want_tail), "{out:?}");
        let re = Sdp::parse(out.as_bytes()).unwrap();
        assert_eq!(re.stream(0).unwrap().rtcp_port, Some(300), "{out:?}");
    }
}
