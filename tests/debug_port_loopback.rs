//! The debug port with real sockets on loopback, driven by a mio loop as the shell drives it.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)] // test helpers: a failed set-up panics, as a test should

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use log::Level;
use mio::{Poll, Token};
use siproxd_rs::debug_log::{banner, refusal, DebugSink};
use siproxd_rs::limits::DEBUG_MAX_CLIENTS;
use siproxd_rs::net::debug_port::DebugPort;

const LISTENER: Token = Token(1);
const FIRST_CLIENT: usize = 100;

mod debug_loop;

use debug_loop::{Loop, WAIT};

/// The port on `ip` with SIP and a second class enabled.
fn bind(ip: &str) -> Loop {
    let mut lp = Loop::bind(ip, LISTENER, FIRST_CLIENT);
    lp.port.set_mask(0x204);
    lp
}

fn line(r: &mut BufReader<TcpStream>) -> String {
    let mut s = String::new();
    let n = r.read_line(&mut s).unwrap();
    assert!(n > 0, "unexpected EOF");
    assert!(s.ends_with('\n'), "partial line {s:?}");
    s.pop();
    s
}

fn expect_banner(r: &mut BufReader<TcpStream>) {
    let expect = banner(env!("CARGO_PKG_VERSION"), std::process::id(), 0x204);
    assert_eq!(line(r), expect.as_str());
}

fn assert_eof(s: &mut impl Read) {
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!("expected EOF, got {:?}", String::from_utf8_lossy(&buf[..n])),
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        Err(e) => panic!("expected EOF, got {e}"),
    }
}

#[test]
fn two_clients_get_the_banner_then_the_same_lines_in_order() {
    let mut lp = bind("127.0.0.1");
    let mut a = lp.client();
    let mut b = lp.client();
    for i in 0..50 {
        lp.port.push_record(&format!("record {i}"));
    }
    lp.port.push_record("two\nlines\n");
    for r in [&mut a, &mut b] {
        expect_banner(r);
        for i in 0..50 {
            assert_eq!(line(r), format!("record {i}"));
        }
        assert_eq!(line(r), "two");
        assert_eq!(line(r), "lines");
    }
}

#[test]
fn the_log_of_a_call_reaches_every_client_through_the_sink() {
    let mut lp = bind("127.0.0.1");
    let mut a = lp.client();
    let mut b = lp.client();
    let call = [
        (
            Level::Debug,
            "sip",
            "received INVITE sip:bob@example.org from 192.168.1.10:5060",
        ),
        (Level::Debug, "net", "not in the mask: never sent"),
        (
            Level::Info,
            "siproxd_rs::proxy",
            "call 1234@pc33 established",
        ),
        (Level::Debug, "rtp", "relay 7070 <-> 7072 opened"),
        (Level::Warn, "siproxd_rs::proxy", "BYE without dialog"),
    ];
    for (level, target, text) in call {
        // What a logger does with the hook: ask, then hand over the text.
        let bit = siproxd_rs::logging::class_bit(target);
        if DebugSink.wants(level, bit) {
            DebugSink.record(level, target, text);
        }
    }
    // Nothing is written until the loop drains the queue.
    lp.turn(Duration::from_millis(1));
    for r in [&mut a, &mut b] {
        expect_banner(r);
        let got: Vec<String> = (0..4).map(|_| line(r)[12..].to_string()).collect();
        assert_eq!(
            got,
            [
                " sip: received INVITE sip:bob@example.org from 192.168.1.10:5060",
                " INFO: call 1234@pc33 established",
                " rtp: relay 7070 <-> 7072 opened",
                " WARNING: BYE without dialog",
            ]
        );
    }
}

#[test]
fn a_fifth_client_is_refused_with_a_message_and_pending_ones_are_accepted_at_once() {
    let mut lp = bind("127.0.0.1");
    let mut streams: Vec<TcpStream> = (0..DEBUG_MAX_CLIENTS + 1).map(|_| lp.connect()).collect();
    // All five wait in the backlog; the first readiness event accepts every one of them.
    lp.turn(WAIT);
    assert_eq!(lp.port.client_count(), DEBUG_MAX_CLIENTS);
    let mut fifth = streams.pop().unwrap();
    let mut refused = String::new();
    fifth.read_to_string(&mut refused).unwrap();
    assert_eq!(refused, refusal().as_str());
    assert_eq!(refused, "siproxd-rs: too many debug clients (max 4)\n");
    lp.port.push_record("still served");
    for s in streams {
        let mut r = BufReader::new(s);
        expect_banner(&mut r);
        assert_eq!(line(&mut r), "still served");
    }
}

#[test]
fn a_disconnect_frees_a_slot() {
    let mut lp = bind("127.0.0.1");
    let mut clients: Vec<_> = (0..DEBUG_MAX_CLIENTS).map(|_| lp.client()).collect();
    let mut extra = lp.connect();
    lp.turn(Duration::from_millis(50));
    let mut refused = String::new();
    extra.read_to_string(&mut refused).unwrap();
    assert_eq!(refused, refusal().as_str());

    drop(clients.remove(1));
    lp.turn_until("disconnect", |p| p.client_count() == DEBUG_MAX_CLIENTS - 1);
    let mut newcomer = lp.client();
    expect_banner(&mut newcomer);
    lp.port.push_record("after the swap");
    assert_eq!(line(&mut newcomer), "after the swap");
    for r in &mut clients {
        expect_banner(r);
        assert_eq!(line(r), "after the swap");
    }
}

#[test]
fn client_input_is_discarded_and_a_half_close_ends_the_session() {
    let mut lp = bind("127.0.0.1");
    let mut r = lp.client();
    r.get_mut().write_all(&[b'x'; 100_000]).unwrap();
    lp.turn(Duration::from_millis(50));
    lp.port.push_record("still here");
    expect_banner(&mut r);
    assert_eq!(line(&mut r), "still here");
    r.get_ref().shutdown(Shutdown::Write).unwrap();
    lp.turn_until("close after EOF", |p| p.client_count() == 0);
    assert_eof(r.get_mut());
}

#[test]
fn a_client_of_another_address_gets_nothing() {
    let mut lp = bind("127.0.0.1");
    let other: SocketAddr = format!("127.0.0.2:{}", lp.addr().port()).parse().unwrap();
    let err = TcpStream::connect_timeout(&other, Duration::from_secs(2)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
    lp.turn(Duration::from_millis(50));
    assert_eq!(lp.port.client_count(), 0);
    // The inbound address itself does work.
    let mut r = lp.client();
    expect_banner(&mut r);
}

#[test]
fn ipv6_loopback_works_too() {
    let mut lp = bind("[::1]");
    let mut r = lp.client();
    lp.port.push_record("over v6");
    expect_banner(&mut r);
    assert_eq!(line(&mut r), "over v6");
}

#[test]
fn a_rebind_that_drops_the_old_port_last_keeps_the_new_one_fed() {
    let mut old = bind("127.0.0.1");
    let mut _old_client = old.client();
    let mut new = bind("127.0.0.1");
    let mut r = new.client();
    drop(old);
    DebugSink.push_line("after the rebind");
    new.turn(Duration::from_millis(1));
    expect_banner(&mut r);
    assert_eq!(line(&mut r), "after the rebind");
}

#[test]
fn client_tokens_may_not_cover_the_listener_token() {
    let poll = Poll::new().unwrap();
    let mut port = DebugPort::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let err = port.register(poll.registry(), Token(12), 10).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let err = port
        .register(poll.registry(), Token(0), usize::MAX - 1)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(!port.owns(Token(0)));
    port.register(poll.registry(), Token(9), 10).unwrap();
    assert!(port.owns(Token(9)) && port.owns(Token(13)));
    assert!(!port.owns(Token(14)) && !port.owns(Token(8)));
}

fn numbered(i: usize) -> String {
    format!("line {i:07} {}", "p".repeat(86))
}

fn number_of(line: &str) -> usize {
    line.strip_prefix("line ")
        .unwrap_or_else(|| panic!("not numbered: {line:?}"))[..7]
        .parse()
        .unwrap()
}

/// Reads lines until `last`, on its own thread, as a debug client would; hands the
/// connection back still open.
type Lines = (Vec<String>, BufReader<TcpStream>);
fn reader(r: BufReader<TcpStream>, last: &'static str) -> thread::JoinHandle<Lines> {
    thread::spawn(move || {
        let mut r = r;
        let mut lines = Vec::new();
        loop {
            let l = line(&mut r);
            let done = l == last;
            lines.push(l);
            if done {
                return (lines, r);
            }
        }
    })
}

#[test]
fn a_stalled_client_loses_lines_with_a_marker_and_slows_nobody() {
    const TOTAL: usize = 100_000; // 100-byte lines: 10 MB
    let mut lp = bind("127.0.0.1");
    let stalled = lp.small_window_client();
    let stalled_addr = stalled.get_ref().local_addr().unwrap();
    let good = lp.client();
    let good_addr = good.get_ref().local_addr().unwrap();
    let good_lines = reader(good, "end");

    let mut pushing = Duration::ZERO;
    for batch in 0..TOTAL / 100 {
        let t = Instant::now();
        for i in batch * 100..(batch + 1) * 100 {
            lp.port.push_record(&numbered(i));
        }
        pushing += t.elapsed();
        // The good client keeps up: wait until its ring is empty before the next batch.
        lp.turn_until("good client drained", |p| {
            p.clients().any(|c| c.peer == good_addr && c.pending == 0)
        });
    }
    lp.port.push_record("end");
    lp.turn_until("good client drained", |p| {
        p.clients().any(|c| c.peer == good_addr && c.pending == 0)
    });
    // Not a speed test (that is for benchmarks): a blocking write would hang here forever; the
    // bound is loose enough for the emulated big-endian gate.
    assert!(
        pushing < Duration::from_secs(20),
        "pushing took {pushing:?}"
    );

    let (got, _good) = good_lines.join().unwrap();
    assert_eq!(got.len(), TOTAL + 2);
    let expect = banner(env!("CARGO_PKG_VERSION"), std::process::id(), 0x204);
    assert_eq!(got[0], expect.as_str());
    for (i, l) in got[1..=TOTAL].iter().enumerate() {
        assert_eq!(*l, numbered(i));
    }
    assert_eq!(lp.status(good_addr).dropped, 0);

    assert!(lp.status(stalled_addr).blocked);

    // Now it reads: what it kept, with a marker at each gap, then newer lines.
    let stalled_lines = reader(stalled, "final");
    lp.turn_until("stalled client caught up", |p| {
        p.clients()
            .any(|c| c.peer == stalled_addr && c.dropped == 0 && c.pending == 0)
    });
    for l in ["newer 1", "newer 2", "final"] {
        lp.port.push_record(l);
    }
    lp.turn_until("stalled client drained", |p| {
        p.clients()
            .any(|c| c.peer == stalled_addr && c.pending == 0)
    });
    assert_eq!(lp.pending_of(good_addr), 0);
    let (got, _stalled) = stalled_lines.join().unwrap();
    assert_eq!(got[0], expect.as_str());
    let n = got.len();
    assert_eq!(got[n - 3..], ["newer 1", "newer 2", "final"]);
    // Walk the numbered lines: each marker must account exactly for the gap it stands in.
    let (mut next, mut markers, mut kept) = (0, 0, 0);
    for l in &got[1..n - 3] {
        if let Some(m) = l.strip_prefix('[') {
            let dropped: usize = m.strip_suffix(" lines dropped]").unwrap().parse().unwrap();
            assert!(dropped > 0);
            next += dropped;
            markers += 1;
        } else {
            let i = if l == "end" { TOTAL } else { number_of(l) };
            assert_eq!(i, next, "gap without a marker before {l:?}");
            next += 1;
            kept += 1;
        }
    }
    assert_eq!(next, TOTAL + 1, "lines after the last marker are missing");
    assert_eq!(lp.status(stalled_addr).lost as usize, TOTAL + 1 - kept);
    assert_eq!(lp.status(good_addr).lost, 0);
    assert!(
        markers > 0 && kept > 0 && kept < TOTAL / 2,
        "{markers} markers, {kept} kept"
    );
}

#[test]
fn pushing_to_a_client_that_never_reads_returns_quickly() {
    let mut lp = bind("127.0.0.1");
    let _stalled = lp.small_window_client();
    let line = numbered(0);
    let t = Instant::now();
    for _ in 0..100_000 {
        lp.port.push_record(&line);
    }
    let took = t.elapsed();
    assert!(took < Duration::from_secs(20), "took {took:?}");
    let st = lp.port.clients().next().unwrap();
    assert!(st.blocked && st.dropped > 0, "{st:?}");
}
