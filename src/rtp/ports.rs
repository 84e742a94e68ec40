//! Relay port range `rtp_port_low..=rtp_port_high` and its round-robin cursor (behaviour §5.4).
//!
//! Only even ports carry RTP; RTCP is always the odd port above. The allocator proposes
//! candidates, it never binds: the table skips candidates in use on the same local address and
//! asks the shell to bind the rest.

/// Even RTP ports of the configured range, with the round-robin position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortAllocator {
    /// Lowest even RTP port (≥ 2: port 0 cannot be bound to a fixed number).
    first: u16,
    /// Number of (RTP, RTCP) pairs in the range; 0 when the range is empty.
    pairs: u16,
    /// Index of the pair tried first by the next allocation.
    cursor: u16,
}

impl PortAllocator {
    /// Range from the `rtp_port_low` / `rtp_port_high` directives: the low bound is rounded up to
    /// even (7071 → 7072), the high bound down (7089 → 7088, whose RTCP is 7089). An empty or
    /// inverted range (siproxd's code default 0/0) yields an allocator that always fails.
    pub fn new(rtp_port_low: u16, rtp_port_high: u16) -> Self {
        let low = u32::from(rtp_port_low.max(2));
        let first = low + (low & 1);
        let last = u32::from(rtp_port_high & !1);
        let pairs = if first <= last {
            (last - first) / 2 + 1
        } else {
            0
        };
        PortAllocator {
            first: u16::try_from(first).unwrap_or(0),
            pairs: u16::try_from(pairs).unwrap_or(0),
            cursor: 0,
        }
    }

    /// Number of RTP/RTCP pairs in the range.
    pub fn pairs(&self) -> u16 {
        self.pairs
    }

    /// Every RTP port of the range exactly once, starting after the previously allocated one
    /// (at the low bound before the first allocation) and wrapping around.
    pub fn candidates(&self) -> impl Iterator<Item = u16> + '_ {
        let pairs = u32::from(self.pairs);
        (0..pairs).filter_map(move |i| {
            let index = (u32::from(self.cursor) + i) % pairs;
            u16::try_from(u32::from(self.first) + 2 * index).ok()
        })
    }

    /// Records that `port` was taken, so the next allocation starts at the pair after it.
    pub fn allocated(&mut self, port: u16) {
        if self.pairs == 0 || port < self.first {
            return;
        }
        let index = u32::from(port - self.first) / 2;
        let next = (index + 1) % u32::from(self.pairs);
        self.cursor = u16::try_from(next).unwrap_or(0);
    }

    /// Whether `port` is an RTP port of this range.
    pub fn contains(&self, port: u16) -> bool {
        self.candidates().any(|p| p == port)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    fn all(a: &PortAllocator) -> Vec<u16> {
        a.candidates().collect()
    }

    #[test]
    fn default_range_has_ten_even_pairs() {
        let a = PortAllocator::new(7070, 7089);
        assert_eq!(a.pairs(), 10);
        assert_eq!(
            all(&a),
            vec![7070, 7072, 7074, 7076, 7078, 7080, 7082, 7084, 7086, 7088]
        );
    }

    #[test]
    fn odd_low_is_rounded_up_and_odd_high_down() {
        let a = PortAllocator::new(7071, 7077);
        assert_eq!(all(&a), vec![7072, 7074, 7076]);
    }

    #[test]
    fn empty_and_inverted_ranges_offer_nothing() {
        assert_eq!(PortAllocator::new(0, 0).pairs(), 0);
        assert_eq!(PortAllocator::new(7090, 7080).pairs(), 0);
        assert_eq!(PortAllocator::new(7071, 7071).pairs(), 0);
        assert_eq!(all(&PortAllocator::new(0, 0)), Vec::<u16>::new());
    }

    #[test]
    fn top_of_port_space_does_not_overflow() {
        let a = PortAllocator::new(65533, 65535);
        assert_eq!(all(&a), vec![65534]);
        let b = PortAllocator::new(65535, 65535);
        assert_eq!(b.pairs(), 0);
        let c = PortAllocator::new(0, 5);
        assert_eq!(all(&c), vec![2, 4]);
    }

    #[test]
    fn round_robin_starts_after_previous_allocation_and_wraps() {
        let mut a = PortAllocator::new(7070, 7075);
        assert_eq!(all(&a), vec![7070, 7072, 7074]);
        a.allocated(7070);
        assert_eq!(all(&a), vec![7072, 7074, 7070]);
        a.allocated(7074);
        assert_eq!(all(&a), vec![7070, 7072, 7074]);
        // A port outside the range leaves the cursor alone.
        a.allocated(100);
        assert_eq!(all(&a), vec![7070, 7072, 7074]);
    }

    #[test]
    fn contains_only_even_ports_of_the_range() {
        let a = PortAllocator::new(7070, 7089);
        assert!(a.contains(7070));
        assert!(a.contains(7088));
        assert!(!a.contains(7071));
        assert!(!a.contains(7090));
        assert!(!a.contains(7068));
    }
}
