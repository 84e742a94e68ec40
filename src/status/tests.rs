use super::json::{self, Number, Value};
use super::*;
use proptest::prelude::*;

/// A fixed snapshot: two registrations (IPv4, IPv6), a call with a latched audio stream and a
/// video stream that saw nothing, a call without streams whose Call-ID carries a terminal
/// escape, and three counters.
fn sample() -> Snapshot {
    let mut s = Snapshot {
        version: "0.1.0".into(),
        pid: 4242,
        started_unix: 1_794_820_155,
        uptime_s: 2 * 86_400 + 3 * 3600 + 4 * 60 + 5,
        config_file: "/etc/siproxd.conf".into(),
        registrations: vec![
            Registration {
                aor: "sip:alice@example.com".into(),
                contact: "sip:alice@192.168.1.10:5060;line=abc".into(),
                source: "192.168.1.10:5060".into(),
                expires_in_s: 3580,
                state: "live".into(),
            },
            Registration {
                aor: "sip:bob@example.com".into(),
                contact: "sip:bob@[fd00::20]:5062".into(),
                source: "[fd00::20]:5062".into(),
                expires_in_s: 25,
                state: "provisional".into(),
            },
        ],
        calls: vec![
            Call {
                call_id: "a84b4c76e66710@pc33.example.com".into(),
                started_unix: 1_794_820_155 + 183_845 - 95,
                direction: "outgoing".into(),
                party: "alice@example.com".into(),
                streams: vec![
                    Stream {
                        media: "audio".into(),
                        media_index: 0,
                        direction: "incoming".into(),
                        payload_type: Some(8),
                        codec: Some("PCMA".into()),
                        local: "203.0.113.5:7070".into(),
                        remote: "198.51.100.7:49170".into(),
                        latched: Some("198.51.100.7:49170".into()),
                        pkts_in: 1500,
                        bytes_in: 258_000,
                        pkts_out: 1498,
                        bytes_out: 257_656,
                        idle_s: 0,
                        idle_in_s: Some(0),
                        drops: 2,
                        established: Some(true),
                    },
                    Stream {
                        media: "video".into(),
                        media_index: 1,
                        direction: "incoming".into(),
                        payload_type: Some(96),
                        codec: None,
                        local: "203.0.113.5:7072".into(),
                        remote: "198.51.100.7:49172".into(),
                        latched: None,
                        idle_s: 12,
                        ..Stream::default()
                    },
                ],
            },
            Call {
                call_id: "x\u{1b}]0;pwned\u{7}\"".into(),
                streams: vec![],
                ..Call::default()
            },
        ],
        tcp: vec![],
        counters: BTreeMap::new(),
        public: None,
        blacklist: Vec::new(),
    };
    s.count("datagrams_received.sip", 1000);
    s.count("datagrams_received.sip", 234);
    s.count("dropped.acl", 3);
    s.count("table_full.rtp", 0);
    s
}

const SAMPLE_JSON: &str = r#"{
  "format": 1,
  "version": "0.1.0",
  "pid": 4242,
  "started_unix": 1794820155,
  "uptime_s": 183845,
  "config_file": "/etc/siproxd.conf",
  "registrations": [
    {"aor": "sip:alice@example.com", "contact": "sip:alice@192.168.1.10:5060;line=abc", "source": "192.168.1.10:5060", "expires_in_s": 3580, "state": "live"},
    {"aor": "sip:bob@example.com", "contact": "sip:bob@[fd00::20]:5062", "source": "[fd00::20]:5062", "expires_in_s": 25, "state": "provisional"}
  ],
  "calls": [
    {"call_id": "a84b4c76e66710@pc33.example.com", "started_unix": 1795003905, "direction": "outgoing", "party": "alice@example.com", "streams": [
      {"media": "audio", "media_index": 0, "direction": "incoming", "payload_type": 8, "codec": "PCMA", "local": "203.0.113.5:7070", "remote": "198.51.100.7:49170", "latched": "198.51.100.7:49170", "pkts_in": 1500, "bytes_in": 258000, "pkts_out": 1498, "bytes_out": 257656, "idle_s": 0, "idle_in_s": 0, "drops": 2, "established": true},
      {"media": "video", "media_index": 1, "direction": "incoming", "payload_type": 96, "codec": null, "local": "203.0.113.5:7072", "remote": "198.51.100.7:49172", "latched": null, "pkts_in": 0, "bytes_in": 0, "pkts_out": 0, "bytes_out": 0, "idle_s": 12, "idle_in_s": null, "drops": 0, "established": null}
    ]},
    {"call_id": "x\u001b]0;pwned\u0007\"", "started_unix": 0, "direction": "", "party": "", "streams": []}
  ],
  "counters": {
    "datagrams_received.sip": 1234,
    "dropped.acl": 3,
    "table_full.rtp": 0
  }
}
"#;

#[test]
fn the_public_address_round_trips_and_is_shown() {
    let mut snap = sample();
    snap.public = Some(Public {
        address: "203.0.113.50".into(),
        source: "stun".into(),
        last_answer_unix: 1_795_000_000,
    });
    let text = snap.to_json();
    assert!(
        text.contains(
            "\n  \"public\": {\"address\": \"203.0.113.50\", \"source\": \"stun\", \
             \"last_answer_unix\": 1795000000},\n  \"counters\""
        ),
        "{text}"
    );
    assert_eq!(Snapshot::from_json(text.as_bytes()).unwrap(), snap);
    let tables = render_tables(&snap, snap.taken_unix());
    assert!(
        tables.contains("\n  public    203.0.113.50 (stun, answered 2026-11-18 11:06:40 UTC)\n"),
        "{tables}"
    );
}

#[test]
fn json_text_of_the_sample() {
    assert_eq!(sample().to_json(), SAMPLE_JSON);
}

#[test]
fn json_round_trips() {
    assert_eq!(
        Snapshot::from_json(SAMPLE_JSON.as_bytes()).unwrap(),
        sample()
    );
    let empty = Snapshot::new("/etc/config/siproxd", 100, 160);
    assert_eq!(empty.uptime_s, 60);
    assert_eq!(empty.pid, std::process::id());
    let text = empty.to_json();
    assert!(text.contains("\"registrations\": [],\n  \"calls\": [],\n  \"counters\": {}\n}"));
    assert_eq!(Snapshot::from_json(text.as_bytes()).unwrap(), empty);
}

#[test]
fn blacklist_entries_round_trip_and_are_listed() {
    let mut snap = sample();
    snap.blacklist = vec![
        Blocked {
            address: "203.0.113.7".into(),
            kind: "auto".into(),
            failures: 11,
            blocked: true,
            expires_in_s: Some(3590),
            dropped: 42,
        },
        Blocked {
            address: "198.51.100.0/24".into(),
            kind: "manual".into(),
            blocked: true,
            ..Blocked::default()
        },
    ];
    let text = snap.to_json();
    assert!(text.contains(
        "\"blacklist\": [\n    {\"address\": \"203.0.113.7\", \"kind\": \"auto\", \"failures\": 11, \"blocked\": true, \"expires_in_s\": 3590, \"dropped\": 42},"
    ), "{text}");
    assert_eq!(Snapshot::from_json(text.as_bytes()).unwrap(), snap);
    let tables = render_tables(&snap, snap.taken_unix());
    assert!(tables.contains("Blacklist (2)"), "{tables}");
    assert!(
        tables.contains("  203.0.113.7      auto          11  blocked   00:59:50       42\n"),
        "{tables}"
    );
    assert!(!render_tables(&sample(), 0).contains("Blacklist"));
}

#[test]
fn unknown_members_are_ignored() {
    let text = SAMPLE_JSON.replacen(
        "\"pid\": 4242,",
        "\"pid\": 4242, \"future\": {\"x\": [1, 2.5, null]},",
        1,
    );
    assert_eq!(Snapshot::from_json(text.as_bytes()).unwrap(), sample());
}

fn schema_error(text: &str) -> String {
    match Snapshot::from_json(text.as_bytes()) {
        Err(e @ SnapshotError::Schema { .. }) => e.to_string(),
        other => panic!("expected a schema error, got {other:?}"),
    }
}

#[test]
fn schema_errors_name_the_member() {
    assert_eq!(schema_error("[]"), "(top level): expected an object");
    let no_counters = SAMPLE_JSON.replacen(",\n  \"counters\": {", ", \"x\": {", 1);
    assert_eq!(schema_error(&no_counters), "counters: missing");
    let start = SAMPLE_JSON.find("\"counters\"").unwrap();
    let counters_array = format!("{}\"counters\": [1]\n}}\n", &SAMPLE_JSON[..start]);
    assert_eq!(
        schema_error(&counters_array),
        "counters: expected an object"
    );
    assert_eq!(
        schema_error(&SAMPLE_JSON.replacen("\"pid\": 4242,", "", 1)),
        "pid: missing"
    );
    assert_eq!(
        schema_error(&SAMPLE_JSON.replacen("\"pid\": 4242,", "\"pid\": 4242, \"pid\": 1,", 1)),
        "pid: appears twice"
    );
    assert_eq!(
        schema_error(&SAMPLE_JSON.replacen("4242", "4294967296", 1)),
        "pid: out of range"
    );
    assert_eq!(
        schema_error(&SAMPLE_JSON.replacen("\"format\": 1", "\"format\": 2", 1)),
        "format: format 2 is not supported (this siproxd-rs reads format 1)"
    );
    assert_eq!(
        schema_error(&SAMPLE_JSON.replacen("\"uptime_s\": 183845", "\"uptime_s\": -1", 1)),
        "uptime_s: expected a non-negative integer"
    );
    assert_eq!(
        schema_error(&SAMPLE_JSON.replacen("\"expires_in_s\": 25", "\"expires_in_s\": 2.5", 1)),
        "registrations[1].expires_in_s: expected a non-negative integer"
    );
    assert_eq!(
        schema_error(&SAMPLE_JSON.replacen("\"bytes_out\": 0", "\"bytes_out\": \"0\"", 1)),
        "calls[0].streams[1].bytes_out: expected a non-negative integer"
    );
    assert_eq!(
        schema_error(&SAMPLE_JSON.replacen("\"latched\": null", "\"latched\": 7", 1)),
        "calls[0].streams[1].latched: expected a string or null"
    );
    assert_eq!(
        schema_error(&SAMPLE_JSON.replacen("\"streams\": []", "\"streams\": {}", 1)),
        "calls[1].streams: expected an array"
    );
    assert_eq!(
        schema_error(&SAMPLE_JSON.replacen("\"dropped.acl\": 3", "\"dropped.acl\": true", 1)),
        "counters.dropped.acl: expected a count"
    );
    assert_eq!(
        schema_error(&SAMPLE_JSON.replacen(
            "\"dropped.acl\": 3",
            "\"dropped.acl\": 3, \"dropped.acl\": 4",
            1
        )),
        "counters.dropped.acl: appears twice"
    );
    assert_eq!(
        schema_error(&SAMPLE_JSON.replacen(
            "\"registrations\": [\n",
            "\"registrations\": [7,\n",
            1
        )),
        "registrations[0]: expected an object"
    );
}

#[test]
fn syntax_errors_say_where() {
    let truncated = SAMPLE_JSON.get(..200).unwrap();
    let e = Snapshot::from_json(truncated.as_bytes()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid JSON at line 9, column 36: unexpected end of input"
    );
}

const SAMPLE_TABLES: &str = "\
siproxd-rs 0.1.0, pid 4242, up 2d 03:04:05
  config    /etc/siproxd.conf
  started   2026-11-16 09:09:15 UTC
  snapshot  2026-11-18 12:13:20 UTC (00:00:05 ago)

Registrations (2)
  AOR                    CONTACT                               SOURCE              EXPIRES  STATE
  sip:alice@example.com  sip:alice@192.168.1.10:5060;line=abc  192.168.1.10:5060  00:59:40  live
  sip:bob@example.com    sip:bob@[fd00::20]:5062               [fd00::20]:5062    00:00:25  provisional

Calls (2)
  CALL-ID                          DIRECTION  PARTY              STARTED                  DURATION  STATE     STREAMS
  a84b4c76e66710@pc33.example.com  outgoing   alice@example.com  2026-11-18 12:11:45 UTC  00:01:35  answered        2
  x?]0;pwned?\"                     -          -                  -                               -  -               0

Streams (2, one row per relay socket)
  CALL-ID                          MEDIA     CODEC     FACES     LOCAL             REMOTE              LATCHED             PKTS IN   BYTES IN  PKTS OUT  BYTES OUT  FLOW   LAST IN  DROPS
  a84b4c76e66710@pc33.example.com  #0 audio  PCMA (8)  internet  203.0.113.5:7070  198.51.100.7:49170  198.51.100.7:49170     1500  251.9 KiB      1498  251.6 KiB  both  00:00:00      2
                                   #1 video  pt 96     internet  203.0.113.5:7072  198.51.100.7:49172  -                         0        0 B         0        0 B  none     never      0

Counters
  datagrams_received.sip  1234
  dropped.acl                3
  table_full.rtp             0
";

#[test]
fn tables_of_the_sample() {
    let snap = sample();
    let text = render_tables(&snap, snap.taken_unix() + 5);
    assert_eq!(text, SAMPLE_TABLES, "got:\n{text}");
}

#[test]
fn empty_sections_say_none() {
    let snap = Snapshot {
        version: "0.1.0".into(),
        pid: 1,
        started_unix: 0,
        uptime_s: 59,
        config_file: String::new(),
        ..Snapshot::default()
    };
    assert_eq!(
        render_tables(&snap, 10),
        "siproxd-rs 0.1.0, pid 1, up 00:00:59\n  config    -\n  started   1970-01-01 00:00:00 UTC\n  \
         snapshot  1970-01-01 00:00:59 UTC (in the future: check the clock)\n\n\
         Registrations (0)\n  (none)\n\nCalls (0)\n  (none)\n\n\
         Streams (0, one row per relay socket)\n  (none)\n\nCounters\n  (none)\n"
    );
}

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-z0-9@.:;=\\[\\]-]{0,30}",
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(|b| text_from_bytes(&b)),
    ]
}

fn any_stream() -> impl Strategy<Value = Stream> {
    (
        (
            any_text(),
            any_text(),
            any_text(),
            proptest::option::of(any_text()),
        ),
        proptest::array::uniform6(any::<u64>()),
        (
            any::<u64>(),
            any_text(),
            proptest::option::of(0u8..=127),
            proptest::option::of(any_text()),
        ),
        (
            proptest::option::of(any::<u64>()),
            proptest::option::of(any::<bool>()),
        ),
    )
        .prop_map(
            |(
                (media, local, remote, latched),
                n,
                (media_index, direction, payload_type, codec),
                (idle_in_s, established),
            )| Stream {
                media,
                media_index,
                direction,
                payload_type,
                codec,
                local,
                remote,
                latched,
                pkts_in: n[0],
                bytes_in: n[1],
                pkts_out: n[2],
                bytes_out: n[3],
                idle_s: n[4],
                idle_in_s,
                drops: n[5],
                established,
            },
        )
}

fn any_snapshot() -> impl Strategy<Value = Snapshot> {
    let reg = (any_text(), any_text(), any_text(), any::<u64>(), any_text()).prop_map(
        |(aor, contact, source, expires_in_s, state)| Registration {
            aor,
            contact,
            source,
            expires_in_s,
            state,
        },
    );
    let call = (
        (any_text(), any::<u64>(), any_text(), any_text()),
        proptest::collection::vec(any_stream(), 0..3),
    )
        .prop_map(
            |((call_id, started_unix, direction, party), streams)| Call {
                call_id,
                started_unix,
                direction,
                party,
                streams,
            },
        );
    (
        (
            any_text(),
            any::<u32>(),
            any::<u64>(),
            any::<u64>(),
            any_text(),
        ),
        proptest::collection::vec(reg, 0..4),
        proptest::collection::vec(call, 0..4),
        proptest::collection::btree_map(any_text(), any::<u64>(), 0..5),
    )
        .prop_map(
            |(
                (version, pid, started_unix, uptime_s, config_file),
                registrations,
                calls,
                counters,
            )| {
                Snapshot {
                    version,
                    pid,
                    started_unix,
                    uptime_s,
                    config_file,
                    registrations,
                    calls,
                    tcp: Vec::new(),
                    counters,
                    public: None,
                    blacklist: Vec::new(),
                }
            },
        )
}

fn any_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u64>().prop_map(|n| Value::Number(Number::Unsigned(n))),
        (i64::MIN..0).prop_map(|n| Value::Number(Number::Negative(n))),
        // any finite float as Rust writes it ("1.5", "-0.0", "1e-7", "1.5e300"): JSON numbers
        // that are not integers, which the reader keeps as written
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| Value::Number(Number::Other(format!("{f:?}").into()))),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((any::<String>(), inner), 0..6).prop_map(Value::Object),
        ]
    })
}

proptest! {
    #[test]
    fn any_snapshot_round_trips(snap in any_snapshot()) {
        let text = snap.to_json();
        prop_assert_eq!(Snapshot::from_json(text.as_bytes()).unwrap(), snap.clone());
        // The printer copes with whatever the file holds.
        let tables = render_tables(&snap, 0);
        prop_assert!(!tables.chars().any(|c| c.is_control() && c != '\n'));
    }

    #[test]
    fn any_value_round_trips(v in any_value()) {
        let mut text = String::new();
        v.write(&mut text);
        prop_assert_eq!(json::parse(text.as_bytes()).unwrap(), v);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_reader(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = json::parse(&bytes);
        let _ = Snapshot::from_json(&bytes);
    }

    #[test]
    fn damaged_snapshots_are_errors_not_panics(
        edits in proptest::collection::vec((0usize..SAMPLE_JSON.len(), any::<u8>()), 1..8),
        cut in 0usize..=SAMPLE_JSON.len(),
    ) {
        let mut bytes = SAMPLE_JSON.as_bytes().to_vec();
        for (at, b) in edits {
            bytes[at] = b;
        }
        bytes.truncate(cut);
        let _ = Snapshot::from_json(&bytes);
        if cut < SAMPLE_JSON.trim_end().len() {
            prop_assert!(Snapshot::from_json(&bytes).is_err());
        }
    }
}

#[test]
fn files_of_older_versions_read_with_unknown_call_details() {
    // Format 1 as first released: no call start, direction, party, media index, codec.
    let old = SAMPLE_JSON
        .replace(
            ", \"started_unix\": 1795003905, \"direction\": \"outgoing\", \"party\": \"alice@example.com\"",
            "",
        )
        .replace(", \"started_unix\": 0, \"direction\": \"\", \"party\": \"\"", "")
        .replace(
            ", \"media_index\": 0, \"direction\": \"incoming\", \"payload_type\": 8, \"codec\": \"PCMA\"",
            "",
        )
        .replace(
            ", \"media_index\": 1, \"direction\": \"incoming\", \"payload_type\": 96, \"codec\": null",
            "",
        );
    let old = old
        .replace(", \"idle_in_s\": 0", "")
        .replace(", \"idle_in_s\": null", "")
        .replace(", \"established\": true", "")
        .replace(", \"established\": null", "");
    assert!(
        !old.contains("codec") && !old.contains("party") && !old.contains("idle_in_s"),
        "{old}"
    );
    let snap = Snapshot::from_json(old.as_bytes()).unwrap();
    let mut want = sample();
    for c in &mut want.calls {
        (c.started_unix, c.direction, c.party) = (0, String::new(), String::new());
        for s in &mut c.streams {
            (s.media_index, s.direction, s.payload_type, s.codec) = (0, String::new(), None, None);
            (s.idle_in_s, s.established) = (None, None);
        }
    }
    assert_eq!(snap, want);
}

#[test]
fn payload_type_must_be_an_rtp_payload_type() {
    for bad in ["128", "-1", "\"8\"", "8.5"] {
        assert_eq!(
            schema_error(&SAMPLE_JSON.replacen(
                "\"payload_type\": 8,",
                &format!("\"payload_type\": {bad},"),
                1
            )),
            "calls[0].streams[0].payload_type: expected 0..127 or null"
        );
    }
    assert_eq!(
        schema_error(&SAMPLE_JSON.replacen("\"codec\": null", "\"codec\": 3", 1)),
        "calls[0].streams[1].codec: expected a string or null"
    );
    assert_eq!(
        schema_error(&SAMPLE_JSON.replacen("\"established\": true", "\"established\": 1", 1)),
        "calls[0].streams[0].established: expected true, false or null"
    );
}

/// One relay socket's row for the LuCI fixtures.
#[allow(clippy::too_many_arguments)]
fn row(
    media: &str,
    index: u64,
    facing: &str,
    codec: (Option<u8>, Option<&str>),
    local: &str,
    remote: &str,
    latched: Option<&str>,
    traffic: [u64; 4],
) -> Stream {
    Stream {
        media: media.into(),
        media_index: index,
        direction: facing.into(),
        payload_type: codec.0,
        codec: codec.1.map(Into::into),
        local: local.into(),
        remote: remote.into(),
        latched: latched.map(Into::into),
        pkts_in: traffic[0],
        bytes_in: traffic[1],
        pkts_out: traffic[2],
        bytes_out: traffic[3],
        idle_s: 0,
        idle_in_s: (traffic[0] > 0).then_some(0),
        drops: 0,
        established: Some(true),
    }
}

/// A router with four registrations (one not confirmed yet, one with a hostile AOR) and four
/// calls: audio both ways; one-way audio plus silent video; audio whose phone side went quiet
/// 25 s ago; a ringing call from a hostile party with a huge Call-ID. The LuCI view check renders it (tests/openwrt/luci-check.js).
fn luci_busy() -> Snapshot {
    let started = 1_795_000_000;
    let uptime = 86_400 + 2 * 3600 + 3 * 60 + 4;
    let now = started + uptime;
    let mut s = Snapshot {
        version: "0.1.0".into(),
        pid: 1234,
        started_unix: started,
        uptime_s: uptime,
        config_file: "/etc/config/siproxd".into(),
        public: Some(Public {
            address: "203.0.113.50".into(),
            source: "stun".into(),
            last_answer_unix: now - 20,
        }),
        ..Snapshot::default()
    };
    let reg = |aor: &str, contact: &str, source: &str, expires_in_s, state: &str| Registration {
        aor: aor.into(),
        contact: contact.into(),
        source: source.into(),
        expires_in_s,
        state: state.into(),
    };
    s.registrations = vec![
        reg(
            "sip:alice@sip.example.net",
            "sip:alice@192.168.1.20:5060;line=x7",
            "192.168.1.20:5060",
            3480,
            "live",
        ),
        reg(
            "sip:bob@sip.example.net",
            "sip:bob@192.168.1.21:5060",
            "192.168.1.21:5060",
            45,
            "live",
        ),
        reg(
            "sip:carol@voip.example.org",
            "sip:carol@[fd00::1234:5678:9abc:def0]:5062",
            "[fd00::1234:5678:9abc:def0]:5062",
            0,
            "provisional",
        ),
        reg(
            "sip:<script>alert(1)</script>@example.net",
            "sip:x@192.168.1.66:5060",
            "192.168.1.66:5060",
            600,
            "live",
        ),
    ];
    let pcmu = (Some(0), Some("PCMU"));
    let g722 = (Some(9), Some("G722"));
    let h264 = (Some(96), Some("H264"));
    s.calls = vec![
        Call {
            call_id: "a84b4c76e66710@192.168.1.20".into(),
            started_unix: now - 192,
            direction: "outgoing".into(),
            party: "alice@sip.example.net".into(),
            streams: vec![
                row(
                    "audio",
                    0,
                    "incoming",
                    pcmu,
                    "203.0.113.5:7070",
                    "198.51.100.7:49170",
                    Some("198.51.100.7:49170"),
                    [9600, 1_651_200, 9598, 1_650_856],
                ),
                row(
                    "audio",
                    0,
                    "outgoing",
                    pcmu,
                    "192.168.1.1:7072",
                    "192.168.1.20:4000",
                    Some("192.168.1.20:4000"),
                    [9598, 1_650_856, 9600, 1_651_200],
                ),
            ],
        },
        Call {
            call_id: "7f3e2d1c@provider.example.net".into(),
            started_unix: now - 47,
            direction: "incoming".into(),
            party: "bob@sip.example.net".into(),
            streams: vec![
                Stream {
                    drops: 3,
                    ..row(
                        "audio",
                        0,
                        "incoming",
                        g722,
                        "203.0.113.5:7074",
                        "198.51.100.9:30000",
                        Some("198.51.100.9:30000"),
                        [2350, 404_200, 0, 0],
                    )
                },
                row(
                    "audio",
                    0,
                    "outgoing",
                    g722,
                    "192.168.1.1:7076",
                    "192.168.1.21:4002",
                    None,
                    [0, 0, 2350, 404_200],
                ),
                row(
                    "video",
                    1,
                    "incoming",
                    h264,
                    "203.0.113.5:7078",
                    "198.51.100.9:30002",
                    None,
                    [0; 4],
                ),
                row(
                    "video",
                    1,
                    "outgoing",
                    h264,
                    "192.168.1.1:7080",
                    "192.168.1.21:4004",
                    None,
                    [0; 4],
                ),
            ],
        },
        Call {
            call_id: "5d4c3b2a@192.168.1.22".into(),
            started_unix: now - 3725,
            direction: "outgoing".into(),
            party: "dave@sip.example.net".into(),
            streams: vec![
                row(
                    "audio",
                    0,
                    "incoming",
                    pcmu,
                    "203.0.113.5:7084",
                    "198.51.100.7:49180",
                    Some("198.51.100.7:49180"),
                    [186_000, 31_992_000, 184_700, 31_768_400],
                ),
                Stream {
                    idle_in_s: Some(25),
                    ..row(
                        "audio",
                        0,
                        "outgoing",
                        pcmu,
                        "192.168.1.1:7086",
                        "192.168.1.22:4000",
                        Some("192.168.1.22:4000"),
                        [184_700, 31_768_400, 186_000, 31_992_000],
                    )
                },
            ],
        },
        Call {
            call_id: format!("{}@evil.example", "x".repeat(200)),
            started_unix: now - 3,
            direction: "outgoing".into(),
            party: "<img src=x onerror=alert(1)>@evil.example".into(),
            streams: vec![Stream {
                established: Some(false),
                ..row(
                    "audio",
                    0,
                    "incoming",
                    (Some(8), Some("PCMA")),
                    "203.0.113.5:7082",
                    "-",
                    None,
                    [0; 4],
                )
            }],
        },
    ];
    for (name, n) in [
        ("sip.received", 52_311),
        ("sip.forwarded", 52_003),
        ("sip.generated", 120),
        ("dropped.acl", 17),
        ("dropped.no_register_permission", 4),
        ("dropped.unparsable", 2),
        ("dropped.ack_of_generated_response", 5),
        ("dropped.some_future_reason", 1),
        ("rtp.received", 1_234_567),
        ("rtp.sent", 1_234_500),
        ("rtp.dropped", 31),
        ("rtp.truncated", 0),
        ("table_full.rtp", 0),
        ("rtp.ports_exhausted", 0),
        ("rtp.dropped.foreign_source.open_streams", 12),
    ] {
        s.count(name, n);
    }
    s
}

/// A proxy just started: no phone, no call, every counter zero.
fn luci_idle() -> Snapshot {
    let mut s = Snapshot {
        version: "0.1.0".into(),
        pid: 1234,
        started_unix: 1_795_000_000,
        uptime_s: 42,
        config_file: "/etc/config/siproxd".into(),
        ..Snapshot::default()
    };
    for name in [
        "sip.received",
        "sip.forwarded",
        "rtp.sent",
        "table_full.rtp",
    ] {
        s.count(name, 0);
    }
    s
}

/// The LuCI check's fixtures are what this writer writes; `UPDATE_FIXTURES=1` rewrites them.
#[test]
fn luci_fixtures_are_the_writers_output() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/openwrt/fixtures");
    for (name, snap) in [
        ("status-busy.json", luci_busy()),
        ("status-idle.json", luci_idle()),
    ] {
        let path = dir.join(name);
        let json = snap.to_json();
        if std::env::var_os("UPDATE_FIXTURES").is_some() {
            std::fs::write(&path, &json).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == json,
            "{} differs from the writer's output; regenerate with \
             UPDATE_FIXTURES=1 cargo test --lib status::tests::luci",
            path.display()
        );
        assert_eq!(Snapshot::from_json(committed.as_bytes()).unwrap(), snap);
    }
}

#[test]
fn tcp_connections_are_written_read_back_and_listed() {
    let mut snap = sample();
    assert!(
        !snap.to_json().contains("\"tcp\""),
        "no list without connections"
    );
    snap.tcp = vec![
        TcpConn {
            peer: "192.168.1.10:40001".into(),
            local: "192.168.1.1:5060".into(),
            role: "accepted".into(),
            connecting: false,
            idle_s: 75,
            queued: 0,
        },
        TcpConn {
            peer: "[2001:db8::5]:5060".into(),
            local: "[2001:db8::1]:41234".into(),
            role: "opened".into(),
            connecting: true,
            idle_s: 0,
            queued: 2048,
        },
    ];
    let text = snap.to_json();
    assert!(text.contains(
        "\n  \"tcp\": [\n    {\"peer\": \"192.168.1.10:40001\", \"local\": \"192.168.1.1:5060\", \"role\": \"accepted\", \"connecting\": false, \"idle_s\": 75, \"queued\": 0},\n"
    ), "{text}");
    assert_eq!(Snapshot::from_json(text.as_bytes()).unwrap(), snap);
    let tables = render_tables(&snap, snap.taken_unix());
    let at = tables.find("\nTCP connections (2)\n").expect(&tables);
    assert!(tables[at..].starts_with(
        "\nTCP connections (2)\n  PEER                LOCAL                OPENED BY  STATE           IDLE   QUEUED\n  \
         192.168.1.10:40001  192.168.1.1:5060     peer       open        00:01:15      0 B\n  \
         [2001:db8::5]:5060  [2001:db8::1]:41234  proxy      connecting  00:00:00  2.0 KiB\n\nCounters\n"
    ), "{tables}");
    let bad = text.replace("\"connecting\": true", "\"connecting\": 1");
    assert_eq!(
        Snapshot::from_json(bad.as_bytes()).unwrap_err().to_string(),
        "tcp[1].connecting: expected true or false"
    );
}
