//! `rtp_input_dejitter` / `rtp_output_dejitter`: accepted and ignored (decisions §6), because
//! siproxd's dejitter loses packets and eventually crashes (behaviour §5.7).

/// The start-up warning the shell logs when either setting is > 0; `None` when both are 0.
pub fn dejitter_warning(rtp_input_dejitter: u32, rtp_output_dejitter: u32) -> Option<String> {
    if rtp_input_dejitter == 0 && rtp_output_dejitter == 0 {
        return None;
    }
    Some(format!(
        "rtp_input_dejitter = {rtp_input_dejitter}, rtp_output_dejitter = {rtp_output_dejitter}: \
         dejitter is not supported by siproxd-rs, RTP is relayed without delay"
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn zero_settings_give_no_warning() {
        assert_eq!(dejitter_warning(0, 0), None);
    }

    #[test]
    fn any_nonzero_setting_names_both_values() {
        let w = dejitter_warning(0, 40_000).unwrap();
        assert!(w.contains("rtp_output_dejitter = 40000"), "{w}");
        assert!(w.contains("not supported"), "{w}");
        let w = dejitter_warning(20_000, 0).unwrap();
        assert!(w.contains("rtp_input_dejitter = 20000"), "{w}");
    }
}
