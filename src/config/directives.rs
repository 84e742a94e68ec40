//! The directive table: every keyword of behaviour §2.3 and §8.3 plus the new ones of
//! decisions.md, its type and range, and how one `key = value` is applied to a `Config`.

use super::lexer::{parse_c_int, IntError};
use super::{Config, Diagnostic, Severity, BUILTIN_PLUGINS};
use crate::acl::AclList;
use crate::limits;

/// Where a value came from, for diagnostics.
#[derive(Debug, Clone, Copy)]
pub struct Loc<'a> {
    pub file: &'a str,
    pub line: usize,
}

impl Loc<'_> {
    pub fn diag(&self, severity: Severity, directive: &str, message: String) -> Diagnostic {
        Diagnostic {
            severity,
            file: self.file.to_string(),
            line: self.line,
            directive: directive.to_string(),
            message,
        }
    }
}

type IntSetter = fn(&mut Config, i64) -> bool;

/// How a directive's value is stored.
pub enum Field {
    /// A C integer in `min..=max`; `what` names the expected range in messages.
    Int {
        min: i64,
        max: i64,
        what: &'static str,
        set: IntSetter,
    },
    /// A C integer, non-zero = true (as siproxd).
    Bool(fn(&mut Config) -> &mut bool),
    /// A string; the last occurrence wins.
    Str(fn(&mut Config) -> &mut Option<String>),
    /// A repeatable string: each occurrence appends.
    List(fn(&mut Config) -> &mut Vec<String>),
    /// A repeatable port number.
    PortList(fn(&mut Config) -> &mut Vec<u16>),
    /// An ACL (`acl` syntax); the last occurrence wins.
    Acl(fn(&mut Config) -> &mut Option<AclList>),
    /// `debug_level`: a bitmask, `-1` = every class.
    DebugLevel,
    /// `load_plugin`: `plugin_NAME.la` → built-in `NAME`.
    Plugin,
}

fn put<T: TryFrom<i64>>(dst: &mut T, v: i64) -> bool {
    match T::try_from(v) {
        Ok(x) => {
            *dst = x;
            true
        }
        Err(_) => false,
    }
}

const PORT: &str = "a port 1..65535";
const U32: i64 = u32::MAX as i64;
const DSCP: &str = "a DSCP value 0..63";
const SECONDS: &str = "a number of seconds >= 0";
const TABLE_MAX: i64 = limits::MAX_TABLE_CAPACITY as i64;

const fn int(min: i64, max: i64, what: &'static str, set: IntSetter) -> Field {
    Field::Int {
        min,
        max,
        what,
        set,
    }
}

const fn port(set: IntSetter) -> Field {
    Field::Int {
        min: 1,
        max: 65535,
        what: PORT,
        set,
    }
}

const fn secs(set: IntSetter) -> Field {
    Field::Int {
        min: 0,
        max: U32,
        what: SECONDS,
        set,
    }
}

const fn table(set: IntSetter) -> Field {
    Field::Int {
        min: 1,
        max: TABLE_MAX,
        what: "a table size 1..65536",
        set,
    }
}

/// Every directive siproxd-rs knows, in the order of behaviour §2.3, §8.3, then decisions.md.
pub fn table_entries() -> &'static [(&'static str, Field)] {
    use Field::*;
    // A static, not a Vec built on first use: the builder cost ~4 kB of code on MIPS.
    static TABLE: &[(&str, Field)] = &[
        ("debug_level", DebugLevel),
        (
            "debug_port",
            int(0, 65535, "a TCP port 0..65535 (0 = off)", |c, v| {
                put(&mut c.debug_port, v)
            }),
        ),
        (
            "sip_listen_port",
            port(|c, v| put(&mut c.sip_listen_port, v)),
        ),
        ("daemonize", Bool(|c| &mut c.daemonize)),
        (
            "silence_log",
            int(0, 4, "0..4", |c, v| put(&mut c.silence_log, v)),
        ),
        ("if_inbound", Str(|c| &mut c.if_inbound)),
        ("if_outbound", Str(|c| &mut c.if_outbound)),
        ("host_outbound", Str(|c| &mut c.host_outbound)),
        ("rtp_port_low", port(|c, v| put(&mut c.rtp_port_low, v))),
        ("rtp_port_high", port(|c, v| put(&mut c.rtp_port_high, v))),
        ("rtp_timeout", secs(|c, v| put(&mut c.rtp_timeout, v))),
        (
            "rtp_proxy_enable",
            int(0, 1, "0 (off) or 1 (built-in relay)", |c, v| {
                put(&mut c.rtp_proxy_enable, v)
            }),
        ),
        ("rtp_dscp", int(0, 63, DSCP, |c, v| put(&mut c.rtp_dscp, v))),
        (
            "rtp_input_dejitter",
            int(0, 1_500_000, "microseconds 0..1500000", |c, v| {
                put(&mut c.rtp_input_dejitter, v)
            }),
        ),
        (
            "rtp_output_dejitter",
            int(0, 1_500_000, "microseconds 0..1500000", |c, v| {
                put(&mut c.rtp_output_dejitter, v)
            }),
        ),
        ("user", Str(|c| &mut c.user)),
        ("chrootjail", Str(|c| &mut c.chrootjail)),
        ("hosts_allow_reg", Acl(|c| &mut c.hosts_allow_reg)),
        ("hosts_allow_sip", Acl(|c| &mut c.hosts_allow_sip)),
        ("hosts_deny_sip", Acl(|c| &mut c.hosts_deny_sip)),
        ("proxy_auth_realm", Str(|c| &mut c.proxy_auth_realm)),
        ("proxy_auth_passwd", Str(|c| &mut c.proxy_auth_passwd)),
        ("proxy_auth_pwfile", Str(|c| &mut c.proxy_auth_pwfile)),
        ("mask_host", List(|c| &mut c.mask_host)),
        ("masked_host", List(|c| &mut c.masked_host)),
        ("outbound_proxy_host", Str(|c| &mut c.outbound_proxy_host)),
        (
            "outbound_proxy_port",
            port(|c, v| put(&mut c.outbound_proxy_port, v)),
        ),
        (
            "outbound_domain_name",
            List(|c| &mut c.outbound_domain_name),
        ),
        (
            "outbound_domain_host",
            List(|c| &mut c.outbound_domain_host),
        ),
        (
            "outbound_domain_port",
            PortList(|c| &mut c.outbound_domain_port),
        ),
        ("registration_file", Str(|c| &mut c.registration_file)),
        ("pid_file", Str(|c| &mut c.pid_file)),
        (
            "default_expires",
            secs(|c, v| put(&mut c.default_expires, v)),
        ),
        (
            "autosave_registrations",
            secs(|c, v| put(&mut c.autosave_registrations, v)),
        ),
        ("ua_string", Str(|c| &mut c.ua_string)),
        (
            "use_rport",
            int(0, 3, "a bitmask 0..3", |c, v| put(&mut c.use_rport, v)),
        ),
        ("obscure_loops", Bool(|c| &mut c.obscure_loops)),
        ("plugindir", Str(|c| &mut c.plugindir)),
        ("load_plugin", Plugin),
        ("sip_dscp", int(0, 63, DSCP, |c, v| put(&mut c.sip_dscp, v))),
        ("tcp_timeout", secs(|c, v| put(&mut c.tcp_timeout, v))),
        (
            "tcp_connect_timeout",
            int(0, U32, "milliseconds >= 0", |c, v| {
                put(&mut c.tcp_connect_timeout, v)
            }),
        ),
        ("tcp_keepalive", secs(|c, v| put(&mut c.tcp_keepalive, v))),
        (
            "thread_stack_size",
            int(0, U32, "kilobytes >= 0", |c, v| {
                put(&mut c.thread_stack_size, v)
            }),
        ),
        // Plugins (behaviour §8.3).
        (
            "plugin_demo_string",
            Str(|c| &mut c.plugins.plugin_demo_string),
        ),
        (
            "plugin_shortdial_akey",
            Str(|c| &mut c.plugins.plugin_shortdial_akey),
        ),
        (
            "plugin_shortdial_entry",
            List(|c| &mut c.plugins.plugin_shortdial_entry),
        ),
        (
            "plugin_defaulttarget_target",
            Str(|c| &mut c.plugins.plugin_defaulttarget_target),
        ),
        (
            "plugin_defaulttarget_log",
            int(0, 1, "0 or 1", |c, v| {
                put(&mut c.plugins.plugin_defaulttarget_log, v)
            }),
        ),
        (
            "plugin_fix_bogus_via_networks",
            Acl(|c| &mut c.plugins.plugin_fix_bogus_via_networks),
        ),
        (
            "plugin_fix_DTAG_networks",
            Acl(|c| &mut c.plugins.plugin_fix_dtag_networks),
        ),
        (
            "plugin_stun_server",
            Str(|c| &mut c.plugins.plugin_stun_server),
        ),
        (
            "plugin_stun_port",
            port(|c, v| put(&mut c.plugins.plugin_stun_port, v)),
        ),
        (
            "plugin_stun_period",
            int(1, U32, "seconds >= 1", |c, v| {
                put(&mut c.plugins.plugin_stun_period, v)
            }),
        ),
        (
            "plugin_prefix_akey",
            Str(|c| &mut c.plugins.plugin_prefix_akey),
        ),
        (
            "plugin_regex_desc",
            List(|c| &mut c.plugins.plugin_regex_desc),
        ),
        (
            "plugin_regex_pattern",
            List(|c| &mut c.plugins.plugin_regex_pattern),
        ),
        (
            "plugin_regex_replace",
            List(|c| &mut c.plugins.plugin_regex_replace),
        ),
        (
            "plugin_regex_body_desc",
            List(|c| &mut c.plugins.plugin_regex_body_desc),
        ),
        (
            "plugin_regex_body_pattern",
            List(|c| &mut c.plugins.plugin_regex_body_pattern),
        ),
        (
            "plugin_regex_body_replace",
            List(|c| &mut c.plugins.plugin_regex_body_replace),
        ),
        (
            "plugin_codecfilter_blacklist",
            List(|c| &mut c.plugins.plugin_codecfilter_blacklist),
        ),
        (
            "plugin_stripheader_remove",
            List(|c| &mut c.plugins.plugin_stripheader_remove),
        ),
        (
            "plugin_siptrunk_name",
            List(|c| &mut c.plugins.plugin_siptrunk_name),
        ),
        (
            "plugin_siptrunk_account",
            List(|c| &mut c.plugins.plugin_siptrunk_account),
        ),
        (
            "plugin_siptrunk_numbers_regex",
            List(|c| &mut c.plugins.plugin_siptrunk_numbers_regex),
        ),
        (
            "plugin_fix_fbox_anoncall_networks",
            Acl(|c| &mut c.plugins.plugin_fix_fbox_anoncall_networks),
        ),
        (
            "plugin_stats_to_syslog",
            int(
                -1,
                U32,
                "-1 (on SIGUSR1), 0 (off) or a period in seconds",
                |c, v| put(&mut c.plugins.plugin_stats_to_syslog, v),
            ),
        ),
        (
            "plugin_stats_to_file",
            int(
                -1,
                U32,
                "-1 (on SIGUSR1), 0 (off) or a period in seconds",
                |c, v| put(&mut c.plugins.plugin_stats_to_file, v),
            ),
        ),
        (
            "plugin_stats_filename",
            Str(|c| &mut c.plugins.plugin_stats_filename),
        ),
        (
            "plugin_blacklist_dbpath",
            Str(|c| &mut c.plugins.plugin_blacklist_dbpath),
        ),
        (
            "plugin_blacklist_db_sync_mode",
            Str(|c| &mut c.plugins.plugin_blacklist_db_sync_mode),
        ),
        (
            "plugin_blacklist_simulate",
            int(0, 1, "0 or 1", |c, v| {
                put(&mut c.plugins.plugin_blacklist_simulate, v)
            }),
        ),
        (
            "plugin_blacklist_duration",
            int(0, U32, "seconds >= 0 (0 = forever)", |c, v| {
                put(&mut c.plugins.plugin_blacklist_duration, v)
            }),
        ),
        (
            "plugin_blacklist_hitcount",
            int(0, U32, "a count >= 0", |c, v| {
                put(&mut c.plugins.plugin_blacklist_hitcount, v)
            }),
        ),
        (
            "plugin_blacklist_register_window",
            int(0, U32, SECONDS, |c, v| {
                put(&mut c.plugins.plugin_blacklist_register_window, v)
            }),
        ),
        // New in siproxd-rs (decisions §3, §7, §8).
        (
            "max_registrations",
            table(|c, v| put(&mut c.max_registrations, v)),
        ),
        (
            "max_rtp_streams",
            table(|c, v| put(&mut c.max_rtp_streams, v)),
        ),
        (
            "max_tcp_connections",
            table(|c, v| put(&mut c.max_tcp_connections, v)),
        ),
        ("debug_bind", Str(|c| &mut c.debug_bind)),
        ("proxy_auth_sha256", Bool(|c| &mut c.proxy_auth_sha256)),
        ("status_file", Str(|c| &mut c.status_file)),
        (
            "status_interval",
            secs(|c, v| put(&mut c.status_interval, v)),
        ),
    ];
    TABLE
}

/// All directive names, for documentation checks and the CLI's help.
pub fn names() -> impl Iterator<Item = &'static str> {
    table_entries().iter().map(|(n, _)| *n)
}

/// The built-in plugin enabled by a `load_plugin` value (`plugin_NAME.la`, `.so` or bare
/// `plugin_NAME`; a directory part is ignored since plugins are compiled in).
pub fn plugin_name(value: &str) -> Option<&'static str> {
    let file = value.rsplit('/').next().unwrap_or(value);
    let stem = file
        .strip_suffix(".la")
        .or_else(|| file.strip_suffix(".so"))
        .unwrap_or(file);
    let name = stem.strip_prefix("plugin_")?;
    BUILTIN_PLUGINS.iter().copied().find(|p| *p == name)
}

/// Applies one `key = value` (value already unquoted). Problems go to `out`: unknown keywords
/// and unparsable values are warnings (siproxd starts anyway), out-of-range values are errors.
pub fn apply(cfg: &mut Config, key: &str, value: &str, loc: Loc<'_>, out: &mut Vec<Diagnostic>) {
    let Some((name, field)) = table_entries().iter().find(|(n, _)| *n == key) else {
        out.push(loc.diag(Severity::Warning, key, "unknown directive, ignored".into()));
        return;
    };
    if value.is_empty() {
        out.push(loc.diag(
            Severity::Warning,
            name,
            "empty value, directive ignored".into(),
        ));
        return;
    }
    let warn =
        |out: &mut Vec<Diagnostic>, m: String| out.push(loc.diag(Severity::Warning, name, m));
    let error = |out: &mut Vec<Diagnostic>, m: String| out.push(loc.diag(Severity::Error, name, m));
    let int = |out: &mut Vec<Diagnostic>| -> Option<i64> {
        match parse_c_int(value) {
            Ok((v, trailing)) => {
                if trailing {
                    log::debug!(target: crate::logging::CONFIG,
                        "{}:{}: {name}: text after the number {v} ignored", loc.file, loc.line);
                }
                Some(v)
            }
            Err(IntError::NotANumber) => {
                warn(
                    out,
                    format!("expected an integer, got '{value}'; directive ignored"),
                );
                None
            }
            Err(IntError::TooLarge) => {
                error(out, format!("number '{value}' is too large"));
                None
            }
        }
    };
    match field {
        Field::Int { min, max, what, set } => {
            if let Some(v) = int(out) {
                if v < *min || v > *max || !set(cfg, v) {
                    error(out, format!("value {v} out of range, expected {what}"));
                }
            }
        }
        Field::Bool(get) => {
            if let Some(v) = int(out) {
                *get(cfg) = v != 0;
            }
        }
        Field::Str(get) => *get(cfg) = Some(value.to_string()),
        Field::List(get) => get(cfg).push(value.to_string()),
        Field::PortList(get) => {
            if let Some(v) = int(out) {
                match u16::try_from(v) {
                    Ok(p) if p != 0 => get(cfg).push(p),
                    _ => error(out, format!("value {v} out of range, expected {PORT}")),
                }
            }
        }
        Field::Acl(get) => match AclList::parse(value) {
            Ok(l) => *get(cfg) = Some(l),
            Err(e) => error(out, e.to_string()),
        },
        Field::DebugLevel => {
            if let Some(v) = int(out) {
                if v == -1 {
                    cfg.debug_level = u32::MAX;
                } else if !put(&mut cfg.debug_level, v) {
                    error(out, format!("value {v} out of range, expected a bitmask or -1 (all)"));
                }
            }
        }
        Field::Plugin => match plugin_name(value) {
            Some(p) if cfg.load_plugin.iter().any(|l| l == p) => {
                warn(out, format!("plugin '{p}' is loaded twice; second ignored"));
            }
            Some(p) => cfg.load_plugin.push(p.to_string()),
            None => error(
                out,
                format!(
                    "unknown plugin '{value}'; built-in plugins are plugin_NAME.la with NAME one of: {}",
                    BUILTIN_PLUGINS.join(", ")
                ),
            ),
        },
    }
}
