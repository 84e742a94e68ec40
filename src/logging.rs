//! Log classes of siproxd's `debug_level` bitmask (behaviour §7.1), mapped onto `log` targets.
//!
//! Code logs debug records with the class as target, e.g.
//! `log::debug!(target: logging::SIP, "...")`, so `-d 0x204` (SIP+RTP) still selects the same
//! records as in siproxd.

pub const BABBLE: &str = "babble";
pub const NET: &str = "net";
pub const SIP: &str = "sip";
pub const REG: &str = "reg";
pub const NOSPEC: &str = "nospec";
pub const PROXY: &str = "proxy";
pub const DNS: &str = "dns";
pub const NETTRAF: &str = "nettraf";
pub const CONFIG: &str = "config";
pub const RTP: &str = "rtp";
pub const ACCESS: &str = "access";
pub const AUTH: &str = "auth";
pub const PLUGIN: &str = "plugin";
pub const RTPBABL: &str = "rtpbabl";

/// (target, bit) in siproxd's order.
pub const CLASSES: [(&str, u32); 14] = [
    (BABBLE, 0x0001),
    (NET, 0x0002),
    (SIP, 0x0004),
    (REG, 0x0008),
    (NOSPEC, 0x0010),
    (PROXY, 0x0020),
    (DNS, 0x0040),
    (NETTRAF, 0x0080),
    (CONFIG, 0x0100),
    (RTP, 0x0200),
    (ACCESS, 0x0400),
    (AUTH, 0x0800),
    (PLUGIN, 0x1000),
    (RTPBABL, 0x2000),
];

/// The bit of a target, or `None` for targets that are not a siproxd class.
pub fn class_bit(target: &str) -> Option<u32> {
    CLASSES.iter().find(|(t, _)| *t == target).map(|(_, b)| *b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_and_rtp_bits_match_siproxd() {
        assert_eq!(class_bit(SIP), Some(0x4));
        assert_eq!(class_bit(RTP), Some(0x200));
        assert_eq!(class_bit("other"), None);
    }
}
