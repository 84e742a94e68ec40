//! Registration file: round trip through save/parse/restore, corrupt records, siproxd's
//! old `****:` format.
#![allow(clippy::unwrap_used)] // test helpers: a failed set-up panics, as a test should

use std::net::SocketAddr;

use proptest::prelude::*;
use siproxd_rs::registry::{
    parse_saved, ContactBinding, LoadProblem, Masking, Mode, Registry, RestoreReport, Uri,
    UrlField, Want,
};

fn uri(s: &str) -> Uri {
    Uri::parse(s).unwrap()
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

const PROXY: Mode<'static> = Mode::OutboundProxy {
    outbound_host: "203.0.113.5",
    listen_port: 5060,
};

/// Monotonic clock of the first process, and the wall clock at the same instant.
const NOW: u64 = 500;
const UNIX: u64 = 1_795_000_000;

fn proxied(r: &mut Registry, now: u64, aor: &str, contact: &str, src: &str, granted: u32) {
    let slot = r
        .register(
            now,
            PROXY,
            &Masking::default(),
            &uri(aor),
            addr(src),
            &[ContactBinding {
                uri: uri(contact),
                expires: 3600,
            }],
        )
        .unwrap()
        .unwrap();
    if granted > 0 {
        let masq = r.entry(slot).unwrap().masq_url().clone();
        r.confirm(now, slot, &masq, granted).unwrap();
    }
}

#[test]
fn round_trip_routes_after_restart() {
    let mut r = Registry::new(8);
    proxied(
        &mut r,
        NOW,
        "sip:alice@example.com",
        "sip:alice@192.168.1.10:5060;line=abc",
        "192.168.1.10:5060",
        600,
    );
    proxied(
        &mut r,
        NOW,
        "sip:bob@example.com",
        "sip:b%40x@[fd00::2]:5062",
        "[fd00::2]:5062",
        120,
    );
    // Provisional (no 2xx yet): not written.
    proxied(
        &mut r,
        NOW,
        "sip:carol@example.com",
        "sip:carol@192.168.1.12",
        "192.168.1.12:5060",
        0,
    );
    let mut text = String::new();
    r.save(NOW + 20, UNIX, &mut text).unwrap();
    assert!(text.starts_with("siproxd-rs-registrations 1\n"));
    let records: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .skip(1)
        .collect();
    assert_eq!(
        records,
        [
            "sip:alice@example.com sip:alice@203.0.113.5 sip:alice@192.168.1.10:5060;line=abc 192.168.1.10:5060 1795000580",
            "sip:bob@example.com sip:bob@203.0.113.5 sip:b%2540x@[fd00::2]:5062 [fd00::2]:5062 1795000100",
        ]
    );

    let loaded = parse_saved(&text);
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert!(!loaded.legacy);
    assert_eq!(loaded.records.len(), 2);
    assert_eq!(loaded.records[1].true_url.user(), Some("b%40x"));

    // New process: its monotonic clock starts at 7, and 30 s of wall time passed.
    let mut fresh = Registry::new(8);
    let report = fresh.restore(7, UNIX + 30, &loaded.records);
    assert_eq!(
        report,
        RestoreReport {
            restored: 2,
            expired: 0,
            dropped: 0
        }
    );
    let slot = fresh
        .find_by_url(7, &uri("sip:alice@203.0.113.5"), UrlField::Masq, Want::Live)
        .unwrap();
    let b: Vec<_> = fresh.live_bindings(7, slot).collect();
    assert_eq!(b.len(), 1);
    assert_eq!(
        b[0].true_url.to_string(),
        "sip:alice@192.168.1.10:5060;line=abc"
    );
    assert_eq!(b[0].source, addr("192.168.1.10:5060"));
    // 580 s were left at save time, 30 s passed since.
    assert_eq!(b[0].expires, 7 + 550);

    // Saving the restored table gives the same records.
    let mut again = String::new();
    fresh.save(7, UNIX + 30, &mut again).unwrap();
    assert_eq!(again, text);
}

#[test]
fn restore_skips_expired_and_counts_what_does_not_fit() {
    let text = "siproxd-rs-registrations 1\n\
        sip:a@x sip:a@o sip:a@10.0.0.1 10.0.0.1:5060 100\n\
        sip:b@x sip:b@o sip:b@10.0.0.2 10.0.0.2:5060 2000\n\
        sip:c@x sip:c@o sip:c@10.0.0.3 10.0.0.3:5060 3000\n\
        sip:b@x sip:b@o sip:b@10.0.0.2:5070 10.0.0.2:5070 2500\n";
    let loaded = parse_saved(text);
    assert_eq!(loaded.records.len(), 4);
    let mut r = Registry::new(1);
    let report = r.restore(0, 1000, &loaded.records);
    assert_eq!(
        report,
        RestoreReport {
            restored: 2,
            expired: 1,
            dropped: 1
        }
    );
    // The duplicate contact merged into one binding with the later expiry.
    let e = r.entry(0).unwrap();
    assert_eq!(e.bindings().len(), 1);
    assert_eq!(e.bindings()[0].expires, 1500);
    assert_eq!(e.bindings()[0].true_url.port(), Some(5070));
    assert_eq!(r.next_deadline(), Some(1505));
}

#[test]
fn corrupt_records_are_skipped_with_line_and_reason() {
    let text = "siproxd-rs-registrations 1\r\n\
        # comment\r\n\
        \r\n\
        sip:a@x sip:a@o sip:a@10.0.0.1 10.0.0.1:5060 2000\r\n\
        sip:b@x sip:b@o sip:b@10.0.0.2 10.0.0.2:5060\r\n\
        sip:b%2@x sip:b@o sip:b@10.0.0.2 10.0.0.2:5060 2000\r\n\
        sip:b@x sip:b@o sip:b@10.0.0.2 10.0.0.2 2000\r\n\
        sip:b@x sip:b@o sip:b@10.0.0.2 10.0.0.2:5060 -4\r\n\
        sip:b%20c@x sip:b@o sip:b@10.0.0.2 10.0.0.2:5060 2000\r\n\
        sip:b@x sip:%FF@o sip:b@10.0.0.2 10.0.0.2:5060 2000\r\n\
        sip:b@x sip:b@o nothing 10.0.0.2:5060 2000\r\n\
        sip:c@x sip:c@o sip:c@10.0.0.3 10.0.0.3:5060 2000 extra\r\n\
        sip:d@x sip:d@o sip:d@10.0.0.4 10.0.0.4:5060 2000\r\n";
    let loaded = parse_saved(text);
    let users: Vec<_> = loaded
        .records
        .iter()
        .map(|r| r.reg_url.user().unwrap().to_string())
        .collect();
    assert_eq!(users, ["a", "d"]);
    let got: Vec<(usize, LoadProblem)> = loaded
        .warnings
        .iter()
        .map(|w| (w.line, w.problem))
        .collect();
    assert_eq!(got.len(), 8, "{got:?}");
    assert_eq!(got[0], (5, LoadProblem::FieldCount(4)));
    assert_eq!(got[1], (6, LoadProblem::BadEscape));
    assert_eq!(got[2], (7, LoadProblem::BadSource));
    assert_eq!(got[3], (8, LoadProblem::BadExpiry));
    assert!(matches!(
        got[4],
        (
            9,
            LoadProblem::BadUri {
                field: "reg_url",
                ..
            }
        )
    ));
    assert_eq!(got[5], (10, LoadProblem::NotUtf8));
    assert!(matches!(
        got[6],
        (
            11,
            LoadProblem::BadUri {
                field: "true_url",
                ..
            }
        )
    ));
    assert_eq!(got[7], (12, LoadProblem::FieldCount(6)));
    // The warning text names the line.
    assert_eq!(
        loaded.warnings[0].to_string(),
        "line 5: 4 fields, expected 5"
    );
}

#[test]
fn unknown_header_version_and_empty_file() {
    let l = parse_saved("");
    assert!(l.records.is_empty() && l.warnings.is_empty());
    let l = parse_saved("\n\n");
    assert!(l.records.is_empty() && l.warnings.is_empty());

    let l = parse_saved("hello world\nsip:a@x sip:a@o sip:a@10.0.0.1 10.0.0.1:5060 2000\n");
    assert!(l.records.is_empty());
    assert_eq!(l.warnings.len(), 1);
    assert_eq!(l.warnings[0].line, 1);
    assert_eq!(l.warnings[0].problem, LoadProblem::UnknownFormat);

    let l = parse_saved(
        "siproxd-rs-registrations 2\nsip:a@x sip:a@o sip:a@10.0.0.1 10.0.0.1:5060 2000\n",
    );
    assert!(l.records.is_empty());
    assert_eq!(l.warnings[0].problem, LoadProblem::UnsupportedVersion);

    // Binary garbage never panics.
    let garbage: String = (0u8..=255).map(char::from).collect();
    let l = parse_saved(&garbage);
    assert!(l.records.is_empty());
}

#[test]
fn siproxd_old_format_is_migrated() {
    // As siproxd writes it (§6): every slot, inactive ones as one line, CRLF tolerated.
    let text = "****:1:1795003600\r\n\
        sip:alice@192.168.1.10:5060;line=abc\r\n\
        sip:alice@203.0.113.5\r\n\
        sip:alice@example.com\r\n\
        ****:0:1794000000\r\n\
        ****:0:0\r\n\
        ****:1:1795000100\n\
        sip:bob@192.168.1.11\n\
        \n\
        sip:bob@example.com\n\
        ****:1:1795000200\n\
        sip:carol@carol-phone.lan:5062\n\
        sip:carol@203.0.113.5\n\
        sip:carol@example.com\n\
        ****:1:1795000300\n\
        sip:dave@192.168.1.13\n\
        ****:x:1\n\
        ****:1:1795000400\n\
        sip:erin@192.168.1.14:5070\n\
        sip:erin@203.0.113.5\n\
        sip:erin@example.com\n\
        ****:1:1700000000\n\
        sip:old@192.168.1.15\n\
        sip:old@203.0.113.5\n\
        sip:old@example.com\n";
    let loaded = parse_saved(text);
    assert!(loaded.legacy);
    let got: Vec<_> = loaded
        .records
        .iter()
        .map(|r| {
            (
                r.reg_url.to_string(),
                r.masq_url.to_string(),
                r.true_url.to_string(),
                r.source,
                r.expires_unix,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "sip:alice@example.com".to_string(),
                "sip:alice@203.0.113.5".to_string(),
                "sip:alice@192.168.1.10:5060;line=abc".to_string(),
                addr("192.168.1.10:5060"),
                1_795_003_600
            ),
            (
                "sip:erin@example.com".to_string(),
                "sip:erin@203.0.113.5".to_string(),
                "sip:erin@192.168.1.14:5070".to_string(),
                addr("192.168.1.14:5070"),
                1_795_000_400
            ),
            (
                "sip:old@example.com".to_string(),
                "sip:old@203.0.113.5".to_string(),
                "sip:old@192.168.1.15".to_string(),
                addr("192.168.1.15:5060"),
                1_700_000_000
            ),
        ]
    );
    let problems: Vec<_> = loaded
        .warnings
        .iter()
        .map(|w| (w.line, w.problem))
        .collect();
    assert_eq!(
        problems,
        [
            (9, LoadProblem::LegacyEmptyUri("masq_url")),
            (12, LoadProblem::LegacyNoSource),
            (15, LoadProblem::LegacyTruncated),
            (17, LoadProblem::LegacyBadRecord),
        ]
    );
    // The expired one is dropped on restore; alice routes.
    let mut r = Registry::new(4);
    let report = r.restore(0, UNIX, &loaded.records);
    assert_eq!((report.restored, report.expired), (2, 1));
    assert!(r
        .find_by_url(0, &uri("sip:alice@203.0.113.5"), UrlField::Masq, Want::Live)
        .is_some());
}

fn arb_uri() -> impl Strategy<Value = Uri> {
    (
        prop::sample::select(vec!["sip", "sips", "SIP"]),
        prop::option::of("[a-zA-Z0-9%;=+._-]{1,20}"),
        prop_oneof![
            "[a-z0-9-]{1,20}(\\.[a-z]{2,5})?",
            any::<[u8; 4]>().prop_map(|b| std::net::Ipv4Addr::from(b).to_string()),
            any::<[u16; 8]>().prop_map(|b| std::net::Ipv6Addr::from(b).to_string()),
        ],
        prop::option::of(any::<u16>()),
        "(;[a-z]{1,8}=[a-zA-Z0-9%]{0,8}){0,3}",
    )
        .prop_map(|(s, u, h, p, params)| Uri::new(s, u.as_deref(), &h, p, &params).unwrap())
}

proptest! {
    #[test]
    fn save_parse_round_trip(
        aors in prop::collection::vec((arb_uri(), arb_uri(), any::<SocketAddr>().prop_map(|a| SocketAddr::new(a.ip(), a.port())), 1u32..100_000), 1..6),
        unix in 0u64..4_000_000_000,
    ) {
        let mut r = Registry::new(8);
        for (aor, contact, src, lifetime) in &aors {
            r.register(0, Mode::Registrar, &Masking::default(), aor, *src,
                &[ContactBinding { uri: contact.clone(), expires: *lifetime }]).unwrap();
        }
        let mut text = String::new();
        r.save(0, unix, &mut text).unwrap();
        let loaded = parse_saved(&text);
        prop_assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        let expected: Vec<_> = r.iter().flat_map(|(_, e)| e.bindings().iter().map(move |b| (e, b)))
            .map(|(e, b)| (e.reg_url().clone(), e.masq_url().clone(), b.true_url.clone(), b.source, unix + b.expires))
            .collect();
        let got: Vec<_> = loaded.records.iter()
            .map(|s| (s.reg_url.clone(), s.masq_url.clone(), s.true_url.clone(), s.source, s.expires_unix))
            .collect();
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn parser_never_panics(text in "(siproxd-rs-registrations 1\n|\\*\\*\\*\\*:1:5\n)?[ -~\n%:@\\[\\]]{0,400}") {
        let l = parse_saved(&text);
        prop_assert!(l.records.len() + l.warnings.len() <= text.lines().count());
    }
}

#[test]
fn ipv6_masquerade_host_round_trips() {
    // A phone registered through the router's IPv6 WAN address (issue 13): the masqueraded
    // URI keeps its brackets in the file and finds the binding again after a restart.
    let v6 = Mode::OutboundProxy {
        outbound_host: "[2001:db8::5]",
        listen_port: 5060,
    };
    let mut r = Registry::new(4);
    let slot = r
        .register(
            NOW,
            v6,
            &Masking::default(),
            &uri("sip:dave@example.com"),
            addr("192.168.1.13:5060"),
            &[ContactBinding {
                uri: uri("sip:dave@192.168.1.13"),
                expires: 3600,
            }],
        )
        .unwrap()
        .unwrap();
    let masq = r.entry(slot).unwrap().masq_url().clone();
    assert_eq!(masq.to_string(), "sip:dave@[2001:db8::5]");
    r.confirm(NOW, slot, &masq, 600).unwrap();
    let mut text = String::new();
    r.save(NOW, UNIX, &mut text).unwrap();
    assert!(text.contains(" sip:dave@[2001:db8::5] "), "{text}");
    let loaded = parse_saved(&text);
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let mut fresh = Registry::new(4);
    assert_eq!(fresh.restore(7, UNIX, &loaded.records).restored, 1);
    assert!(fresh
        .find_by_url(
            7,
            &uri("sip:dave@[2001:db8::5]"),
            UrlField::Masq,
            Want::Live
        )
        .is_some());
}
