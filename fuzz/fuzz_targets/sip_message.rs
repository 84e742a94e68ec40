//! SIP message view: `Message::parse` (UDP and stream), `parse_for_reply`, `frame_stream`, every
//! typed accessor and `validate`.
//!
//! Invariants: every slice handed out lies in the buffer; the header index is consistent
//! (`header(i).index == i`, `first`/`headers_of`/`headers_named` agree); the body is exactly
//! Content-Length bytes when declared; stream framing and stream parsing agree on the length;
//! an editor without edits reproduces the message byte for byte.
#![no_main]

use libfuzzer_sys::fuzz_target;
use siproxd_rs::limits::{SIP_MAX_HEADERS, SIP_MAX_MESSAGE};
use siproxd_rs::sip::{
    frame_stream, looks_like_request, Contact, Editor, HeaderName, Message, NameAddr, StartLine,
    StreamFrame, Framing, Uri,
};

#[path = "common/mod.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let _ = looks_like_request(data);
    let udp = Message::parse(data, Framing::Datagram);
    let stream = Message::parse(data, Framing::Stream);
    match &udp {
        Ok(m) => check(data, m, Framing::Datagram),
        Err(e) => {
            let _ = (
                e.action(looks_like_request(data)),
                e.reason(),
                e.to_string(),
            );
        }
    }
    if let Ok(m) = &stream {
        check(data, m, Framing::Stream);
        // A message that parses from a stream is framed at the same length.
        if m.start_offset() == 0 && data.len() <= SIP_MAX_MESSAGE {
            assert_eq!(
                frame_stream(data),
                Ok(StreamFrame::Message(m.body_range().end)),
                "frame_stream disagrees with Message::parse(Stream)"
            );
        }
        // Stream parsing is stricter than UDP parsing (Content-Length required), never looser.
        let u = udp.as_ref().expect("stream-parsable but not UDP-parsable");
        assert_eq!(u.body_range(), m.body_range());
    }
    match frame_stream(data) {
        Ok(StreamFrame::Keepalive(n)) => {
            assert!(n > 0 && data[..n].iter().all(|&b| b == b'\r' || b == b'\n'));
        }
        Ok(StreamFrame::Message(n)) => {
            assert!(n <= data.len());
            // The framed message parses as a stream exactly when it parses with its length.
            if let Ok(m) = Message::parse(&data[..n], Framing::Stream) {
                assert_eq!(m.body_range().end, n);
            }
        }
        Ok(StreamFrame::Incomplete) | Err(_) => {}
    }
    if let Ok(m) = Message::parse_for_reply(data) {
        check_index(data, &m);
        let _ = (m.top_via(), m.from(), m.to(), m.call_id(), m.cseq());
    }
});

fn within(data: &[u8], part: &[u8]) -> bool {
    common::within(data, part)
}

fn check(data: &[u8], m: &Message<'_>, transport: Framing) {
    assert_eq!(m.buffer().as_ptr(), data.as_ptr());
    check_index(data, m);

    // Start line.
    match m.start_line() {
        StartLine::Request {
            method,
            uri,
            version,
        } => {
            assert!(m.is_request());
            assert_eq!(m.method(), Some(method));
            assert_eq!(m.request_uri_raw(), Some(uri));
            assert!(m.status_code().is_none() && m.reason_phrase().is_none());
            assert!(within(data, method) && within(data, uri) && within(data, version));
            assert!(!method.is_empty() && !uri.is_empty());
            if let Ok(u) = Uri::parse(uri) {
                assert_eq!(u.raw, uri);
            }
        }
        StartLine::Response { code, reason, .. } => {
            assert!(!m.is_request());
            assert!((100..=699).contains(&code));
            assert_eq!(m.status_code(), Some(code));
            assert!(within(data, reason));
        }
    }

    // Body and Content-Length.
    let body = m.body_range();
    assert!(m.headers_start() <= m.headers_end() && m.headers_end() < body.start);
    assert!(body.start <= body.end && body.end <= data.len());
    assert_eq!(m.body(), &data[body.clone()]);
    assert_eq!(m.as_bytes(), &data[m.start_offset()..body.end]);
    match m.content_length() {
        Some(n) => assert_eq!(m.body().len(), n as usize),
        None => {
            assert_eq!(
                transport,
                Framing::Datagram,
                "stream message without Content-Length"
            );
            assert_eq!(body.end, data.len());
        }
    }

    // Typed accessors: results are views into the buffer.
    for v in m.vias().flatten() {
        for s in [
            v.raw,
            v.protocol,
            v.version,
            v.transport,
            v.host_raw,
            v.sent_by_raw,
        ] {
            assert!(within(data, s));
        }
        let _ = (
            v.branch(),
            v.received(),
            v.maddr(),
            v.rport(),
            v.is_rfc3261_branch(),
        );
    }
    if let Ok(v) = m.top_via() {
        assert_eq!(Some(Ok(v)), m.vias().next());
    }
    for a in [m.from(), m.to()].into_iter().flatten() {
        name_addr(data, &a);
        if let Some(t) = a.tag() {
            assert!(within(data, t));
        }
    }
    for c in m.contacts().flatten() {
        if let Contact::Addr(a) = c {
            name_addr(data, &a);
        }
        let _ = (c.expires(), c.q());
    }
    for a in m.routes().chain(m.record_routes()).flatten() {
        name_addr(data, &a);
    }
    if let Ok(c) = m.cseq() {
        assert!(within(data, c.method) && !c.method.is_empty());
    }
    if let Ok(id) = m.call_id() {
        assert!(within(data, id));
    }
    let _ = (m.max_forwards(), m.expires());
    if let Ok(Some(ct)) = m.content_type() {
        assert!(within(data, ct.media_type) && within(data, ct.subtype));
        let _ = ct.is("application", "sdp");
    }
    for t in m.proxy_require().chain(m.require()).chain(m.supported()) {
        assert!(within(data, t) && !t.is_empty());
    }
    let known = ["100rel", "timer"];
    for t in m.unsupported_proxy_require(&known) {
        assert!(!known.iter().any(|k| t.eq_ignore_ascii_case(k.as_bytes())));
    }
    for c in m.authorizations().chain(m.proxy_authorizations()).flatten() {
        assert!(within(data, c.scheme));
        let _ = c.is_digest();
        for f in [c.username(), c.realm(), c.nonce(), c.uri(), c.response()]
            .into_iter()
            .flatten()
        {
            assert!(within(data, f));
        }
    }
    if let Err(e) = m.validate() {
        let _ = (e.action(m.is_request()), e.reason());
    }

    // An editor with no edits copies the message byte for byte.
    let mut out = vec![0u8; m.as_bytes().len()];
    let mut ed = Editor::new(m);
    assert_eq!(ed.output_len(), Ok(m.as_bytes().len()));
    let n = ed.emit(&mut out).expect("identity emit");
    assert_eq!(&out[..n], m.as_bytes());
}

fn name_addr(data: &[u8], a: &NameAddr<'_>) {
    assert!(within(data, a.raw) && within(data, a.uri.raw));
    if let Some(d) = a.display_name {
        assert!(within(data, d));
        let mut buf = [0u8; 256];
        if let Some(n) = a.display_name_into(&mut buf) {
            assert!(n <= d.len());
        }
    }
    for p in a.params.iter().chain(a.uri.params.iter()) {
        assert!(within(data, p.item) && within(data, p.name));
    }
}

fn check_index(data: &[u8], m: &Message<'_>) {
    let count = m.header_count();
    assert!(count <= SIP_MAX_HEADERS);
    assert_eq!(m.headers().count(), count);
    assert!(m.header(count).is_none());
    for (i, h) in m.headers().enumerate() {
        assert_eq!(h.index, i);
        assert_eq!(m.header(i), Some(h));
        assert!(within(data, h.name) && within(data, h.value) && within(data, h.line));
        assert!(!h.name.is_empty());
        let line = m.range_of(h.line).expect("line in buffer");
        let name = m.range_of(h.name).expect("name in buffer");
        assert_eq!(name.start, line.start, "a header line starts with its name");
        assert!(line.start >= m.headers_start() && line.end <= m.headers_end());
        if let Some(v) = m.range_of(h.value) {
            assert!(v.start >= name.end && v.end <= line.end);
        }
        assert_eq!(HeaderName::from_bytes(h.name), h.kind);
        assert_eq!(m.first(h.kind).map(|f| f.index <= i), Some(true));
        assert!(m.headers_named(h.name).any(|x| x.index == i));
        for v in h.values() {
            assert!(within(data, v));
        }
    }
}
