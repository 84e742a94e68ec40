//! Checks that need the whole configuration: RTP port parity and order, parallel arrays, plugins
//! whose required directive is missing.

use super::directives::Loc;
use super::{Config, Diagnostic, Severity};

/// Where each directive was read, and each entry of a repeatable one in the order the entries
/// were appended, so an error found after reading can name the line at fault.
#[derive(Debug, Default)]
pub struct ListEntries<'a>(Vec<(&'static str, Loc<'a>)>);

impl<'a> ListEntries<'a> {
    /// Records what `directives::apply` reports (`None`: nothing set or appended).
    pub fn record(&mut self, appended: Option<&'static str>, loc: Loc<'a>) {
        if let Some(name) = appended {
            self.0.push((name, loc));
        }
    }

    /// Where entry `index` (0-based) of `directive` came from.
    fn find(&self, directive: &str, index: usize) -> Option<Loc<'a>> {
        self.0
            .iter()
            .filter(|(n, _)| *n == directive)
            .nth(index)
            .map(|(_, l)| *l)
    }

    /// Where `directive` was last set (the value in force).
    fn last(&self, directive: &str) -> Option<Loc<'a>> {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| *n == directive)
            .map(|(_, l)| *l)
    }
}

/// Normalises and cross-checks `cfg`. `loc` names the configuration file (line 0: for problems
/// that belong to no single line); `lists` locates the entries of paired lists.
pub fn validate(
    cfg: &mut Config,
    loc: Loc<'_>,
    lists: &ListEntries<'_>,
    out: &mut Vec<Diagnostic>,
) {
    rtp_ports(cfg, loc, out);
    let loc = Paired { file: loc, lists };
    parallel(
        loc,
        out,
        &[
            ("mask_host", cfg.mask_host.len()),
            ("masked_host", cfg.masked_host.len()),
        ],
    );
    parallel(
        loc,
        out,
        &[
            ("outbound_domain_name", cfg.outbound_domain_name.len()),
            ("outbound_domain_host", cfg.outbound_domain_host.len()),
            ("outbound_domain_port", cfg.outbound_domain_port.len()),
        ],
    );
    if !cfg.outbound_domain_transport.is_empty() {
        parallel(
            loc,
            out,
            &[
                ("outbound_domain_name", cfg.outbound_domain_name.len()),
                (
                    "outbound_domain_transport",
                    cfg.outbound_domain_transport.len(),
                ),
            ],
        );
    }
    let p = &cfg.plugins;
    parallel(
        loc,
        out,
        &[
            ("plugin_regex_desc", p.plugin_regex_desc.len()),
            ("plugin_regex_pattern", p.plugin_regex_pattern.len()),
            ("plugin_regex_replace", p.plugin_regex_replace.len()),
        ],
    );
    parallel(
        loc,
        out,
        &[
            ("plugin_regex_body_desc", p.plugin_regex_body_desc.len()),
            (
                "plugin_regex_body_pattern",
                p.plugin_regex_body_pattern.len(),
            ),
            (
                "plugin_regex_body_replace",
                p.plugin_regex_body_replace.len(),
            ),
        ],
    );
    parallel(
        loc,
        out,
        &[
            ("plugin_siptrunk_name", p.plugin_siptrunk_name.len()),
            ("plugin_siptrunk_account", p.plugin_siptrunk_account.len()),
            (
                "plugin_siptrunk_numbers_regex",
                p.plugin_siptrunk_numbers_regex.len(),
            ),
        ],
    );
    required_by_plugins(cfg, loc.file, out);
    plugin_settings(cfg, loc, out);
    if !matches!(cfg.outbound_family, 0 | 4 | 6) {
        out.push(loc.file.diag(
            Severity::Warning,
            "outbound_family",
            format!(
                "{} is not 0, 4 or 6; 0 (follow the next hop) is used",
                cfg.outbound_family
            ),
        ));
        cfg.outbound_family = 0;
    }
    for (name, v) in [
        ("rtp_input_dejitter", cfg.rtp_input_dejitter),
        ("rtp_output_dejitter", cfg.rtp_output_dejitter),
    ] {
        if v > 0 {
            // Accepted for compatibility but not a config problem (decisions §6).
            log::warn!(target: crate::logging::CONFIG,
                "{name} = {v}: dejitter is not supported by siproxd-rs and is ignored");
        }
    }
}

/// siproxd's post-processing: RTP ports come in even/odd pairs, so an odd low port is rounded up
/// (with a warning, the range shrinks) and an odd high port down (the documented 7089 is the
/// RTCP port of the top pair, so that is the normal case and silent).
fn rtp_ports(cfg: &mut Config, loc: Loc<'_>, out: &mut Vec<Diagnostic>) {
    if cfg.rtp_port_low % 2 == 1 {
        match cfg.rtp_port_low.checked_add(1) {
            Some(even) => {
                out.push(loc.diag(
                    Severity::Warning,
                    "rtp_port_low",
                    format!("{} is odd, rounded up to {even}", cfg.rtp_port_low),
                ));
                cfg.rtp_port_low = even;
            }
            None => {
                out.push(loc.diag(
                    Severity::Error,
                    "rtp_port_low",
                    format!(
                        "{} is odd and cannot be rounded up to an even port",
                        cfg.rtp_port_low
                    ),
                ));
                return;
            }
        }
    }
    if cfg.rtp_port_high % 2 == 1 {
        cfg.rtp_port_high = cfg.rtp_port_high.saturating_sub(1);
    }
    if cfg.rtp_port_low > cfg.rtp_port_high {
        out.push(loc.diag(
            Severity::Error,
            "rtp_port_low",
            format!(
                "rtp_port_low ({}) is above rtp_port_high ({}) after rounding to even ports",
                cfg.rtp_port_low, cfg.rtp_port_high
            ),
        ));
    }
}

/// The file's location and where each list entry was read.
#[derive(Clone, Copy)]
struct Paired<'l, 'a> {
    file: Loc<'a>,
    lists: &'l ListEntries<'a>,
}

/// Arrays whose entries belong together by index must have the same length. The error points
/// at the first entry without a partner (e.g. an `outbound_domain_name` without its host).
fn parallel(loc: Paired<'_, '_>, out: &mut Vec<Diagnostic>, arrays: &[(&str, usize)]) {
    let Some(paired) = arrays.iter().map(|&(_, m)| m).min() else {
        return;
    };
    let Some(&(extra, _)) = arrays.iter().find(|&&(_, m)| m > paired) else {
        return;
    };
    let missing: Vec<&str> = arrays
        .iter()
        .filter(|&&(_, m)| m == paired)
        .map(|(name, _)| *name)
        .collect();
    let counts: Vec<String> = arrays
        .iter()
        .map(|(name, m)| format!("{m} {name}"))
        .collect();
    let names: Vec<&str> = arrays.iter().map(|(name, _)| *name).collect();
    let at = loc.lists.find(extra, paired).unwrap_or(loc.file);
    out.push(at.diag(
        Severity::Error,
        extra,
        format!(
            "entry {} has no {}; found {}; {} must have the same number of entries (they pair up by position)",
            paired.saturating_add(1),
            missing.join(" or "),
            counts.join(", "),
            names.join(", ")
        ),
    ));
}

/// Plugins that siproxd refuses to initialise (or crashes in) without a directive.
/// The loaded plugins' own checks (patterns compile, URIs parse, ...), located at the directive
/// or list entry at fault, so start-up, `-t` and SIGHUP all name file and line. Unpaired lists
/// and missing required directives were reported above and are not reported twice.
fn plugin_settings(cfg: &Config, loc: Paired<'_, '_>, out: &mut Vec<Diagnostic>) {
    if out.iter().any(|d| d.severity == Severity::Error) {
        return;
    }
    let p = &cfg.plugins;
    let loaded = |name: &str| cfg.load_plugin.iter().position(|l| l == name);
    let idle = [
        (
            "codecfilter",
            "plugin_codecfilter_blacklist",
            p.plugin_codecfilter_blacklist.is_empty(),
            "nothing is filtered",
        ),
        (
            "fix_bogus_via",
            "plugin_fix_bogus_via_networks",
            p.plugin_fix_bogus_via_networks.is_none(),
            "no Via is fixed",
        ),
        (
            "fix_DTAG",
            "plugin_fix_DTAG_networks",
            p.plugin_fix_dtag_networks.is_none(),
            "no Via is fixed",
        ),
        (
            "fix_fbox_anoncall",
            "plugin_fix_fbox_anoncall_networks",
            p.plugin_fix_fbox_anoncall_networks.is_none(),
            "no Contact is fixed",
        ),
        (
            "stats",
            "plugin_stats_to_syslog",
            p.plugin_stats_to_syslog == 0 && p.plugin_stats_to_file == 0,
            "nor is plugin_stats_to_file: no statistics are written",
        ),
    ];
    for (plugin, directive, empty, effect) in idle {
        if let Some(i) = loaded(plugin).filter(|_| empty) {
            let at = loc.lists.find("load_plugin", i).unwrap_or(loc.file);
            out.push(at.diag(
                Severity::Warning,
                directive,
                format!("plugin_{plugin} is loaded but {directive} is not set: {effect}"),
            ));
        }
    }
    if let Err(e) = crate::plugins::build(cfg) {
        let at = e
            .entry
            .and_then(|i| loc.lists.find(e.directive, i))
            .or_else(|| loc.lists.last(e.directive))
            .unwrap_or(loc.file);
        out.push(at.diag(Severity::Error, e.directive, e.message));
    }
}

fn required_by_plugins(cfg: &Config, loc: Loc<'_>, out: &mut Vec<Diagnostic>) {
    let needs = [
        (
            "defaulttarget",
            "plugin_defaulttarget_target",
            cfg.plugins.plugin_defaulttarget_target.is_none(),
        ),
        (
            "stun",
            "plugin_stun_server",
            cfg.plugins.plugin_stun_server.is_none(),
        ),
    ];
    for (plugin, directive, missing) in needs {
        if missing && cfg.loads(plugin) {
            out.push(loc.diag(
                Severity::Error,
                directive,
                format!("plugin_{plugin} is loaded but {directive} is not set"),
            ));
        }
    }
}
