//! The rewriting plugins of issue 11 (behaviour §8.2: stripheader, codecfilter, regex_body)
//! through the proxy core with the §11 lab, siproxd's defects fixed.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)] // test helpers: a failed set-up panics, as a test should
mod lab;
use lab::*;

use siproxd_rs::config::Config;

const CALL: &str = "call1@192.168.1.10";

fn lab_with(plugins: &[&str], set: impl FnOnce(&mut Config)) -> Lab {
    let mut cfg = Lab::config();
    cfg.load_plugin = plugins.iter().map(|s| s.to_string()).collect();
    set(&mut cfg);
    let mut lab = Lab::with(cfg.clone());
    lab.proxy
        .set_plugins(siproxd_rs::plugins::build(&cfg).unwrap());
    lab.register_alice(3600);
    lab
}

/// A's INVITE to B with `extra` header lines and `body` as SDP.
fn invite(extra: &str, body: &str) -> String {
    request(
        "INVITE sip:bob@198.51.100.30 SIP/2.0",
        &format!("Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKinv1\nMax-Forwards: 70\nFrom: <sip:alice@example.com>;tag=a1\nTo: <sip:bob@example.com>\nCall-ID: {CALL}\nCSeq: 1 INVITE\nContact: <sip:alice@192.168.1.10:5060>\n{extra}"),
        body,
    )
}

/// B's answer to the forwarded request `fwd`, with an SDP body.
fn answer(fwd: &Sent, code: u16, body: &str) -> String {
    let vias = fwd.headers("Via");
    format!(
        "SIP/2.0 {code} OK\nVia: {}\nVia: {}\nFrom: {}\nTo: <sip:bob@example.com>;tag=b1\nCall-ID: {}\nCSeq: 1 INVITE\nContact: <sip:bob@198.51.100.30:5060>\nContent-Type: application/sdp\nContent-Length: {}\n\n{body}",
        vias[0],
        vias[1],
        fwd.header("From").unwrap(),
        fwd.header("Call-ID").unwrap(),
        crlf(body).len()
    )
}

fn one(out: Vec<Sent>) -> Sent {
    assert_eq!(out.len(), 1, "exactly one message sent: {out:?}");
    out.into_iter().next().unwrap()
}

/// The body's Content-Length matches the body the message carries.
fn assert_length_ok(s: &Sent) {
    let declared: usize = s.header("Content-Length").unwrap().trim().parse().unwrap();
    assert_eq!(declared, s.body().len(), "{}", s.text);
}

/// SDP offering `formats` on m=audio, with the given attribute lines.
fn sdp_with(addr: &str, port: u16, formats: &str, attrs: &str) -> String {
    format!("v=0\no=- 1 1 IN IP4 {addr}\ns=-\nc=IN IP4 {addr}\nt=0 0\nm=audio {port} RTP/AVP {formats}\n{attrs}")
}

const G729_AND_PCMU: &str =
    "a=rtpmap:0 PCMU/8000\na=rtpmap:18 G729/8000\na=fmtp:18 annexb=no\na=rtcp-fb:18 nack\na=sendrecv\n";

#[test]
fn stripheader_removes_named_headers_and_values_even_where_the_proxy_edits() {
    let mut lab = lab_with(&["stripheader"], |c| {
        c.plugins.plugin_stripheader_remove =
            vec!["x-secret".into(), "Allow:update".into(), "Route".into()];
    });
    // Our own Route entry is removed by the proxy too: the line goes once, no overlap.
    let extra = "Route: <sip:siproxd@192.168.1.1:5060;lr>\nX-Secret: 1\nx-SECRET: 2\nAllow: INVITE, ACK, UPDATE, BYE\nX-Other: kept\n";
    let fwd = one(lab.on_lan(A, &invite(extra, "")));
    assert_eq!(fwd.to, sa(B));
    assert!(fwd.headers("X-Secret").is_empty(), "{}", fwd.text);
    assert!(fwd.headers("Route").is_empty(), "{}", fwd.text);
    assert_eq!(fwd.headers("Allow"), ["INVITE, ACK, BYE"]);
    assert_eq!(fwd.header("X-Other").as_deref(), Some("kept"));
    // The proxy's own edits still happened.
    assert_eq!(fwd.headers("Via").len(), 2);
    assert_eq!(fwd.header("Max-Forwards").as_deref(), Some("69"));
}

#[test]
fn codecfilter_removes_the_payload_type_and_its_lines_from_the_relayed_offer_and_answer() {
    let mut lab = lab_with(&["codecfilter"], |c| {
        c.plugins.plugin_codecfilter_blacklist = vec!["g729".into()];
    });
    let body = sdp_with("192.168.1.10", 4000, "18 0", G729_AND_PCMU);
    let fwd = one(lab.on_lan(A, &invite("", &body)));
    assert_eq!(fwd.to, sa(B));
    assert_length_ok(&fwd);
    let b = fwd.body();
    // The relay rewrite and the filter both apply (siproxd left "18" and the fmtp line).
    assert!(b.contains("c=IN IP4 203.0.113.5\r\n"), "{b}");
    assert!(b.contains("m=audio 7070 RTP/AVP 0\r\n"), "{b}");
    for gone in ["G729", ":18", "annexb"] {
        assert!(!b.contains(gone), "{gone} left in {b}");
    }
    assert!(b.contains("a=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"), "{b}");
    // B's answer is filtered on its way to A too.
    let ok = one(lab.on_wan(
        B,
        &answer(
            &fwd,
            200,
            &sdp_with("198.51.100.30", 5000, "0 18", G729_AND_PCMU),
        ),
    ));
    assert_eq!(ok.to, sa(A));
    assert_length_ok(&ok);
    assert!(ok.body().contains("RTP/AVP 0\r\n"), "{}", ok.body());
    assert!(!ok.body().contains("G729"), "{}", ok.body());
}

#[test]
fn codecfilter_refuses_an_offer_left_without_codecs_with_488_and_opens_no_stream() {
    let mut lab = lab_with(&["codecfilter"], |c| {
        c.plugins.plugin_codecfilter_blacklist = vec!["G729".into(), "PCM".into()];
    });
    let body = sdp_with("192.168.1.10", 4000, "18 0 8", G729_AND_PCMU);
    let out = one(lab.on_lan(A, &invite("", &body)));
    assert_eq!(out.to, sa(A));
    assert_eq!(out.status(), Some(488), "{}", out.text);
    assert_eq!(
        lab.media.table.halves().count(),
        0,
        "the offer's streams are closed"
    );
}

#[test]
fn codecfilter_rejects_a_stream_of_an_answer_left_without_codecs_with_port_0() {
    let mut lab = lab_with(&["codecfilter"], |c| {
        c.plugins.plugin_codecfilter_blacklist = vec!["G729".into()];
    });
    let offer = format!(
        "{}m=video 4002 RTP/AVP 34\n",
        sdp_with("192.168.1.10", 4000, "0 18", G729_AND_PCMU)
    );
    let fwd = one(lab.on_lan(A, &invite("", &offer)));
    let reply = sdp_with("198.51.100.30", 5000, "18", "a=rtpmap:18 G729/8000\n");
    let ok = one(lab.on_wan(B, &answer(&fwd, 200, &reply)));
    assert_length_ok(&ok);
    assert!(
        ok.body().contains("m=audio 0 RTP/AVP 18\r\n"),
        "{}",
        ok.body()
    );
}

#[test]
fn regex_body_rewrites_before_the_relay_rewrite_and_fixes_content_length() {
    let mut lab = lab_with(&["regex_body"], |c| {
        let p = &mut c.plugins;
        p.plugin_regex_body_desc = vec!["session name".into(), "phone address".into()];
        p.plugin_regex_body_pattern = vec!["^(.*)s=-".into(), "192\\.168\\.1\\.10".into()];
        p.plugin_regex_body_replace = vec![
            "\\1s=a much longer session name".into(),
            "192.168.1.11".into(),
        ];
    });
    let body = sdp_with("192.168.1.10", 4000, "0", "a=rtpmap:0 PCMU/8000\n");
    let fwd = one(lab.on_lan(A, &invite("", &body)));
    assert_length_ok(&fwd);
    let b = fwd.body();
    assert!(b.contains("\r\ns=a much longer session name\r\n"), "{b}");
    // The relay rewrite saw the rewritten body: the public address, and the relay sends
    // A's media to the address the rule wrote.
    assert!(b.contains("c=IN IP4 203.0.113.5\r\n"), "{b}");
    assert!(!b.contains("192.168.1.1"), "{b}");
    let remotes: Vec<String> = lab
        .media
        .table
        .halves()
        .map(|(_, h)| h.remote().to_string())
        .collect();
    assert!(
        remotes.iter().any(|r| r == "192.168.1.11:4000"),
        "{remotes:?}"
    );
}

#[test]
fn regex_body_applies_to_any_body_and_leaves_one_that_is_not_text_alone() {
    let mut lab = lab_with(&["regex_body"], |c| {
        let p = &mut c.plugins;
        p.plugin_regex_body_desc = vec!["word".into()];
        p.plugin_regex_body_pattern = vec!["secret".into()];
        p.plugin_regex_body_replace = vec!["public".into()];
    });
    let text = "MESSAGE sip:bob@198.51.100.30 SIP/2.0\nVia: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKm1\nMax-Forwards: 70\nFrom: <sip:alice@example.com>;tag=a1\nTo: <sip:bob@example.com>\nCall-ID: m1@192.168.1.10\nCSeq: 1 MESSAGE\nContent-Type: text/plain\nContent-Length: 20\n\nSecret one, secret 2";
    let fwd = one(lab.on_lan(A, text));
    assert_length_ok(&fwd);
    assert_eq!(fwd.body(), "public one, public 2");
    // A body that is not text is left as it is, not truncated.
    let bin = text.replace("Secret one, secret 2", "secret\u{0}one, secret 2");
    let fwd = one(lab.on_lan(A, &bin.replace("z9hG4bKm1", "z9hG4bKm2")));
    assert_eq!(fwd.body(), "secret\u{0}one, secret 2");
}

#[test]
fn fix_bogus_via_sends_responses_to_the_real_sender_of_an_incoming_request() {
    let mut lab = lab_with(&["fix_bogus_via"], |c| {
        c.plugins.plugin_fix_bogus_via_networks =
            Some(siproxd_rs::acl::AclList::parse("10.0.0.0/8").unwrap());
    });
    // Carol's phone sits behind another NAT: its Via names its private address.
    let carol = "198.51.100.40:40000";
    let inv = "INVITE sip:alice@203.0.113.5 SIP/2.0\nVia: SIP/2.0/UDP 10.1.2.3:5062;branch=z9hG4bKc1\nMax-Forwards: 70\nFrom: <sip:carol@example.net>;tag=c1\nTo: <sip:alice@example.com>\nCall-ID: ccall@10.1.2.3\nCSeq: 1 INVITE\nContact: <sip:carol@10.1.2.3:5062>\nContent-Length: 0\n\n";
    let f = one(lab.on_wan(carol, inv));
    assert_eq!(f.to, sa(A));
    let vias = f.headers("Via");
    assert_eq!(vias[1], "SIP/2.0/UDP 198.51.100.40:40000;branch=z9hG4bKc1");
    let ok = format!(
        "SIP/2.0 180 Ringing\nVia: {}\nVia: {}\nFrom: <sip:carol@example.net>;tag=c1\nTo: <sip:alice@example.com>;tag=a9\nCall-ID: ccall@10.1.2.3\nCSeq: 1 INVITE\nContent-Length: 0\n\n",
        vias[0], vias[1]
    );
    let r = one(lab.on_lan(A, &ok));
    assert_eq!(
        r.to,
        sa(carol),
        "the response goes where the request came from"
    );
    // A phone of ours with a private Via is not touched (its requests are outgoing).
    let fwd = one(lab.on_lan(A, &invite("", "")));
    assert_eq!(
        fwd.headers("Via")[1],
        "SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKinv1"
    );
}

#[test]
fn fix_dtag_gives_our_via_back_to_a_response_that_lost_it() {
    let mut lab = lab_with(&["fix_DTAG"], |c| {
        c.plugins.plugin_fix_dtag_networks =
            Some(siproxd_rs::acl::AclList::parse("217.0.0.0/13").unwrap());
    });
    let fwd = one(lab.on_lan(A, &invite("", "")));
    let vias = fwd.headers("Via");
    let branch = vias[0].split("branch=").nth(1).unwrap().to_string();
    let resp = |top: &str| {
        format!(
            "SIP/2.0 180 Ringing\nVia: SIP/2.0/UDP {top};branch={branch}\nVia: {}\nFrom: <sip:alice@example.com>;tag=a1\nTo: <sip:bob@example.com>;tag=b1\nCall-ID: {CALL}\nCSeq: 1 INVITE\nContent-Length: 0\n\n",
            vias[1]
        )
    };
    let r = one(lab.on_wan("217.0.2.2:5060", &resp("217.0.1.1:5060")));
    assert_eq!(r.to, sa(A));
    assert_eq!(
        r.headers("Via"),
        [vias[1].clone()],
        "the repaired Via was removed as ours"
    );
    // From a host outside the networks, a foreign top Via is not ours: dropped as before.
    assert!(lab
        .on_wan("198.51.100.20:5060", &resp("217.0.1.1:5060"))
        .is_empty());
}

#[test]
fn fix_fbox_anoncall_lets_the_contact_of_an_anonymous_call_be_masqueraded() {
    let mut lab = lab_with(&["fix_fbox_anoncall"], |c| {
        c.plugins.plugin_fix_fbox_anoncall_networks =
            Some(siproxd_rs::acl::AclList::parse("192.168.1.10/32").unwrap());
    });
    let inv = request(
        "INVITE sip:alice@203.0.113.5 SIP/2.0",
        "Via: SIP/2.0/UDP 198.51.100.30:5062;branch=z9hG4bKbinv\nMax-Forwards: 70\nFrom: <sip:anonymous@anonymous.invalid>;tag=b1\nTo: <sip:alice@example.com>\nCall-ID: bcall@198.51.100.30\nCSeq: 1 INVITE\nContact: <sip:bob@198.51.100.30:5062>\n",
        "",
    );
    let f = one(lab.on_wan(B, &inv));
    assert_eq!(f.to, sa(A));
    let vias = f.headers("Via");
    // The Fritzbox answers with another user in its Contact than the one it registered.
    let ok = |contact_user: &str| {
        format!(
            "SIP/2.0 200 OK\nVia: {}\nVia: {}\nFrom: <sip:anonymous@anonymous.invalid>;tag=b1\nTo: <sip:alice@example.com>;tag=a9\nCall-ID: bcall@198.51.100.30\nCSeq: 1 INVITE\nContact: <sip:{contact_user}@192.168.1.10:5060>\nContent-Length: 0\n\n",
            vias[0], vias[1]
        )
    };
    let r = one(lab.on_lan(A, &ok("0301234")));
    assert_eq!(r.to, sa("198.51.100.30:5062"));
    assert_eq!(
        r.headers("Contact"),
        ["<sip:alice@203.0.113.5>"],
        "masqueraded as alice"
    );
}

#[test]
fn the_rewriting_plugins_work_together_in_load_order() {
    let mut lab = lab_with(
        &["regex_body", "fix_bogus_via", "codecfilter", "stripheader"],
        |c| {
            let p = &mut c.plugins;
            // regex_body turns PCMA into G729, which codecfilter then removes.
            p.plugin_regex_body_desc = vec!["codec".into()];
            p.plugin_regex_body_pattern = vec!["PCMA".into()];
            p.plugin_regex_body_replace = vec!["G729".into()];
            p.plugin_codecfilter_blacklist = vec!["G729".into()];
            p.plugin_stripheader_remove = vec!["User-Agent".into()];
            p.plugin_fix_bogus_via_networks =
                Some(siproxd_rs::acl::AclList::parse("10.0.0.0/8").unwrap());
        },
    );
    let body = sdp_with(
        "192.168.1.10",
        4000,
        "0 8",
        "a=rtpmap:0 PCMU/8000\na=rtpmap:8 PCMA/8000\n",
    );
    let fwd = one(lab.on_lan(A, &invite("User-Agent: phone 1.0\n", &body)));
    assert_length_ok(&fwd);
    assert!(
        fwd.body().contains("m=audio 7070 RTP/AVP 0\r\n"),
        "{}",
        fwd.body()
    );
    assert!(!fwd.body().contains("G729") && !fwd.body().contains("PCMA"));
    assert!(fwd.headers("User-Agent").is_empty(), "{}", fwd.text);
}

#[test]
fn each_fixing_plugin_sees_the_message_its_predecessor_repaired() {
    let mut lab = lab_with(&["regex_body", "fix_bogus_via"], |c| {
        let p = &mut c.plugins;
        p.plugin_regex_body_desc = vec!["name".into()];
        p.plugin_regex_body_pattern = vec!["s=-".into()];
        p.plugin_regex_body_replace = vec!["s=repaired twice".into()];
        p.plugin_fix_bogus_via_networks =
            Some(siproxd_rs::acl::AclList::parse("10.0.0.0/8").unwrap());
    });
    let inv = request(
        "INVITE sip:alice@203.0.113.5 SIP/2.0",
        "Via: SIP/2.0/UDP 10.1.2.3:5062;branch=z9hG4bKc1\nMax-Forwards: 70\nFrom: <sip:carol@example.net>;tag=c1\nTo: <sip:alice@example.com>\nCall-ID: ccall@10.1.2.3\nCSeq: 1 INVITE\nContact: <sip:carol@198.51.100.40:40000>\n",
        &sdp("198.51.100.40", 6000),
    );
    let f = one(lab.on_wan("198.51.100.40:40000", &inv));
    assert_eq!(f.to, sa(A));
    assert_length_ok(&f);
    assert_eq!(
        f.headers("Via")[1],
        "SIP/2.0/UDP 198.51.100.40:40000;branch=z9hG4bKc1"
    );
    assert!(
        f.body().contains("\r\ns=repaired twice\r\n"),
        "{}",
        f.body()
    );
}
