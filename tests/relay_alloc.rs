//! Proves the relay's socket hot path (`Relay::on_readable`: recv, table decision, send) never
//! touches the heap (decisions §6). Its own test binary, so the counting global allocator
//! affects nothing else.

use mio::Poll;
use siproxd_rs::net::relay::{mio_token, Relay};
use siproxd_rs::rtp::{ClientId, Direction, StreamRequest, Table, Token};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{SocketAddr, UdpSocket};

struct Counting;

thread_local! {
    // Only the measuring thread counts: the test harness allocates on other threads.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn note() {
    // `try_with`: the allocator may run while thread-locals are being torn down.
    let _ = COUNTING.try_with(|c| {
        if c.get() {
            let _ = ALLOCATIONS.try_with(|a| a.set(a.get() + 1));
        }
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `f` on this thread.
fn allocations_during<R>(f: impl FnOnce() -> R) -> (u64, R) {
    ALLOCATIONS.with(|a| a.set(0));
    COUNTING.with(|c| c.set(true));
    let r = f();
    COUNTING.with(|c| c.set(false));
    (ALLOCATIONS.with(|a| a.get()), r)
}

#[test]
fn counting_allocator_sees_allocations() {
    // Guards against a counter that never counts (which would make the next test vacuous).
    let (n, _) = allocations_during(|| std::hint::black_box(Vec::<u8>::with_capacity(64)));
    assert!(n >= 1);
}

fn req<'a>(call_id: &'a str, dir: Direction, local: &str, remote: SocketAddr) -> StreamRequest<'a> {
    StreamRequest {
        call_id,
        client_id: ClientId::new("alice@example.com", remote.ip()),
        cseq: 1,
        stream_dir: dir,
        call_dir: Direction::Outgoing,
        media_index: 0,
        local_ip: local.parse().unwrap(),
        remote,
        remote_rtcp_port: None,
    }
}

/// Reads everything queued on `s` (outside the measured region).
fn drain(s: &UdpSocket) -> usize {
    let mut buf = [0u8; 2048];
    let mut n = 0;
    while s.recv_from(&mut buf).is_ok() {
        n += 1;
    }
    n
}

#[test]
fn hundred_thousand_relayed_datagrams_allocate_nothing() {
    let poll = Poll::new().unwrap();
    let low = 40_000 + (std::process::id() % 500) as u16 * 40;
    let table = Table::new(8, low, low + 39, 300);
    let mut relay = Relay::with_table(table, 46, poll.registry().try_clone().unwrap());

    let a = UdpSocket::bind("127.0.0.10:0").unwrap();
    let b = UdpSocket::bind("127.0.0.20:0").unwrap();
    let stranger = UdpSocket::bind("127.0.0.66:0").unwrap();
    for s in [&a, &b] {
        s.set_nonblocking(true).unwrap();
    }
    let a_addr = a.local_addr().unwrap();
    let b_addr = b.local_addr().unwrap();
    let e1 = relay
        .open(
            0,
            &req("alloc@lan", Direction::Incoming, "127.0.0.1", a_addr),
        )
        .unwrap();
    let e2 = relay
        .open(
            0,
            &req("alloc@lan", Direction::Outgoing, "127.0.0.2", b_addr),
        )
        .unwrap();
    let to_e1 = mio_token(Token::rtp(e1.slot));
    let to_e2 = mio_token(Token::rtp(e2.slot));
    let payload = [0x80u8; 172];
    let big = vec![0x55u8; siproxd_rs::limits::RTP_BUFFER + 1];

    let mut allocations = 0;
    let mut read = 0;
    let mut delivered = 0;
    for round in 0..1000u64 {
        // 50 datagrams each way per round, plus (every tenth round) a stranger's datagram and
        // an oversized one: forward, drop and truncate paths all run.
        for _ in 0..50 {
            a.send_to(&payload, e2.local).unwrap();
            b.send_to(&payload, e1.local).unwrap();
        }
        if round % 10 == 0 {
            stranger.send_to(&payload, e2.local).unwrap();
            a.send_to(&big, e2.local).unwrap();
        }
        let (n, r) = allocations_during(|| {
            relay.on_readable(round, to_e2) + relay.on_readable(round, to_e1)
        });
        allocations += n;
        read += r;
        delivered += drain(&a) + drain(&b);
    }
    assert_eq!(allocations, 0, "on_readable allocated {allocations} times");
    assert_eq!(read, 100_000 + 200);
    let st = *relay.stats();
    assert_eq!(st.received, 100_200);
    assert_eq!(st.sent, 100_100);
    assert_eq!(st.dropped, 100);
    assert_eq!(st.truncated, 100);
    assert_eq!(delivered, 100_100);
}
