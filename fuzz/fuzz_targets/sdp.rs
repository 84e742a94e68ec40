//! SDP body: parse, every accessor, identity emit, the relay rewrite and a codec removal.
//!
//! Invariants: accessors hand out slices of the body; a rewriter with no edits emits the body
//! unchanged; `emitted_len` equals what `emit` writes; a relay rewrite re-parses and carries the
//! relay ports and addresses it was given; removing a payload type shortens the format list.
#![no_main]

use libfuzzer_sys::fuzz_target;
use siproxd_rs::limits::SIP_SEND_BUFFER;
use siproxd_rs::sdp::{rewrite_for_relay, Rewriter, Sdp, SdpError, Section, StreamRewrite};

#[path = "common/mod.rs"]
mod common;
use common::{within, Knobs};

fuzz_target!(|data: &[u8]| {
    let sdp = match Sdp::parse(data) {
        Ok(s) => s,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    accessors(data, &sdp);
    identity(data, &sdp);
    let mut knobs = Knobs::new(data);
    relay(&sdp, &mut knobs);
    remove_codec(&sdp, &mut knobs);
});

fn accessors(data: &[u8], sdp: &Sdp<'_>) {
    assert_eq!(sdp.body().as_ptr(), data.as_ptr());
    let n = sdp.line_count();
    for i in 0..n {
        let (kind, value) = sdp.line(i).expect("line below line_count");
        assert!(kind == 0 || kind.is_ascii_alphabetic());
        assert!(within(data, value));
    }
    assert!(sdp.line(n).is_none());
    for kind in *b"vosctbami" {
        if let Some(v) = sdp.session_line(kind) {
            assert!(within(data, v));
        }
    }
    if let Some(o) = sdp.origin() {
        for s in [o.username, o.session_id, o.session_version, o.address.host] {
            assert!(within(data, s));
        }
    }
    if let Some(c) = sdp.connection() {
        assert!(within(data, c.host));
    }
    let _ = sdp.direction();
    let count = sdp.media_count();
    assert_eq!(sdp.media_sections().count(), count);
    assert!(sdp.media(count).is_none());
    assert!(sdp.stream(count).is_none());
    let mut sections = vec![Section::Session];
    for i in 0..count {
        let m = sdp.media(i).expect("media below media_count");
        for s in [m.media, m.proto, m.formats] {
            assert!(within(data, s));
        }
        let _ = m.is_rtp();
        let st = sdp.stream(i).expect("stream below media_count");
        assert_eq!(st.port, m.port);
        assert_eq!(st.disabled, m.port == 0);
        for pt in m.format_list() {
            assert!(within(data, pt) && !pt.is_empty());
            let _ = sdp.rtpmap(i, pt);
            if let Some(f) = sdp.fmtp(i, pt) {
                assert!(within(data, f));
            }
            let _ = sdp.encoding_name(i, pt);
        }
        for r in sdp.rtpmaps(i) {
            assert!(within(data, r.payload_type) && within(data, r.encoding));
        }
        for name in [&b"PCM"[..], b"g72", b"opus", b""] {
            for pt in sdp.payload_types_matching(i, name) {
                assert!(within(data, pt));
            }
        }
        sections.push(Section::Media(i));
    }
    for s in sections {
        for c in sdp.connections(s) {
            assert!(within(data, c.host));
        }
        for a in sdp.attributes(s) {
            assert!(within(data, a.name));
            assert!(a.line < n);
        }
        for name in [&b"rtcp"[..], b"sendonly", b"candidate", b"rtpmap"] {
            if let Some(a) = sdp.attribute(s, name) {
                assert_eq!(a.name, name);
            }
        }
        for c in sdp.candidates(s) {
            assert!(within(data, c));
        }
        let ice = sdp.ice(s);
        assert!(ice.is_empty() || sdp.attributes(s).any(|a| a.is_ice()));
    }
}

fn identity(data: &[u8], sdp: &Sdp<'_>) {
    let rw = Rewriter::new(sdp);
    assert_eq!(rw.edit_count(), 0);
    assert_eq!(rw.emitted_len(), data.len());
    let mut out = vec![0u8; data.len()];
    assert_eq!(rw.emit(&mut out), Ok(data.len()));
    assert_eq!(out, data);
    if !data.is_empty() {
        let mut short = vec![0u8; data.len() - 1];
        assert_eq!(rw.emit(&mut short), Err(SdpError::BufferTooSmall));
    }
}

fn relay(sdp: &Sdp<'_>, knobs: &mut Knobs) {
    let session = knobs.ip();
    let streams: Vec<StreamRewrite> = (0..sdp.media_count())
        .map(|_| StreamRewrite {
            address: if knobs.bool() { session } else { knobs.ip() },
            rtp_port: knobs.u16(),
            rtcp_port: if knobs.below(4) == 0 {
                Some(knobs.u16())
            } else {
                None
            },
        })
        .collect();
    let strip_ice = knobs.bool();
    let mut out = vec![0u8; SIP_SEND_BUFFER];
    let result = rewrite_for_relay(sdp, session, &streams, strip_ice, &mut out);

    // The one-call rewrite and the rewriter agree, including on the length.
    let mut rw = Rewriter::new(sdp);
    let expected = rw
        .relay(session, &streams, strip_ice)
        .map(|()| rw.emitted_len());
    let n = match (result, expected) {
        (Ok(n), Ok(len)) => {
            assert_eq!(n, len);
            n
        }
        (Err(SdpError::BufferTooSmall), Ok(len)) => {
            assert!(len > out.len());
            return;
        }
        (Err(a), Err(b)) => {
            assert_eq!(a, b);
            return;
        }
        (a, b) => panic!("rewrite_for_relay {a:?} but Rewriter::relay {b:?}"),
    };
    let wrong_count = rewrite_for_relay(
        sdp,
        session,
        &streams[..streams.len().saturating_sub(1)],
        strip_ice,
        &mut out[..0],
    );
    if !streams.is_empty() {
        assert!(matches!(
            wrong_count,
            Err(SdpError::StreamCountMismatch { .. })
        ));
    }

    let out = &out[..n];
    let new = match Sdp::parse(out) {
        Ok(s) => s,
        // Added c= / a=rtcp lines can push a full body over the line limit.
        Err(SdpError::TooManyLines) => return,
        Err(e) => panic!(
            "relay output does not parse: {e:?}\n{}",
            String::from_utf8_lossy(out)
        ),
    };
    assert_eq!(new.media_count(), sdp.media_count());
    if let (Some(o), Some(_)) = (new.origin(), sdp.origin()) {
        assert_eq!(o.address.ip, Some(session));
    }
    if let (Some(c), Some(old)) = (new.connection(), sdp.connection()) {
        if !old.is_unspecified() {
            assert_eq!(c.ip, Some(session));
        }
    }
    if strip_ice {
        assert!(new.ice(Section::Session).is_empty());
    }
    for (i, s) in streams.iter().enumerate() {
        let old = sdp.stream(i).expect("old stream");
        let st = new.stream(i).expect("new stream");
        if old.disabled {
            assert!(st.disabled);
            // Not relayed, but no address of the sender's stays in it (c= and a=rtcp).
            let old_rtcp = sdp.media(i).expect("old media").rtcp;
            if old_rtcp.is_some_and(|r| r.address.is_some_and(|a| !a.is_unspecified())) {
                let r = new.media(i).expect("new media").rtcp.expect("rtcp kept");
                assert_eq!(
                    r.address.map(|a| a.ip),
                    Some(Some(session)),
                    "media {i} rtcp"
                );
            }
            continue;
        }
        assert_eq!(st.port, s.rtp_port, "media {i} port");
        let was_hold = old.address.is_some_and(|a| a.is_unspecified());
        let addr = st.address.expect("relayed stream has an address");
        if was_hold {
            assert!(addr.is_unspecified(), "media {i}: hold address lost");
        } else {
            assert_eq!(addr.ip, Some(s.address), "media {i} address");
        }
        if !old.rtcp_mux {
            let want = s.rtcp_port.or(s.rtp_port.checked_add(1));
            assert_eq!(st.rtcp_port, want, "media {i} rtcp port");
        }
        if strip_ice {
            assert!(new.ice(Section::Media(i)).is_empty(), "media {i} ICE left");
        }
    }
}

fn remove_codec(sdp: &Sdp<'_>, knobs: &mut Knobs) {
    let count = sdp.media_count();
    if count == 0 {
        return;
    }
    let i = knobs.below(count as u64) as usize;
    let m = sdp.media(i).expect("media");
    let formats: Vec<&[u8]> = m.format_list().collect();
    if formats.is_empty() {
        return;
    }
    let pt = formats[knobs.below(formats.len() as u64) as usize];
    let mut rw = Rewriter::new(sdp);
    match rw.remove_payload_type(i, pt) {
        Ok(_) => {}
        Err(SdpError::LastPayloadType) => {
            assert_eq!(formats.len(), 1);
            return;
        }
        Err(e) => panic!("remove_payload_type of a listed type: {e:?}"),
    }
    let mut out = vec![0u8; rw.emitted_len()];
    let n = rw.emit(&mut out).expect("emit into emitted_len bytes");
    assert_eq!(n, out.len());
    let new = Sdp::parse(&out).expect("codec removal output parses");
    let nm = new.media(i).expect("media kept");
    // A bare CR token ends the line once the tokens after it are removed (the body's own
    // line-end rule); no real format list has one.
    if !m.formats.contains(&b'\r') {
        assert_eq!(nm.format_list().count(), formats.len() - 1);
    }
    assert_eq!(nm.port, m.port);
}
