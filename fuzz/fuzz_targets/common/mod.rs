//! Helpers shared by the fuzz targets (included with `#[path]`, not a target itself).
#![allow(dead_code)]

/// True when `part` is a sub-slice of `whole` (zero-copy views must hand out slices of their
/// input, never copies). An empty slice is accepted anywhere: its pointer carries no meaning.
pub fn within(whole: &[u8], part: &[u8]) -> bool {
    if part.is_empty() {
        return true;
    }
    let w = whole.as_ptr_range();
    let p = part.as_ptr_range();
    w.start <= p.start && p.end <= w.end
}

/// Deterministic knobs derived from the input: targets whose input is a plain document (so the
/// seeds stay real files) still explore parameters, and a crash reproduces from its input alone.
pub struct Knobs(u64);

impl Knobs {
    pub fn new(data: &[u8]) -> Knobs {
        // FNV-1a
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in data {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        Knobs(h | 1)
    }

    pub fn next(&mut self) -> u64 {
        // xorshift64
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }

    pub fn bool(&mut self) -> bool {
        self.next() & 1 == 1
    }

    pub fn u16(&mut self) -> u16 {
        (self.next() >> 16) as u16
    }

    pub fn ip(&mut self) -> std::net::IpAddr {
        let x = self.next();
        if x & 1 == 0 {
            std::net::IpAddr::from(((x >> 8) as u32).to_be_bytes())
        } else {
            let y = self.next();
            let mut o = [0u8; 16];
            o[..8].copy_from_slice(&x.to_be_bytes());
            o[8..].copy_from_slice(&y.to_be_bytes());
            std::net::IpAddr::from(o)
        }
    }
}
