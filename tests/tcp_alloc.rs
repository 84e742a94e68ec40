//! SIP over an established TCP connection allocates nothing per message in the connection
//! table (framing, write queue), and nothing more through the proxy core than the same
//! messages cost it over UDP (issue "SIP over TCP", benchmark item).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test helpers

use std::hint::black_box;
use std::net::SocketAddr;

use alloc::allocations_during;
use lab::*;
use siproxd_rs::proxy::{Origin, Proxy, TableMedia};
use siproxd_rs::sansio::{ConnId, Output, Transport};
use siproxd_rs::stream::{StreamLimits, Streams};

mod alloc;
mod lab;

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

const PHONE_TCP: &str = "192.168.1.10:40001";

/// The core and the connection table wired as `net/tcp.rs` wires them, with every buffer
/// the shell would hold made once.
struct Wire {
    proxy: Proxy,
    media: TableMedia,
    streams: Streams,
    now: u64,
    out: Vec<u8>,
    /// What the table let the shell write, per destination (cleared by the caller).
    wire: Vec<u8>,
}

impl Wire {
    /// Bytes arriving on `id` from `src` (framed by the table) or, without `id`, the same
    /// message handed straight to the core over `transport`; then the core is drained.
    fn input(
        &mut self,
        id: Option<ConnId>,
        transport: Transport,
        src: &str,
        local: &str,
        bytes: &[u8],
    ) {
        let origin = Origin {
            transport,
            src: sa(src),
            local: SocketAddr::new(ip(local), 5060),
            connection: id,
        };
        let (proxy, media, now) = (&mut self.proxy, &mut self.media, self.now);
        match id {
            Some(id) => {
                self.streams.received(now, id, bytes, &mut |_, m, _| {
                    proxy.handle_message(now, origin, m, media)
                });
            }
            None => proxy.handle_message(now, origin, bytes, media),
        }
        self.drain(id.is_some());
    }

    /// Sends what the core produced: into the table (found or new connection, which
    /// connects at once) and out of it as the shell writes, when `streams`; else dropped.
    fn drain(&mut self, streams: bool) {
        loop {
            let t = match self.proxy.poll_output(&mut self.out) {
                Output::Transmit(t) => t,
                Output::Event(e) => match e {},
                Output::Timeout(_) => return,
            };
            if !streams || t.transport != Transport::Tcp {
                continue;
            }
            let id = match self.streams.connection_for(t.connection, t.destination) {
                Some(id) => id,
                None => {
                    let id = self
                        .streams
                        .open(self.now, t.destination, t.source)
                        .unwrap();
                    self.streams.connected(self.now, id);
                    id
                }
            };
            assert!(self.streams.send(id, &self.out[..t.len]));
            loop {
                let p = self.streams.pending_write(id);
                if p.is_empty() {
                    break;
                }
                let n = p.len();
                self.wire.extend_from_slice(p);
                self.streams.wrote(self.now, id, n);
            }
        }
    }
}

fn wire() -> Wire {
    let lab = Lab::new();
    Wire {
        proxy: lab.proxy,
        media: lab.media,
        streams: Streams::new(StreamLimits {
            max_connections: 8,
            per_source: 2,
            idle_timeout: Some(600_000),
            keepalive: None,
            connect_timeout: 500,
            message_deadline: 10_000,
            write_queue: 256 * 1024,
        }),
        now: 1_000_000,
        out: vec![0u8; siproxd_rs::limits::SIP_SEND_BUFFER],
        wire: Vec::with_capacity(1 << 20),
    }
}

const REGISTER: &str = "REGISTER sip:example.com SIP/2.0\nVia: SIP/2.0/TCP 192.168.1.10:5060;branch=z9hG4bKa1\nMax-Forwards: 70\nFrom: <sip:alice@example.com>;tag=1\nTo: <sip:alice@example.com>\nCall-ID: alloc1@192.168.1.10\nCSeq: 1 REGISTER\nContact: <sip:alice@192.168.1.10:5060;transport=tcp>\nExpires: 600\nContent-Length: 0\n\n";

/// The registrar's 200 to the forwarded REGISTER `fwd`.
fn ok_for(fwd: &str) -> Vec<u8> {
    let vias: Vec<&str> = fwd
        .split("\r\n")
        .filter_map(|l| l.strip_prefix("Via: "))
        .collect();
    crlf(&format!(
        "SIP/2.0 200 OK\nVia: {}\nVia: {}\nFrom: <sip:alice@example.com>;tag=1\nTo: <sip:alice@example.com>;tag=p\nCall-ID: alloc1@192.168.1.10\nCSeq: 1 REGISTER\nContact: <sip:alice@203.0.113.5;transport=tcp>;expires=600\nContent-Length: 0\n\n",
        vias[0], vias[1]
    ))
}

#[test]
fn an_established_connection_adds_no_allocation_per_message() {
    let mut w = wire();
    let phone = w
        .streams
        .accept(w.now, sa(PHONE_TCP), sa("192.168.1.1:5060"))
        .unwrap();
    let register = crlf(REGISTER);
    // The first exchange opens the provider's connection and sizes every buffer.
    w.input(Some(phone), Transport::Tcp, PHONE_TCP, I, &register);
    let fwd = String::from_utf8(w.wire.clone()).unwrap();
    w.wire.clear(); // keeps its capacity: the sink must not allocate while measuring
    assert!(
        fwd.starts_with("REGISTER sip:example.com SIP/2.0\r\n"),
        "{fwd}"
    );
    let provider = w.streams.find(sa(PROVIDER)).unwrap();
    let ok = ok_for(&fwd);
    w.input(Some(provider), Transport::Tcp, PROVIDER, O, &ok);
    assert!(
        w.wire.starts_with(b"SIP/2.0 200 OK\r\n"),
        "the 200 reaches the phone"
    );
    let back = w.wire.len();
    w.wire.clear();
    let rounds = 50;

    // Over the connections: request in, forwarded, response in, forwarded.
    let (tcp, ()) = allocations_during(|| {
        for _ in 0..rounds {
            w.input(
                Some(phone),
                Transport::Tcp,
                PHONE_TCP,
                I,
                black_box(&register),
            );
            w.input(Some(provider), Transport::Tcp, PROVIDER, O, black_box(&ok));
        }
    });
    assert_eq!(
        w.wire.len(),
        rounds * (fwd.len() + back),
        "every message went out whole"
    );
    assert_eq!(w.streams.counters().messages, 2 * (rounds as u64 + 1));
    // The same messages handed straight to the core (the UDP path's cost).
    let (core, ()) = allocations_during(|| {
        for _ in 0..rounds {
            w.input(None, Transport::Tcp, PHONE_TCP, I, black_box(&register));
            w.input(None, Transport::Tcp, PROVIDER, O, black_box(&ok));
        }
    });
    assert_eq!(tcp, core, "the connection table allocated per message");
    // Split into pieces and glued to the next message, the stream costs nothing more.
    let glued = [&register[..], &register[..]].concat();
    let (n, ()) = allocations_during(|| {
        for _ in 0..rounds {
            for piece in glued.chunks(97) {
                w.input(Some(phone), Transport::Tcp, PHONE_TCP, I, black_box(piece));
            }
        }
    });
    let (m, ()) = allocations_during(|| {
        for _ in 0..2 * rounds {
            w.input(None, Transport::Tcp, PHONE_TCP, I, black_box(&register));
        }
    });
    assert_eq!(n, m, "framing across reads allocated");
}

#[test]
fn the_table_alone_allocates_nothing_per_message() {
    let mut s = Streams::new(StreamLimits {
        max_connections: 4,
        per_source: 2,
        idle_timeout: Some(600_000),
        keepalive: Some(30_000),
        connect_timeout: 500,
        message_deadline: 10_000,
        write_queue: 256 * 1024,
    });
    let id = s.accept(0, sa(PHONE_TCP), sa("192.168.1.1:5060")).unwrap();
    let msg = crlf(REGISTER);
    let stream = [&msg[..], b"\r\n\r\n", &msg[..], &msg[..]].concat();
    let mut got = 0usize;
    let mut run = |s: &mut Streams, now: u64| {
        for piece in stream.chunks(61) {
            s.received(now, id, piece, &mut |_, m, _| got += m.len());
        }
        assert!(s.send(id, &msg));
        while !s.pending_write(id).is_empty() {
            let n = s.pending_write(id).len().min(100);
            s.wrote(now, id, n);
        }
        s.handle_timeout(now);
        black_box(s.poll_timeout());
    };
    run(&mut s, 1);
    let (n, ()) = allocations_during(|| {
        for now in 2..200 {
            run(&mut s, now);
        }
    });
    assert_eq!(n, 0, "allocations in the table per message");
    assert_eq!(got, 3 * msg.len() * 199);
}
