//! Interop suite (issue 14): siproxd-rs between real SIP software nobody here wrote, in network
//! namespaces LAN / router / WAN (see `tests/interop/mod.rs`): Kamailio as the provider
//! (registrar with digest authentication, proxy), baresip as the phones (alice on the LAN with
//! the router as outbound proxy, bob and carol registered directly with the provider), and
//! sipp's digest client. Audio is checked both ways: each phone sends a tone of its own
//! frequency, and the audio the far end decoded must hold that tone for long enough.
//!
//! Needs root and network namespaces; without them each test says loudly that it skipped.
//! kamailio, baresip and sipp must be installed (scripts/test.sh installs them).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test helpers: a failed set-up panics, as a test should
#[path = "interop/mod.rs"]
mod world;
use world::*;

use std::sync::Mutex;
use std::time::Duration;

/// The worlds run one at a time: parallel calls on a small CI machine would test its
/// scheduler, not the proxy.
static SERIAL: Mutex<()> = Mutex::new(());

const SHORT: Duration = Duration::from_secs(5);
const SETUP: Duration = Duration::from_secs(20);

/// The serial lock, or `None` (with a loud message that the test harness does not capture)
/// where the suite cannot run.
fn prepare(test: &str) -> Option<std::sync::MutexGuard<'static, ()>> {
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    static WHY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    if let Some(why) = WHY.get_or_init(unsupported) {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "\n!!!! SKIPPED interop test {test}: {why} !!!!\n"
        );
        return None;
    }
    require_programs();
    Some(guard)
}

/// The registered phones of most scenarios: alice behind the proxy, bob at the provider.
fn alice_and_bob(w: &World) -> (Phone, Phone) {
    let mut bob = w.phone(PhoneSpec::bob(w));
    bob.wait_event("REGISTER_OK", SETUP);
    let mut alice = w.phone(PhoneSpec::alice(w));
    alice.wait_event("REGISTER_OK", SETUP);
    (alice, bob)
}

/// Lets an established call carry audio until both phones report (RTCP) at least `packets`
/// more packets received: packets counted on the far side of each direction.
fn talk(a: &mut Phone, b: &mut Phone, packets: u64) {
    for p in [a, b] {
        p.wait_rx_growth(packets);
    }
}

#[test]
fn call_out_through_the_proxy_has_audio_both_ways_and_the_lan_phone_hangs_up() {
    let Some(_g) = prepare("call_out") else {
        return;
    };
    let w = World::new("callout", "");
    let (mut alice, mut bob) = alice_and_bob(&w);
    assert!(
        w.kamailio_text()
            .contains(&format!("REGISTER sip:{PROVIDER} from {ROUTER_WAN}:5060")),
        "alice's REGISTER reached the provider from the router"
    );
    alice.command("dial", &format!("sip:bob@{PROVIDER}"));
    alice.wait_event("CALL_ESTABLISHED", SETUP);
    bob.wait_event("CALL_ESTABLISHED", SETUP);
    talk(&mut alice, &mut bob, 150);
    alice.command("hangup", "");
    bob.wait_event("CALL_CLOSED", SETUP);
    alice.wait_event("CALL_CLOSED", SHORT);
    bob.received_audio()
        .assert_tone("bob hears alice", 440, 3.0);
    alice
        .received_audio()
        .assert_tone("alice hears bob", 1000, 3.0);
    assert_no_lan_address_reached_the_provider(&w);
}

#[test]
fn call_in_from_the_provider_has_audio_both_ways_and_the_far_end_hangs_up() {
    let Some(_g) = prepare("call_in") else { return };
    let w = World::new("callin", "");
    let (mut alice, mut bob) = alice_and_bob(&w);
    bob.command("dial", &format!("sip:alice@{PROVIDER}"));
    alice.wait_event("CALL_ESTABLISHED", SETUP);
    bob.wait_event("CALL_ESTABLISHED", SETUP);
    talk(&mut alice, &mut bob, 150);
    bob.command("hangup", "");
    alice.wait_event("CALL_CLOSED", SETUP);
    bob.wait_event("CALL_CLOSED", SHORT);
    bob.received_audio()
        .assert_tone("bob hears alice", 440, 3.0);
    alice
        .received_audio()
        .assert_tone("alice hears bob", 1000, 3.0);
    assert_no_lan_address_reached_the_provider(&w);
}

/// Runs sipp's digest client (tests/interop/sipp_register_auth.xml) in the LAN namespace
/// against the router as registrar; returns the messages it traced.
fn sipp_register(w: &World, user: &str, password: &str) -> String {
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/sipp_register_auth.xml"
    );
    let trace = w.dir.join(format!("sipp-{user}-{password}.log"));
    let mut child = w
        .exec(&w.lan, "sipp")
        .args(["-sf", scenario, "-i", PHONE_LAN, "-p", "5090", "-s", user])
        .args(["-au", user, "-ap", password, "-m", "1", "-nostdin"])
        .args([
            "-timeout",
            "15s",
            "-timeout_error",
            "-trace_msg",
            "-message_file",
        ])
        .arg(&trace)
        .arg(format!("{ROUTER_LAN}:5060"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start sipp");
    let mut status = None;
    wait_until("sipp finished", Duration::from_secs(20), || {
        status = child.try_wait().ok().flatten();
        status.is_some()
    });
    let text = std::fs::read_to_string(&trace).unwrap_or_default();
    assert!(status.is_some_and(|s| s.success()), "sipp failed:\n{text}");
    text
}

/// Issue 14's first finding: with proxy authentication on, real clients register with the
/// right password (sipp hashes `uri="sip:192.168.77.1:5060"` for the Request-URI
/// `sip:192.168.77.1`), and a wrong password gets 403 with a log line that says why.
#[test]
fn registration_with_proxy_authentication_accepts_real_digest_clients() {
    let Some(_g) = prepare("proxy_auth") else {
        return;
    };
    let w = World::new(
        "proxyauth",
        "proxy_auth_realm = lanrealm\nproxy_auth_passwd = s3cret\n",
    );
    let mut alice = w.phone(PhoneSpec {
        account: format!("<sip:alice@{ROUTER_LAN}>;auth_pass=s3cret;regint=600"),
        ..PhoneSpec::alice(&w)
    });
    alice.wait_event("REGISTER_OK", SETUP);
    let log = w.proxy_text();
    assert!(
        log.contains(&format!(
            "answering REGISTER sip:{ROUTER_LAN} from {PHONE_LAN}:5060 with 407"
        )) && log.contains(&format!(
            "registered sip:alice@{ROUTER_LAN} from {PHONE_LAN}:5060 (registrar mode)"
        )),
        "baresip was challenged and registered at the proxy itself"
    );

    let ok = sipp_register(&w, "carol", "s3cret");
    assert!(
        ok.contains(&format!("uri=\"sip:{ROUTER_LAN}:5060\"")),
        "sipp's digest uri carries the default port:\n{ok}"
    );
    assert!(
        ok.contains("SIP/2.0 200 OK"),
        "right password registers:\n{ok}"
    );

    let bad = sipp_register(&w, "carol", "wrong");
    assert!(
        bad.contains("SIP/2.0 403"),
        "wrong password gets 403:\n{bad}"
    );
    wait_until("the refusal is logged", SHORT, || {
        w.proxy_text().contains(&format!(
            "REGISTER from {PHONE_LAN}:5090 refused for user \"carol\" (realm \"lanrealm\"): wrong password"
        ))
    });
}

#[test]
fn cancel_before_answer_ends_the_call_on_both_sides_in_both_directions() {
    let Some(_g) = prepare("cancel") else { return };
    let w = World::new("cancel", "");
    let mut bob = w.phone(PhoneSpec::bob(&w).manual_answer());
    bob.wait_event("REGISTER_OK", SETUP);
    let mut alice = w.phone(PhoneSpec::alice(&w).manual_answer());
    alice.wait_event("REGISTER_OK", SETUP);

    // Out: alice rings bob and gives up.
    alice.command("dial", &format!("sip:bob@{PROVIDER}"));
    bob.wait_event("CALL_INCOMING", SETUP);
    alice.wait_event("CALL_RINGING", SETUP);
    alice.command("hangup", "");
    let closed = bob.wait_event("CALL_CLOSED", SETUP);
    alice.wait_event("CALL_CLOSED", SHORT);
    assert!(
        w.kamailio_text()
            .contains(&format!("CANCEL sip:bob@{PROVIDER} from {ROUTER_WAN}:5060")),
        "the CANCEL went through the proxy to the provider; bob saw {closed}"
    );

    // In: bob rings alice (through the provider and the proxy) and gives up.
    bob.command("dial", &format!("sip:alice@{PROVIDER}"));
    alice.wait_event("CALL_INCOMING", SETUP);
    bob.wait_event("CALL_RINGING", SETUP);
    bob.command("hangup", "");
    alice.wait_event("CALL_CLOSED", SETUP);
    bob.wait_event("CALL_CLOSED", SHORT);
    assert!(!alice.saw("CALL_ESTABLISHED") && !bob.saw("CALL_ESTABLISHED"));
    assert_no_lan_address_reached_the_provider(&w);
}

#[test]
fn hold_and_resume_keep_the_media_path() {
    let Some(_g) = prepare("hold") else { return };
    let w = World::new("hold", "");
    let (mut alice, mut bob) = alice_and_bob(&w);
    alice.command("dial", &format!("sip:bob@{PROVIDER}"));
    alice.wait_event("CALL_ESTABLISHED", SETUP);
    bob.wait_event("CALL_ESTABLISHED", SETUP);
    talk(&mut alice, &mut bob, 100);
    let (a_before, b_before) = (alice.rx_packets(), bob.rx_packets());
    alice.command("hold", "");
    // The re-INVITE (a=sendonly) reached bob and its answer came back through the proxy.
    bob.wait_event("CALL_REMOTE_SDP", SETUP);
    alice.wait_event("CALL_REMOTE_SDP", SETUP);
    alice.command("resume", "");
    bob.wait_event("CALL_REMOTE_SDP", SETUP);
    alice.wait_event("CALL_REMOTE_SDP", SETUP);
    // The media flows again after the resume: 3 s more each way, counted by the receivers.
    talk(&mut alice, &mut bob, 150);
    alice.command("hangup", "");
    bob.wait_event("CALL_CLOSED", SETUP);
    // The tones arrived. (baresip 1.0.0's sndfile records decoded audio only up to the first
    // re-INVITE, also in a direct call without the proxy: after the resume the RTCP packet
    // counts of the receivers above are the proof.)
    let secs = |packets: u64| packets as f64 * 0.02 - 0.5;
    alice
        .received_audio()
        .assert_tone("alice hears bob", 1000, secs(a_before));
    bob.received_audio()
        .assert_tone("bob hears alice", 440, secs(b_before));
    assert_no_lan_address_reached_the_provider(&w);
}

#[test]
fn dtmf_as_rfc4733_events_crosses_the_proxy_both_ways() {
    let Some(_g) = prepare("dtmf") else { return };
    let w = World::new("dtmf", "");
    let (mut alice, mut bob) = alice_and_bob(&w);
    alice.command("dial", &format!("sip:bob@{PROVIDER}"));
    alice.wait_event("CALL_ESTABLISHED", SETUP);
    bob.wait_event("CALL_ESTABLISHED", SETUP);
    alice.wait_event("CALL_RTPESTAB", SETUP);
    bob.wait_event("CALL_RTPESTAB", SETUP);
    alice.command("sndcode", "5");
    let got = bob.wait_event("CALL_DTMF_START", SETUP);
    assert!(got.contains("\"param\":\"5\""), "bob got {got}");
    bob.command("sndcode", "#");
    let got = alice.wait_event("CALL_DTMF_START", SETUP);
    assert!(got.contains("\"param\":\"#\""), "alice got {got}");
    alice.command("hangup", "");
    bob.wait_event("CALL_CLOSED", SETUP);
    assert!(
        !w.kamailio_text().contains("provider: INFO"),
        "the digits went as RTP events through the relay, not as SIP INFO"
    );
    assert_no_lan_address_reached_the_provider(&w);
}

/// A blind transfer: bob, called by alice, REFERs her to carol; alice calls carol through the
/// proxy and they talk.
#[test]
fn blind_transfer_by_the_far_end_makes_the_lan_phone_call_the_target() {
    let Some(_g) = prepare("transfer") else {
        return;
    };
    let w = World::new("transfer", "");
    let (mut alice, mut bob) = alice_and_bob(&w);
    let mut carol = w.phone(PhoneSpec::carol(&w));
    carol.wait_event("REGISTER_OK", SETUP);
    alice.command("dial", &format!("sip:bob@{PROVIDER}"));
    alice.wait_event("CALL_ESTABLISHED", SETUP);
    bob.wait_event("CALL_ESTABLISHED", SETUP);
    bob.command("transfer", &format!("sip:carol@{PROVIDER}"));
    carol.wait_event("CALL_ESTABLISHED", SETUP);
    bob.wait_event("CALL_CLOSED", SETUP);
    talk(&mut alice, &mut carol, 150);
    alice.command("hangup", "");
    carol.wait_event("CALL_CLOSED", SETUP);
    assert!(
        w.kamailio_text().contains(&format!(
            "INVITE sip:carol@{PROVIDER} from {ROUTER_WAN}:5060"
        )),
        "alice's call to carol went through the proxy"
    );
    carol
        .received_audio()
        .assert_tone("carol hears alice", 440, 2.5);
    alice
        .received_audio()
        .assert_tone("alice hears carol", 700, 2.5);
    assert_no_lan_address_reached_the_provider(&w);
}

/// Proxy authentication guards registrations at siproxd-rs itself only: a phone that
/// registers with its provider through the proxy answers the provider's own challenges
/// (WWW-Authenticate for REGISTER, Proxy-Authenticate for INVITE) untouched, and calls.
#[test]
fn with_proxy_authentication_on_the_provider_still_authenticates_its_own_users() {
    let Some(_g) = prepare("proxy_auth_outbound") else {
        return;
    };
    let w = World::new(
        "authoutbound",
        "proxy_auth_realm = lanrealm\nproxy_auth_passwd = s3cret\n",
    );
    let (mut alice, mut bob) = alice_and_bob(&w);
    alice.command("dial", &format!("sip:bob@{PROVIDER}"));
    alice.wait_event("CALL_ESTABLISHED", SETUP);
    bob.wait_event("CALL_ESTABLISHED", SETUP);
    talk(&mut alice, &mut bob, 100);
    bob.command("hangup", "");
    alice.wait_event("CALL_CLOSED", SETUP);
    bob.received_audio()
        .assert_tone("bob hears alice", 440, 1.5);
    alice
        .received_audio()
        .assert_tone("alice hears bob", 1000, 1.5);
}

/// A phone that unregisters (as at shutdown) through the proxy is gone at the provider:
/// calls to it are refused there instead of ringing a stale binding.
#[test]
fn unregistering_through_the_proxy_removes_the_binding_at_the_provider() {
    let Some(_g) = prepare("unregister") else {
        return;
    };
    let w = World::new("unregister", "");
    let (mut alice, mut bob) = alice_and_bob(&w);
    alice.command("uadel", &format!("sip:alice@{PROVIDER}"));
    // The second save of alice's bindings at the provider is the unregistration.
    wait_until(
        "alice's unregistration saved at the provider",
        SETUP,
        || {
            w.kamailio_text()
                .matches(&format!("bindings of sip:alice@{PROVIDER} saved"))
                .count()
                >= 2
        },
    );
    bob.command("dial", &format!("sip:alice@{PROVIDER}"));
    let closed = bob.wait_event("CALL_CLOSED", SETUP);
    assert!(closed.contains("404"), "bob's call: {closed}");
    wait_until("the provider refused the call", SHORT, || {
        w.kamailio_text()
            .contains(&format!("sip:alice@{PROVIDER} is not registered"))
    });
    assert_no_lan_address_reached_the_provider(&w);
}

/// Issue 14: a far end whose media comes from another address than its SDP says (as behind a
/// provider's media anchor that sends from one address and listens on another). bob's RTP
/// leaves the WAN namespace with the source 203.0.113.9 (SNAT), and nothing listens there.
///
/// The policy (docs/DECISIONS.md §6): by default the relay refuses such media (only the SDP's
/// address may latch, against injected audio), and the log says once per stream which source
/// was refused and which directive changes that; with `rtp_latch_any_source = 1` the first
/// sender is taken and the call has audio both ways.
#[test]
fn asymmetric_far_end_media_is_logged_and_works_with_rtp_latch_any_source() {
    let Some(_g) = prepare("asymmetric") else {
        return;
    };
    // Default: refused, and the log names the source and the directive (once per stream).
    let w = World::new("asymmetric", "");
    w.make_bob_asymmetric("203.0.113.9");
    let (mut alice, mut bob) = alice_and_bob(&w);
    alice.command("dial", &format!("sip:bob@{PROVIDER}"));
    alice.wait_event("CALL_ESTABLISHED", SETUP);
    bob.wait_event("CALL_ESTABLISHED", SETUP);
    // alice's audio reaches bob; bob's is what the relay refuses.
    bob.wait_rx_growth(100);
    alice.command("hangup", "");
    bob.wait_event("CALL_CLOSED", SETUP);
    let log = w.proxy_text();
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("media from 203.0.113.9:") && l.contains("rtp_latch_any_source = 1"))
        .collect();
    assert!(!warnings.is_empty(), "the refused source is logged:\n{log}");
    assert!(
        warnings.len() <= 2,
        "once per stream (RTP, RTCP at most): {warnings:?}"
    );
    drop((alice, bob));
    drop(w);

    // With the directive: audio both ways.
    let w = World::new("asymmetric_any", "rtp_latch_any_source = 1\n");
    w.make_bob_asymmetric("203.0.113.9");
    let (mut alice, mut bob) = alice_and_bob(&w);
    alice.command("dial", &format!("sip:bob@{PROVIDER}"));
    alice.wait_event("CALL_ESTABLISHED", SETUP);
    bob.wait_event("CALL_ESTABLISHED", SETUP);
    talk(&mut alice, &mut bob, 150);
    alice.command("hangup", "");
    bob.wait_event("CALL_CLOSED", SETUP);
    alice
        .received_audio()
        .assert_tone("alice hears bob", 1000, 2.5);
    bob.received_audio()
        .assert_tone("bob hears alice", 440, 2.5);
}

/// A re-INVITE that changes the codec: the provider lets re-INVITEs in carol's calls offer
/// only PCMA (Kamailio removes PCMU from the offer), so the call set up with PCMU goes on with
/// PCMA after alice's re-INVITE; the media keeps flowing through the relay both ways.
#[test]
fn a_reinvite_changing_the_codec_keeps_the_media_flowing() {
    let Some(_g) = prepare("codec_change") else {
        return;
    };
    let w = World::new("codec", "");
    let mut carol = w.phone(PhoneSpec::carol(&w));
    carol.wait_event("REGISTER_OK", SETUP);
    let mut alice = w.phone(PhoneSpec::alice(&w));
    alice.wait_event("REGISTER_OK", SETUP);
    alice.command("dial", &format!("sip:carol@{PROVIDER}"));
    alice.wait_event("CALL_ESTABLISHED", SETUP);
    carol.wait_event("CALL_ESTABLISHED", SETUP);
    talk(&mut alice, &mut carol, 100);
    let log = |p: &Phone| std::fs::read_to_string(p.dir.join("baresip.log")).unwrap_or_default();
    for p in [&alice, &carol] {
        assert!(
            log(p).contains("Set audio encoder: PCMU") && !log(p).contains("PCMA 8000Hz"),
            "{} starts with PCMU",
            p.name
        );
    }
    alice.command("reinvite", "");
    carol.wait_event("CALL_REMOTE_SDP", SETUP);
    alice.wait_event("CALL_REMOTE_SDP", SETUP);
    for p in [&alice, &carol] {
        wait_until(&format!("{} switches to PCMA", p.name), SHORT, || {
            let l = log(p);
            l.contains("Set audio encoder: PCMA") && l.contains("Set audio decoder: PCMA")
        });
    }
    assert!(w
        .kamailio_text()
        .contains("re-INVITE of carol's call restricted to PCMA"));
    // Packets go on arriving both ways after the change, counted by the receivers.
    talk(&mut alice, &mut carol, 150);
    alice.command("hangup", "");
    carol.wait_event("CALL_CLOSED", SETUP);
    // The tones before the change (sndfile records up to the first re-INVITE only).
    carol
        .received_audio()
        .assert_tone("carol hears alice", 440, 1.5);
    alice
        .received_audio()
        .assert_tone("alice hears carol", 700, 1.5);
    assert_no_lan_address_reached_the_provider(&w);
}

/// Two phones behind the same proxy call each other through the provider: both legs of the
/// call cross the proxy (out to the provider and back in), and the audio still flows both ways.
#[test]
fn two_lan_phones_call_each_other_through_the_provider() {
    let Some(_g) = prepare("lan_to_lan") else {
        return;
    };
    let w = World::new("lan2lan", "");
    let mut dave = w.phone(PhoneSpec::dave(&w));
    dave.wait_event("REGISTER_OK", SETUP);
    let mut alice = w.phone(PhoneSpec::alice(&w));
    alice.wait_event("REGISTER_OK", SETUP);
    alice.command("dial", &format!("sip:dave@{PROVIDER}"));
    alice.wait_event("CALL_ESTABLISHED", SETUP);
    dave.wait_event("CALL_ESTABLISHED", SETUP);
    talk(&mut alice, &mut dave, 150);
    dave.command("hangup", "");
    alice.wait_event("CALL_CLOSED", SETUP);
    dave.received_audio()
        .assert_tone("dave hears alice", 440, 2.5);
    alice
        .received_audio()
        .assert_tone("alice hears dave", 1500, 2.5);
    assert_no_lan_address_reached_the_provider(&w);
}
