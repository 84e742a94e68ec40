//! Feeding the debug port allocates nothing: lines pushed directly or through the logger's
//! sink, to a client that reads and to one that has stalled.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{ErrorKind, Read};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use log::Level;
use mio::{Events, Poll, Token};
use siproxd_rs::debug_port::{DebugPort, DebugSink};

/// Counts allocations of the current thread only, so the test harness does not interfere.
struct Counting;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    ALLOCS.with(|c| c.get())
}

fn turn(poll: &mut Poll, events: &mut Events, port: &mut DebugPort, start: Instant) {
    port.drain_log();
    poll.poll(events, Some(Duration::ZERO)).unwrap();
    let now = start.elapsed().as_millis() as u64;
    for ev in events.iter() {
        port.handle_event(poll.registry(), ev, now);
    }
}

/// Reads whatever is there without blocking.
fn read_some(s: &mut TcpStream, buf: &mut [u8]) -> usize {
    let mut total = 0;
    loop {
        match s.read(buf) {
            Ok(0) => return total,
            Ok(n) => total += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return total,
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn pushing_and_draining_allocate_nothing() {
    let start = Instant::now();
    let mut poll = Poll::new().unwrap();
    let mut events = Events::with_capacity(16);
    let mut port = DebugPort::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    port.register(poll.registry(), Token(0), 1).unwrap();

    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    sock.connect(&port.local_addr().into()).unwrap();
    let _stalled: TcpStream = sock.into();
    let mut reader = TcpStream::connect(port.local_addr()).unwrap();
    reader.set_nonblocking(true).unwrap();
    while port.client_count() < 2 {
        turn(&mut poll, &mut events, &mut port, start);
    }

    let mut buf = [0u8; 16 * 1024];
    let mut received = 0;
    let line = "a line of the debug log, long enough to fill buffers in a reasonable time";
    let before = allocations();
    for i in 0..20_000u32 {
        port.push_record(line);
        DebugSink.record(Level::Debug, "sip", line);
        if i % 16 == 0 {
            turn(&mut poll, &mut events, &mut port, start);
            received += read_some(&mut reader, &mut buf);
        }
    }
    let allocated = allocations() - before;
    assert_eq!(allocated, 0, "allocations while pushing");

    let stalled = port
        .clients()
        .find(|c| c.blocked)
        .expect("the stalled client never filled up");
    assert!(stalled.dropped > 0 || stalled.pending > 0);
    assert!(received > 1_000_000, "reader got only {received} bytes");
}
