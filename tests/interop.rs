//! Interop suite (issue 14): siproxd-rs between real SIP software nobody here wrote, in network
//! namespaces LAN / router / WAN (see `tests/interop/mod.rs`): Kamailio as the provider
//! (registrar with digest authentication, proxy), baresip as the phones (alice on the LAN with
//! the router as outbound proxy, bob and carol registered directly with the provider), and
//! sipp's digest client. Audio is checked both ways: each phone sends a tone of its own
//! frequency, and the audio the far end decoded must hold that tone for long enough.
//!
//! Needs root and network namespaces; without them each test says loudly that it skipped.
//! kamailio, baresip and sipp must be installed (scripts/test.sh installs them).
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

/// The serial lock, or `None` (with a loud message) where the suite cannot run.
fn prepare(test: &str) -> Option<std::sync::MutexGuard<'static, ()>> {
    if let Some(why) = unsupported() {
        eprintln!("\n!!!! SKIPPED interop test {test}: {why} !!!!\n");
        return None;
    }
    require_programs();
    Some(SERIAL.lock().unwrap_or_else(|e| e.into_inner()))
}

/// The registered phones of most scenarios: alice behind the proxy, bob at the provider.
fn alice_and_bob(w: &World) -> (Phone, Phone) {
    let mut bob = w.phone(PhoneSpec::bob(w));
    bob.wait_event("REGISTER_OK", SETUP);
    let mut alice = w.phone(PhoneSpec::alice(w));
    alice.wait_event("REGISTER_OK", SETUP);
    (alice, bob)
}

/// Lets an established call carry audio for `secs` (bounded by the RTCP reports baresip
/// sends every 5 s: one report with packets received proves the media path).
fn talk(a: &mut Phone, b: &mut Phone) {
    for p in [a, b] {
        p.wait_event("CALL_RTPESTAB", SETUP);
        // The first report comes at once with zero counts; the second after 5 s of media.
        p.wait_event("CALL_RTCP", SETUP);
        let report = p.wait_event("CALL_RTCP", SETUP);
        assert!(
            !report.contains("\"rx\":{\"sent\":0"),
            "{}: RTCP says no packets were received: {report}",
            p.name
        );
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
    talk(&mut alice, &mut bob);
    alice.command("hangup", "");
    bob.wait_event("CALL_CLOSED", SETUP);
    alice.wait_event("CALL_CLOSED", SHORT);
    bob.received_audio()
        .assert_tone("bob hears alice", 440, 3.0);
    alice
        .received_audio()
        .assert_tone("alice hears bob", 1000, 3.0);
}

#[test]
fn call_in_from_the_provider_has_audio_both_ways_and_the_far_end_hangs_up() {
    let Some(_g) = prepare("call_in") else { return };
    let w = World::new("callin", "");
    let (mut alice, mut bob) = alice_and_bob(&w);
    bob.command("dial", &format!("sip:alice@{PROVIDER}"));
    alice.wait_event("CALL_ESTABLISHED", SETUP);
    bob.wait_event("CALL_ESTABLISHED", SETUP);
    talk(&mut alice, &mut bob);
    bob.command("hangup", "");
    alice.wait_event("CALL_CLOSED", SETUP);
    bob.wait_event("CALL_CLOSED", SHORT);
    bob.received_audio()
        .assert_tone("bob hears alice", 440, 3.0);
    alice
        .received_audio()
        .assert_tone("alice hears bob", 1000, 3.0);
}
