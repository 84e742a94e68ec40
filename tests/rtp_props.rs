//! Property test: any sequence of opens, packets, teardowns and expiries keeps the relay table
//! consistent with itself and with the sockets the shell holds.
#![allow(clippy::expect_used)] // test helpers: a failed set-up panics, as a test should

use proptest::prelude::*;
use siproxd_rs::rtp::{
    ClientId, OpenError, RelaySockets, SlotId, StreamDirection, StreamRequest, Table, Token,
    Verdict,
};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};

const CAPACITY: usize = 6;
const TIMEOUT_S: u32 = 20;

#[derive(Default)]
struct Shell {
    /// Bound address → owning slot.
    bound: BTreeMap<SocketAddr, SlotId>,
    refuse: BTreeSet<u16>,
}

impl RelaySockets for Shell {
    fn open_pair(&mut self, slot: SlotId, rtp: SocketAddr) -> bool {
        let rtcp = SocketAddr::new(rtp.ip(), rtp.port() + 1);
        if self.refuse.contains(&rtp.port())
            || self.bound.contains_key(&rtp)
            || self.bound.contains_key(&rtcp)
        {
            return false;
        }
        assert!(
            !self.bound.values().any(|s| *s == slot),
            "slot {slot:?} bound twice"
        );
        self.bound.insert(rtp, slot);
        self.bound.insert(rtcp, slot);
        true
    }
    fn close_pair(&mut self, slot: SlotId, rtp: SocketAddr) {
        assert_eq!(self.bound.remove(&rtp), Some(slot));
        assert_eq!(
            self.bound
                .remove(&SocketAddr::new(rtp.ip(), rtp.port() + 1)),
            Some(slot)
        );
    }
}

#[derive(Debug, Clone)]
enum Op {
    Open {
        call: u8,
        stream_out: bool,
        call_out: bool,
        media: u16,
        local: u8,
        client: u8,
        remote: u8,
        cseq: u32,
    },
    Packet {
        token: u32,
        src: u8,
        len: usize,
    },
    CloseCall(u8),
    CloseUpToCseq(u8, u32),
    Confirm(u8, u32),
    CloseSlot(u32),
    Advance(u64),
    Expire,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..3, any::<bool>(), any::<bool>(), 0u16..2, 0u8..2, 0u8..2, 0u8..5, 1u32..4)
            .prop_map(|(call, stream_out, call_out, media, local, client, remote, cseq)| {
                Op::Open { call, stream_out, call_out, media, local, client, remote, cseq }
            }),
        6 => (0u32..(CAPACITY as u32 * 2 + 2), 0u8..6, 0usize..3)
            .prop_map(|(token, src, len)| Op::Packet { token, src, len }),
        1 => (0u8..3).prop_map(Op::CloseCall),
        1 => (0u8..3, 1u32..4).prop_map(|(c, q)| Op::CloseUpToCseq(c, q)),
        1 => (0u8..3, 1u32..4).prop_map(|(c, q)| Op::Confirm(c, q)),
        1 => (0u32..CAPACITY as u32).prop_map(Op::CloseSlot),
        2 => (0u64..15_000).prop_map(Op::Advance),
        1 => Just(Op::Expire),
    ]
}

const LOCALS: [&str; 2] = ["192.168.1.1", "203.0.113.5"];
const REMOTES: [&str; 5] = [
    "192.168.1.10:4000",
    "198.51.100.30:5000",
    "10.0.0.7:6000",
    "0.0.0.0:4000",
    "198.51.100.30:5002",
];
const SOURCES: [&str; 6] = [
    "192.168.1.10:4000",
    "198.51.100.30:5000",
    "198.51.100.30:5001",
    "198.51.100.77:31000",
    "192.0.2.66:6666",
    "192.168.1.10:4001",
];

fn check(table: &Table, shell: &Shell, now: u64) {
    let halves: Vec<_> = table.halves().collect();
    assert_eq!(table.len(), halves.len());
    assert!(table.len() <= CAPACITY);
    let mut expect = BTreeMap::new();
    for (slot, h) in &halves {
        let p = h.local().port();
        assert!(p % 2 == 0 && (7070..=7080).contains(&p), "port {p}");
        assert!(
            expect.insert(h.local(), *slot).is_none(),
            "{} used twice",
            h.local()
        );
        let rtcp = SocketAddr::new(h.local().ip(), p + 1);
        assert!(expect.insert(rtcp, *slot).is_none());
        if let Some(peer) = h.peer() {
            let o = table.half(peer).expect("peer is open");
            assert_eq!(o.peer(), Some(*slot), "pairing is mutual");
            assert_eq!(o.call_id(), h.call_id());
            assert_eq!(o.call_dir(), h.call_dir());
            assert_eq!(o.media_index(), h.media_index());
            assert_eq!(o.stream_dir(), h.stream_dir().opposite());
        }
        assert!(h.last_activity() <= now);
    }
    assert_eq!(expect, shell.bound, "table and sockets agree");
    let deadline = halves
        .iter()
        .map(|(_, h)| h.last_activity() + u64::from(TIMEOUT_S) * 1000)
        .min();
    assert_eq!(table.next_deadline(), deadline);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn table_stays_consistent(ops in prop::collection::vec(op(), 1..80), refuse in prop::collection::btree_set(7070u16..7082, 0..3)) {
        // 6 pairs 7070..7080 for 6 slots on 2 addresses: both exhaustion and full table occur.
        let mut table = Table::new(CAPACITY, 7070, 7081, TIMEOUT_S);
        let mut shell = Shell { refuse: refuse.into_iter().filter(|p| p % 2 == 0).collect(), ..Shell::default() };
        let mut now = 0u64;
        for op in ops {
            match op {
                Op::Open { call, stream_out, call_out, media, local, client, remote, cseq } => {
                    let call_id = format!("call{call}");
                    let dir = |out| if out { StreamDirection::Outgoing } else { StreamDirection::Incoming };
                    let local_ip: IpAddr = LOCALS[usize::from(local)].parse().unwrap();
                    let req = StreamRequest {
                        call_id: &call_id,
                        client_id: ClientId::new(&format!("u{client}@x"), [192, 168, 1, 10 + client].into()),
                        cseq,
                        stream_dir: dir(stream_out),
                        call_dir: dir(call_out),
                        media_index: media,
                        local_ip,
                        remote: REMOTES[usize::from(remote)].parse().unwrap(),
                        remote_rtcp_port: None,
                        media_info: None,
                    };
                    let before = table.len();
                    // Model of the existing-entry rule: the first half (slot order) with the
                    // same Call-ID, stream direction, media index and a matching client id.
                    let existing = table
                        .halves()
                        .find(|(_, h)| {
                            h.call_id() == call_id
                                && h.stream_dir() == req.stream_dir
                                && h.media_index() == media
                                && h.client_id().matches(&req.client_id)
                        })
                        .map(|(s, h)| (s, h.local()));
                    let moved = existing.is_some_and(|(_, l)| l.ip() != local_ip);
                    match table.open(now, &req, &mut shell) {
                        Ok(o) => {
                            let h = table.half(o.slot).unwrap();
                            prop_assert_eq!(h.local(), o.local);
                            prop_assert_eq!(h.remote(), req.remote);
                            prop_assert!(h.cseq() >= cseq);
                            match existing {
                                Some((slot, local)) if !moved => {
                                    prop_assert!(o.reused);
                                    prop_assert_eq!((o.slot, o.local), (slot, local));
                                    prop_assert_eq!(table.len(), before);
                                }
                                _ => {
                                    prop_assert!(!o.reused);
                                    prop_assert_eq!(o.local.ip(), local_ip);
                                    prop_assert_eq!(table.len(), before + usize::from(!moved));
                                }
                            }
                        }
                        Err(OpenError::TableFull { .. }) => {
                            prop_assert!(existing.is_none());
                            prop_assert_eq!(before, CAPACITY);
                        }
                        Err(OpenError::PortsExhausted { .. }) => {
                            prop_assert!(existing.is_none() || moved);
                            prop_assert_eq!(table.len(), before - usize::from(moved));
                        }
                        Err(e) => prop_assert!(false, "unexpected {e}"),
                    }
                }
                Op::Packet { token, src, len } => {
                    let token = Token(token);
                    let receiver = table.half(token.slot()).cloned();
                    match table.on_packet(now, token, SOURCES[usize::from(src)].parse().unwrap(), len) {
                        Verdict::Forward { out, dst } => {
                            let r = receiver.expect("forwarded from an open half");
                            prop_assert!(len > 0);
                            prop_assert_eq!(Some(out.slot()), r.peer());
                            prop_assert_eq!(out.kind(), token.kind());
                            prop_assert!(!dst.ip().is_unspecified() && dst.port() != 0);
                            prop_assert!(!r.remote().ip().is_unspecified());
                        }
                        Verdict::Drop(_) => {}
                    }
                }
                Op::CloseCall(c) => {
                    let id = format!("call{c}");
                    table.close_call(&id, &mut shell);
                    prop_assert!(table.halves().all(|(_, h)| h.call_id() != id));
                }
                Op::CloseUpToCseq(c, q) => {
                    let id = format!("call{c}");
                    let hit = |h: &siproxd_rs::rtp::Half| h.call_id() == id && h.cseq() <= q;
                    let kept: Vec<SlotId> = table
                        .halves()
                        .filter(|(_, h)| !hit(h) || h.established())
                        .map(|(s, _)| s)
                        .collect();
                    let before = table.len();
                    let closed = table.close_call_up_to_cseq(&id, q, &mut shell);
                    // Established halves survive the error; the others it covers are closed.
                    let now_open: Vec<SlotId> = table.halves().map(|(s, _)| s).collect();
                    prop_assert_eq!(&now_open, &kept);
                    prop_assert_eq!(closed, before - kept.len());
                }
                Op::Confirm(c, q) => {
                    let id = format!("call{c}");
                    let n = table.confirm_call(&id, q);
                    let hit: Vec<bool> = table
                        .halves()
                        .filter(|(_, h)| h.call_id() == id && h.cseq() <= q)
                        .map(|(_, h)| h.established())
                        .collect();
                    prop_assert_eq!(n, hit.len());
                    prop_assert!(hit.iter().all(|e| *e));
                }
                Op::CloseSlot(s) => {
                    let was = table.half(SlotId(s)).is_some();
                    prop_assert_eq!(table.close(SlotId(s), &mut shell), was);
                }
                Op::Advance(ms) => now += ms,
                Op::Expire => {
                    table.expire(now, &mut shell);
                    prop_assert!(table.next_deadline().is_none_or(|d| d > now));
                }
            }
            check(&table, &shell, now);
        }
        table.close_all(&mut shell);
        prop_assert!(shell.bound.is_empty());
        prop_assert!(table.is_empty());
    }
}
