//! The relay table driven by a minimal shell over real UDP sockets on loopback: a sketch of what
//! `net/` has to do (bind on request, map tokens to sockets, recv → on_packet → send_to).
//! Relay addresses: "O" = 127.0.0.1, "I" = 127.0.0.2; phones A = 127.0.0.10, B = 127.0.0.20.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)] // test helpers: a failed set-up panics, as a test should

use siproxd_rs::rtp::{
    ClientId, PacketDrop, RelaySockets, SlotId, StreamDirection, StreamRequest, Table, Token,
    Verdict,
};
use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Shell {
    sockets: HashMap<Token, UdpSocket>,
}

impl RelaySockets for Shell {
    fn open_pair(&mut self, slot: SlotId, rtp: SocketAddr) -> bool {
        let Ok(a) = UdpSocket::bind(rtp) else {
            return false;
        };
        let Ok(b) = UdpSocket::bind(SocketAddr::new(rtp.ip(), rtp.port() + 1)) else {
            return false; // `a` is dropped, so nothing of the pair stays open
        };
        a.set_nonblocking(true).unwrap();
        b.set_nonblocking(true).unwrap();
        self.sockets.insert(Token::rtp(slot), a);
        self.sockets.insert(Token::rtcp(slot), b);
        true
    }
    fn close_pair(&mut self, slot: SlotId, _rtp: SocketAddr) {
        self.sockets.remove(&Token::rtp(slot)).unwrap();
        self.sockets.remove(&Token::rtcp(slot)).unwrap();
    }
}

impl Shell {
    /// One pass over every socket, relaying what is queued; returns the verdicts.
    fn pump(&mut self, table: &mut Table, now: u64) -> Vec<Verdict> {
        let mut verdicts = Vec::new();
        let mut buf = [0u8; siproxd_rs::limits::RTP_BUFFER];
        let tokens: Vec<Token> = self.sockets.keys().copied().collect();
        for token in tokens {
            loop {
                let (len, src) = match self.sockets[&token].recv_from(&mut buf) {
                    Ok(r) => r,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => panic!("recv: {e}"),
                };
                let v = table.on_packet(now, token, src, len);
                if let Verdict::Forward { out, dst } = v {
                    self.sockets[&out].send_to(&buf[..len], dst).unwrap();
                }
                verdicts.push(v);
            }
        }
        verdicts
    }
}

fn phone(ip: &str) -> (UdpSocket, UdpSocket) {
    // RTP on an even port and RTCP on the next; retry until the kernel gives an even one free.
    for _ in 0..100 {
        let rtp = UdpSocket::bind((ip, 0)).unwrap();
        let port = rtp.local_addr().unwrap().port();
        if port % 2 == 1 || port == u16::MAX {
            continue;
        }
        if let Ok(rtcp) = UdpSocket::bind((ip, port + 1)) {
            for s in [&rtp, &rtcp] {
                s.set_read_timeout(Some(Duration::from_millis(500)))
                    .unwrap();
            }
            return (rtp, rtcp);
        }
    }
    panic!("no even port pair on {ip}");
}

fn recv(s: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = [0u8; 2048];
    let (n, from) = s.recv_from(&mut buf).unwrap();
    (buf[..n].to_vec(), from)
}

/// Pump until `want` datagrams were handled (loopback delivery is not instantaneous).
fn pump_until(shell: &mut Shell, table: &mut Table, now: u64, want: usize) -> Vec<Verdict> {
    let mut all = Vec::new();
    let start = Instant::now();
    while all.len() < want && start.elapsed() < Duration::from_secs(2) {
        all.extend(shell.pump(table, now));
    }
    all
}

#[test]
fn media_is_relayed_symmetrically_over_real_sockets() {
    let o: IpAddr = "127.0.0.1".parse().unwrap();
    let i: IpAddr = "127.0.0.2".parse().unwrap();
    let (a_rtp, a_rtcp) = phone("127.0.0.10");
    let (b_rtp, b_rtcp) = phone("127.0.0.20");
    let evil = UdpSocket::bind("127.0.0.30:0").unwrap();
    let a = a_rtp.local_addr().unwrap();
    let b = b_rtp.local_addr().unwrap();

    // A range other tests are unlikely to hold; taken ports are skipped by the bind fallback.
    let mut table = Table::new(8, 46_000, 46_999, 300);
    let mut shell = Shell::default();
    let req = |dir, local_ip, remote| StreamRequest {
        call_id: "loop@test",
        client_id: ClientId::new("alice@example.com", "127.0.0.10".parse().unwrap()),
        cseq: 1,
        stream_dir: dir,
        call_dir: StreamDirection::Outgoing,
        media_index: 0,
        local_ip,
        remote,
        remote_rtcp_port: None,
        media_info: None,
    };
    let e1 = table
        .open(0, &req(StreamDirection::Incoming, o, a), &mut shell)
        .unwrap();
    let e2 = table
        .open(0, &req(StreamDirection::Outgoing, i, b), &mut shell)
        .unwrap();
    assert_eq!(shell.sockets.len(), 4);

    // A → I-side port reaches B from the O-side port.
    a_rtp.send_to(b"rtp from A", e2.local).unwrap();
    let v = pump_until(&mut shell, &mut table, 1, 1);
    assert!(matches!(v[..], [Verdict::Forward { .. }]), "{v:?}");
    assert_eq!(recv(&b_rtp), (b"rtp from A".to_vec(), e1.local));

    // B answers to the O-side port and reaches A from the I-side port.
    b_rtp.send_to(b"rtp from B", e1.local).unwrap();
    pump_until(&mut shell, &mut table, 2, 1);
    assert_eq!(recv(&a_rtp), (b"rtp from B".to_vec(), e2.local));

    // RTCP from A's RTCP port arrives at B's RTP port + 1, from the O-side RTCP port.
    let e2_rtcp = SocketAddr::new(i, e2.local.port() + 1);
    a_rtcp.send_to(b"rtcp", e2_rtcp).unwrap();
    pump_until(&mut shell, &mut table, 3, 1);
    let (_, from) = recv(&b_rtcp);
    assert_eq!(from, SocketAddr::new(o, e1.local.port() + 1));

    // A third party aiming at the O-side port is dropped; A receives nothing.
    evil.send_to(b"bleed", e1.local).unwrap();
    let v = pump_until(&mut shell, &mut table, 4, 1);
    assert_eq!(v, vec![Verdict::Drop(PacketDrop::ForeignSource)]);
    a_rtp
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buf = [0u8; 64];
    assert!(a_rtp.recv_from(&mut buf).is_err(), "nothing may reach A");

    // BYE closes every socket.
    assert_eq!(table.close_call("loop@test", &mut shell), 2);
    assert!(shell.sockets.is_empty());
}
