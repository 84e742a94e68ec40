//! The relay inside the daemon's `EventLoop`: relay sockets are served by `turn()`, the poll
//! timeout includes the `rtp_timeout` deadline (the loop wakes exactly then, no tick), and
//! shutdown closes every stream. One test: the loop installs process-wide signal handlers.

use siproxd_rs::config::Config;
use siproxd_rs::net::{setup, EventLoop};
use siproxd_rs::rtp::StreamDirection;
use std::net::UdpSocket;
use std::time::{Duration, Instant};
use streams::req;

mod streams;

#[test]
fn loop_relays_expires_on_the_deadline_and_closes_at_shutdown() {
    let low = 50_000 + (std::process::id() % 300) as u16 * 40;
    let cfg = Config {
        if_inbound: Some("127.0.0.2".into()),
        if_outbound: Some("127.0.0.1".into()),
        sip_listen_port: 0,
        rtp_port_low: low,
        rtp_port_high: low + 39,
        rtp_timeout: 10,
        ..Config::default()
    };
    let mut el = EventLoop::new(setup::build(&cfg).unwrap()).unwrap();
    let a = UdpSocket::bind("127.0.0.10:0").unwrap();
    let b = UdpSocket::bind("127.0.0.20:0").unwrap();
    for s in [&a, &b] {
        s.set_nonblocking(true).unwrap();
    }
    let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    let now = el.now_ms();
    let relay = el.relay_mut();
    let e1 = relay
        .open(
            now,
            &req("loop@lan", StreamDirection::Incoming, "127.0.0.1", a_addr),
        )
        .unwrap();
    let e2 = relay
        .open(
            now,
            &req("loop@lan", StreamDirection::Outgoing, "127.0.0.2", b_addr),
        )
        .unwrap();

    // Media both ways through turn().
    a.send_to(b"from a", e2.local).unwrap();
    b.send_to(b"from b", e1.local).unwrap();
    let mut buf = [0u8; 64];
    let (mut at_a, mut at_b) = (None, None);
    let end = Instant::now() + Duration::from_secs(2);
    while at_a.is_none() || at_b.is_none() {
        assert!(Instant::now() < end, "media not relayed");
        el.turn(Some(Duration::from_millis(20))).unwrap();
        if let Ok((n, from)) = a.recv_from(&mut buf) {
            at_a = Some((buf[..n].to_vec(), from));
        }
        if let Ok((n, from)) = b.recv_from(&mut buf) {
            at_b = Some((buf[..n].to_vec(), from));
        }
    }
    assert_eq!(at_a, Some((b"from b".to_vec(), e2.local)));
    assert_eq!(at_b, Some((b"from a".to_vec(), e1.local)));

    // Silence: the loop sleeps until the deadline and closes both halves then. A generous max
    // wait shows the wake-up comes from the deadline itself, in very few turns.
    let relay = el.relay_mut();
    let deadline = relay.table().next_deadline().unwrap();
    let last = relay.table().half(e1.slot).unwrap().last_activity();
    assert_eq!(deadline, last + 10_000);
    let mut turns = 0;
    while !el.relay_mut().table().is_empty() {
        turns += 1;
        assert!(turns <= 3, "woke {turns} times");
        el.turn(Some(Duration::from_secs(30))).unwrap();
    }
    let closed_at = el.now_ms();
    assert!(
        (deadline..deadline + 500).contains(&closed_at),
        "deadline {deadline}, closed at {closed_at}"
    );
    assert_eq!(el.relay_mut().table().stats().expired, 2);
    UdpSocket::bind(e1.local).unwrap();
    UdpSocket::bind(e2.local).unwrap();

    // Shutdown closes what is still open.
    let now = el.now_ms();
    let e3 = el
        .relay_mut()
        .open(
            now,
            &req("bye@lan", StreamDirection::Incoming, "127.0.0.1", a_addr),
        )
        .unwrap();
    // SAFETY: the loop's handler is installed; raise delivers to this thread.
    unsafe { libc::raise(libc::SIGTERM) };
    el.run().unwrap();
    assert!(el.relay_mut().table().is_empty());
    UdpSocket::bind(e3.local).unwrap();
}
