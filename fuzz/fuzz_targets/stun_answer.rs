//! STUN answer parser (plugin_stun): `parse_answer` against the transaction id the message
//! itself carries (so the fuzzer gets past the id check), and the client's input filter.
//!
//! Invariants: only a Binding success response to the asked transaction gives an address;
//! another id never does; SIP text (a letter first) is never taken for STUN; an answer from a
//! host the client did not ask is never taken.
#![no_main]

use libfuzzer_sys::fuzz_target;
use siproxd_rs::config::Config;
use siproxd_rs::plugins::stun::{parse_answer, Client, Input, Problem};

fuzz_target!(|data: &[u8]| {
    let mut tx = [0u8; 16];
    if let Some(id) = data.get(4..20) {
        tx.copy_from_slice(id);
    }
    let got = parse_answer(data, &tx);
    if got.is_ok() {
        assert_eq!(data.get(..2), Some(&[1u8, 1][..]), "only a success response");
    }
    let mut other = tx;
    other[15] ^= 1;
    match parse_answer(data, &other) {
        Ok(a) => panic!("{a} from an answer to another transaction"),
        Err(Problem::WrongTransaction) => assert!(got != Err(Problem::WrongTransaction)),
        Err(_) => {}
    }

    let mut cfg = Config::default();
    cfg.plugins.plugin_stun_server = Some("192.0.2.1".into());
    let Ok(mut c) = Client::from_config(&cfg, 1) else {
        panic!("a set server builds")
    };
    c.start(0);
    let _ = c.request_to("192.0.2.1:3478".parse().expect("address"));
    let r = c.handle(1, "192.0.2.2:3478".parse().expect("address"), data);
    assert!(matches!(r, Input::NotStun | Input::Ignored(_)), "{r:?}");
    if data.first().is_some_and(u8::is_ascii_alphabetic) {
        assert_eq!(r, Input::NotStun);
    }
    let r = c.handle(1, "192.0.2.1:3478".parse().expect("address"), data);
    assert_eq!(c.public().is_some(), matches!(r, Input::Answer(Some(_))));
});
