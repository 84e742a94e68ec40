//! The debug port behind a process-wide logger, as the shell wires it: the logger hands
//! records to `DebugSink`, the loop drains them. The port's own log lines (accept,
//! disconnect) travel the same way without recursing or feeding themselves.
#![allow(clippy::unwrap_used)] // test helpers: a failed set-up panics, as a test should

use std::io::{BufRead, BufReader, ErrorKind};
use std::net::TcpStream;
use std::time::Duration;

use log::{LevelFilter, Log, Metadata, Record};
use mio::Token;
use siproxd_rs::debug_log::DebugSink;
use siproxd_rs::dns::{parse_resolv_conf, Resolver, ResolverConfig};
use siproxd_rs::logging;

/// A minimal logger with the hook's contract: the class mask filters debug records, info and
/// above always pass, the text is formatted once and handed over.
struct HookOnly;

impl Log for HookOnly {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        DebugSink.wants(m.level(), logging::class_bit(m.target()))
    }

    fn log(&self, r: &Record<'_>) {
        if self.enabled(r.metadata()) {
            let text = r.args().to_string();
            DebugSink.record(r.level(), r.target(), &text);
        }
    }

    fn flush(&self) {}
}

static LOGGER: HookOnly = HookOnly;

mod debug_loop;

use debug_loop::Loop;

fn text_of(line: &str) -> &str {
    // Past the "HH:MM:SS.mmm " clock.
    &line[13..]
}

fn read_line(r: &mut BufReader<TcpStream>) -> String {
    let mut s = String::new();
    assert!(r.read_line(&mut s).unwrap() > 0, "EOF");
    s.trim_end_matches('\n').to_string()
}

/// Only one test may install the process-wide logger.
#[test]
fn port_log_lines_and_a_call_log_reach_clients_without_feedback() {
    log::set_logger(&LOGGER).unwrap();
    log::set_max_level(LevelFilter::Trace);

    let mut lp = Loop::bind("127.0.0.1", Token(0), 1);
    lp.port.set_mask(0x4); // SIP only

    let a = TcpStream::connect(lp.port.local_addr()).unwrap();
    a.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut a = BufReader::new(a);
    lp.turn_until("clients", |p| p.client_count() == 1);
    assert!(read_line(&mut a).starts_with("siproxd-rs "));
    // The port logged the accept while serving it; the next drain delivers it.
    lp.turn(Duration::from_millis(5));
    let accepted = read_line(&mut a);
    assert!(
        text_of(&accepted).starts_with("INFO: debug port: accepted connection from 127.0.0.1:"),
        "{accepted}"
    );

    // A real module's debug output, at a class now in the mask.
    lp.port.set_mask(0x4 | 0x40);
    let mut resolver = Resolver::new(
        ResolverConfig {
            resolv: parse_resolv_conf("nameserver 127.0.0.1\n"),
            hosts: Default::default(),
            ipv6: false,
        },
        1,
    );
    let _ = resolver.resolve(0, "pbx.test", Some(5060), 1);
    while resolver.poll_transmit(&mut [0u8; 512]).is_some() {}
    lp.turn(Duration::from_millis(5));
    let dns = read_line(&mut a);
    assert!(text_of(&dns).starts_with("dns: lookup pbx.test"), "{dns}");
    let dns = read_line(&mut a);
    assert!(text_of(&dns).starts_with("dns: query A pbx.test"), "{dns}");
    // Out of the mask again: the next lookup is not sent.
    lp.port.set_mask(0x4);
    let _ = resolver.resolve(0, "other.test", Some(5060), 2);
    while resolver.poll_transmit(&mut [0u8; 512]).is_some() {}

    log::debug!(target: logging::SIP, "INVITE sip:bob@example.org SIP/2.0");
    log::debug!(target: logging::RTP, "not in the mask");
    log::warn!("a warning");
    lp.turn(Duration::from_millis(5));
    assert_eq!(
        text_of(&read_line(&mut a)),
        "sip: INVITE sip:bob@example.org SIP/2.0"
    );
    assert_eq!(text_of(&read_line(&mut a)), "WARNING: a warning");

    // A second client: the first one hears about it.
    let b = TcpStream::connect(lp.port.local_addr()).unwrap();
    b.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut b = BufReader::new(b);
    lp.turn_until("clients", |p| p.client_count() == 2);
    lp.turn(Duration::from_millis(5));
    assert!(read_line(&mut a).contains("accepted connection"));
    // Read everything first, so that closing sends FIN rather than a reset.
    assert!(read_line(&mut b).starts_with("siproxd-rs "));
    assert!(read_line(&mut b).contains("accepted connection"));
    drop(b);
    lp.turn_until("clients", |p| p.client_count() == 1);
    lp.turn(Duration::from_millis(5));
    let gone = read_line(&mut a);
    assert!(
        text_of(&gone).starts_with("INFO: debug port: disconnected: 127.0.0.1:"),
        "{gone}"
    );

    // Idle turns produce nothing: the port's logging does not feed itself.
    for _ in 0..20 {
        lp.turn(Duration::from_millis(5));
    }
    a.get_ref()
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut rest = String::new();
    let err = a.read_line(&mut rest).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{err}: {rest:?}"
    );
}
