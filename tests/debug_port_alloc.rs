//! Feeding the debug port allocates nothing: lines pushed directly or through the logger's
//! sink, to a client that reads and to one that has stalled.
#![allow(clippy::panic)] // test helpers: a failed set-up panics, as a test should

use std::io::{ErrorKind, Read};
use std::net::TcpStream;
use std::time::Duration;

use alloc::allocations;
use debug_loop::Loop;
use log::Level;
use mio::Token;
use siproxd_rs::debug_log::DebugSink;

mod alloc;
mod debug_loop;

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

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
    let mut lp = Loop::bind("127.0.0.1", Token(0), 1);
    let _stalled = lp.small_window_client();
    let mut reader = lp.connect();
    reader.set_nonblocking(true).unwrap();
    lp.turn_until("the reader", |p| p.client_count() == 2);

    let mut buf = [0u8; 16 * 1024];
    let mut received = 0;
    let line = "a line of the debug log, long enough to fill buffers in a reasonable time";
    let before = allocations();
    for i in 0..20_000u32 {
        lp.port.push_record(line);
        DebugSink.record(Level::Debug, "sip", line);
        if i % 16 == 0 {
            lp.turn(Duration::ZERO);
            received += read_some(&mut reader, &mut buf);
        }
    }
    let allocated = allocations() - before;
    assert_eq!(allocated, 0, "allocations while pushing");

    let stalled = lp
        .port
        .clients()
        .find(|c| c.blocked)
        .expect("the stalled client never filled up");
    assert!(stalled.dropped > 0 || stalled.pending > 0);
    assert!(received > 1_000_000, "reader got only {received} bytes");
}
