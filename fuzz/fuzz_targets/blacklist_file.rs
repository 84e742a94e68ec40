//! plugin_blacklist's files: the manual file (`parse_manual`) and the state file
//! (`Blacklist::restore`).
//!
//! Invariants: never a panic; every problem points at a line of the input; at most
//! `limits::BLACKLIST_MANUAL` manual entries, each a valid prefix; the table never holds more
//! than its size; what `save` writes is read back whole, and written again identically.
#![no_main]

use libfuzzer_sys::fuzz_target;
use siproxd_rs::config::Config;
use siproxd_rs::limits;
use siproxd_rs::plugins::blacklist::{parse_manual, Blacklist};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines = text.lines().count();

    let (manual, bad) = parse_manual(&text);
    assert!(manual.len() <= limits::BLACKLIST_MANUAL);
    assert!(manual
        .iter()
        .all(|m| m.prefix <= if m.ip.is_ipv4() { 32 } else { 128 }));
    assert!(bad.iter().all(|(l, _)| *l >= 1 && *l <= lines));

    let cfg = Config {
        load_plugin: vec!["blacklist".into()],
        ..Config::default()
    };
    let Some(mut b) = Blacklist::from_config(&cfg) else {
        return;
    };
    let problems = b.restore(1_000, 2_000_000_000, &text);
    assert!(problems.iter().all(|(l, _)| *l >= 1 && *l <= lines.max(1)));
    assert!(b.entries().count() <= limits::BLACKLIST_ENTRIES);
    let mut saved = String::new();
    b.save(1_000, 2_000_000_000, &mut saved);
    let Some(mut again) = Blacklist::from_config(&cfg) else {
        return;
    };
    assert_eq!(again.restore(1_000, 2_000_000_000, &saved), []);
    let mut resaved = String::new();
    again.save(1_000, 2_000_000_000, &mut resaved);
    assert_eq!(saved, resaved);
});
