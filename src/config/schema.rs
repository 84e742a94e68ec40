//! Every directive, declared once (behaviour §2.3, docs/DECISIONS.md, behaviour §8.3): field name
//! and type, keyword when it differs from the field, default, kind (how the value is read) and
//! `restart` when a SIGHUP cannot change it. `declare_directives!` turns this list into
//! `Config`, `PluginConfig`, their `Default`, the parser table and the restart-only checks.

use super::directives::{declare_directives, DSCP, SECONDS, U32};
use crate::acl::AclList;
use crate::limits;

declare_directives! {
    /// The whole configuration. Field names are the siproxd directive names.
    pub struct Config {
        /// Debug class bitmask (behaviour §7.1); `-1` in the file means all classes.
        debug_level: u32 = 0, debug_level;
        /// TCP port of the debug-log listener; 0 = off (behaviour §7.2).
        debug_port: u16 = 0, int(0, 65535, "a TCP port 0..65535 (0 = off)"), restart;
        /// UDP and TCP SIP port, also written into own Via, Record-Route and Contact.
        sip_listen_port: u16 = 5060, port, restart;
        /// Non-zero: fork to the background.
        daemonize: bool = false, flag, restart;
        /// 0..4, syslog verbosity (behaviour §7.1).
        silence_log: u8 = 1, int(0, 4, "0..4");
        /// LAN side: interface name or IP literal (decisions §1).
        if_inbound: Option<String> = None, string, restart;
        /// WAN side: interface name or IP literal (decisions §1).
        if_outbound: Option<String> = None, string, restart;
        /// Public host name or address announced instead of the WAN address (behind a NAT).
        host_outbound: Option<String> = None, string;
        /// Lowest RTP port, even after loading (an odd value is rounded up).
        rtp_port_low: u16 = 7070, port, restart;
        /// Highest RTP port, even after loading (odd rounded down; its RTCP port is this + 1).
        rtp_port_high: u16 = 7089, port, restart;
        /// Seconds without media before a relayed stream is closed.
        rtp_timeout: u32 = 300, secs;
        /// Non-zero: a far end not latched yet is latched on the first source that sends,
        /// whatever its SDP names (providers with asymmetric media; decisions §6).
        rtp_latch_any_source: bool = false, flag, restart;
        /// 0 = no relay, 1 = built-in relay; read it through `Config::relay_enabled`.
        rtp_proxy_enable: u8 = 1, int(0, 1, "0 (off) or 1 (built-in relay)"), restart;
        /// DSCP of relayed RTP packets.
        rtp_dscp: u8 = 0, int(0, 63, DSCP), restart;
        /// Accepted for compatibility and ignored (decisions §6).
        rtp_input_dejitter: u32 = 0, int(0, 1_500_000, "microseconds 0..1500000");
        /// Accepted for compatibility and ignored (decisions §6).
        rtp_output_dejitter: u32 = 0, int(0, 1_500_000, "microseconds 0..1500000");
        /// User to switch to after binding the sockets.
        user: Option<String> = None, string, restart;
        /// Directory to chroot into after start-up.
        chrootjail: Option<String> = None, string, restart;
        /// Who may register; `None` = directive absent (everyone allowed), semantics in `acl`.
        hosts_allow_reg: Option<AclList> = None, acl;
        /// Who may send SIP; `None` = everyone.
        hosts_allow_sip: Option<AclList> = None, acl;
        /// Who may not send SIP (checked first); `None` = nobody denied.
        hosts_deny_sip: Option<AclList> = None, acl;
        /// Realm of the proxy's own digest challenge; authentication is on when set.
        proxy_auth_realm: Option<String> = None, string;
        /// The one password every client must know.
        proxy_auth_passwd: Option<String> = None, string;
        /// File of per-user passwords (re-read on SIGHUP).
        proxy_auth_pwfile: Option<String> = None, string;
        /// Host names to hide, paired by position with `masked_host`.
        mask_host: Vec<String> = Vec::new(), list;
        /// What each `mask_host` is replaced with.
        masked_host: Vec<String> = Vec::new(), list;
        /// Global outbound proxy for outgoing requests.
        outbound_proxy_host: Option<String> = None, string;
        /// Port of `outbound_proxy_host`.
        outbound_proxy_port: u16 = 5060, port;
        /// Transport to `outbound_proxy_host` (`udp`, `tcp`, or `auto`: as unset, and a UDP
        /// request over 1300 bytes goes over TCP; unset: the next hop's `transport=`
        /// parameter, else the transport the request came on).
        outbound_proxy_transport: Option<super::ProxyTransport> = None, transport;
        /// Address family towards the Internet when both are available: 4, 6, or 0 = the
        /// family of the next hop's resolved address (decisions §3).
        outbound_family: u8 = 0, int(0, 6, "0 (follow the next hop), 4 or 6");
        /// Per-domain outbound proxies: the From domain each applies to; read them through
        /// `Config::domain_routes`.
        outbound_domain_name: Vec<String> = Vec::new(), list;
        /// Proxy host for the `outbound_domain_name` at the same position.
        outbound_domain_host: Vec<String> = Vec::new(), list;
        /// Proxy port for the `outbound_domain_name` at the same position.
        outbound_domain_port: Vec<u16> = Vec::new(), ports;
        /// Transport (as `outbound_proxy_transport`) for the `outbound_domain_name` at the same
        /// position; absent: none imposed for any.
        outbound_domain_transport: Vec<super::ProxyTransport> = Vec::new(), transports;
        /// Where registrations are saved across restarts (decisions §7).
        registration_file: Option<String> = None, string, restart;
        /// Where the daemon writes its process id.
        pid_file: Option<String> = None, string, restart;
        /// Expiry used for a registration that states none, in seconds.
        default_expires: u32 = 3600, secs;
        /// Seconds between saves of `registration_file`; 0 = only at exit.
        autosave_registrations: u32 = 300, secs;
        /// Replaces the User-Agent and Server headers when set.
        ua_string: Option<String> = None, string;
        /// Bit 1: rport on own Via of incoming-direction messages; bit 2: outgoing. Read it
        /// through `Config::rport`.
        use_rport: u8 = 0, int(0, 3, "a bitmask 0..3");
        /// Obscure Call-IDs (behaviour §4.10.7).
        obscure_loops: bool = false, flag;
        /// Accepted and ignored: plugins are compiled in (decisions §1).
        plugindir: Option<String> = None, string;
        /// Built-in plugin names enabled, normalised (`plugin_logcall.la` → `logcall`).
        load_plugin: Vec<String> = Vec::new(), plugin;
        /// DSCP of SIP packets sent.
        sip_dscp: u8 = 0, int(0, 63, DSCP), restart;
        /// Seconds an idle SIP TCP connection is kept.
        tcp_timeout: u32 = 600, secs;
        /// Milliseconds to wait for an outgoing SIP TCP connection.
        tcp_connect_timeout: u32 = 500, int(0, U32, "milliseconds >= 0");
        /// Seconds between keep-alives on SIP TCP connections; 0 = none.
        tcp_keepalive: u32 = 0, secs;
        /// Accepted and ignored (siproxd's thread stack size, in kilobytes).
        thread_stack_size: u32 = 0, int(0, U32, "kilobytes >= 0");
        // New in siproxd-rs (decisions §3, §7, §8).
        /// Capacity of the registration table (decisions §3).
        max_registrations: usize = limits::DEFAULT_MAX_REGISTRATIONS, table, restart;
        /// Capacity of the RTP relay table (decisions §3).
        max_rtp_streams: usize = limits::DEFAULT_MAX_RTP_STREAMS, table, restart;
        /// Capacity of the SIP TCP connection table (decisions §3).
        max_tcp_connections: usize = limits::DEFAULT_MAX_TCP_CONNECTIONS, table, restart;
        /// Address the debug console binds to; loopback when unset (decisions §8).
        debug_bind: Option<String> = None, string, restart;
        /// Also offer an RFC 8760 SHA-256 digest challenge (before the MD5 one).
        proxy_auth_sha256: bool = false, flag;
        /// Where the status snapshot is written (decisions §7).
        status_file: Option<String> = None, string;
        /// Seconds between status snapshots; 0 = only on SIGUSR1.
        status_interval: u32 = 0, secs;
        /// Requests per second accepted from one Internet-side source; more are dropped
        /// unparsed and counted (decisions §3). 0 = no limit.
        wan_request_rate_limit: u32 = 50, int(0, 1_000_000, "requests per second 0..1000000 (0 = off)");
    }

    /// Built-in plugin settings (behaviour §8.3). Field names are the directive names.
    pub struct PluginConfig {
        /// plugin_demo: text it logs.
        plugin_demo_string: Option<String> = None, string;
        /// plugin_shortdial: the short-code pattern (e.g. `*00`).
        plugin_shortdial_akey: Option<String> = None, string;
        /// plugin_shortdial: the targets; entry n is short code n.
        plugin_shortdial_entry: Vec<String> = Vec::new(), list;
        /// plugin_defaulttarget: SIP URI calls of unknown direction are redirected to (required).
        plugin_defaulttarget_target: Option<String> = None, string;
        /// plugin_defaulttarget: 1 = log each redirect.
        plugin_defaulttarget_log: i64 = 0, int(0, 1, "0 or 1");
        /// plugin_fix_bogus_via: networks whose top Via is replaced by the packet's source.
        plugin_fix_bogus_via_networks: Option<AclList> = None, acl;
        /// plugin_fix_DTAG: networks whose broken Via in responses is replaced.
        plugin_fix_dtag_networks["plugin_fix_DTAG_networks"]: Option<AclList> = None, acl;
        /// plugin_stun: STUN server (required by the plugin).
        plugin_stun_server: Option<String> = None, string;
        /// plugin_stun: STUN server port.
        plugin_stun_port: u16 = 3478, port;
        /// plugin_stun: seconds between queries.
        plugin_stun_period: u32 = 300, int(1, U32, "seconds >= 1");
        /// plugin_prefix: prefix put before the dialled user (302 redirect).
        plugin_prefix_akey: Option<String> = None, string;
        /// plugin_regex: rule names, paired with pattern and replace.
        plugin_regex_desc: Vec<String> = Vec::new(), list;
        /// plugin_regex: patterns matched against the To URI of outgoing INVITEs.
        plugin_regex_pattern: Vec<String> = Vec::new(), list;
        /// plugin_regex: replacements.
        plugin_regex_replace: Vec<String> = Vec::new(), list;
        /// plugin_regex_body: rule names, paired with pattern and replace.
        plugin_regex_body_desc: Vec<String> = Vec::new(), list;
        /// plugin_regex_body: patterns applied to the body.
        plugin_regex_body_pattern: Vec<String> = Vec::new(), list;
        /// plugin_regex_body: replacements.
        plugin_regex_body_replace: Vec<String> = Vec::new(), list;
        /// plugin_codecfilter: codec names removed from SDP.
        plugin_codecfilter_blacklist: Vec<String> = Vec::new(), list;
        /// plugin_stripheader: `Header` or `Header:value` entries removed.
        plugin_stripheader_remove: Vec<String> = Vec::new(), list;
        /// plugin_siptrunk: trunk names, paired with account and numbers_regex.
        plugin_siptrunk_name: Vec<String> = Vec::new(), list;
        /// plugin_siptrunk: account (SIP URI as registered) of each trunk.
        plugin_siptrunk_account: Vec<String> = Vec::new(), list;
        /// plugin_siptrunk: regex of the numbers each trunk serves.
        plugin_siptrunk_numbers_regex: Vec<String> = Vec::new(), list;
        /// plugin_fix_fbox_anoncall: networks of the Fritzboxes whose Contact user is fixed.
        plugin_fix_fbox_anoncall_networks: Option<AclList> = None, acl;
        /// plugin_stats: -1 = on SIGUSR1, 0 = off, else a period in seconds.
        plugin_stats_to_syslog: i64 = 0,
            int(-1, U32, "-1 (on SIGUSR1), 0 (off) or a period in seconds");
        /// plugin_stats: as `plugin_stats_to_syslog`, to `plugin_stats_filename`.
        plugin_stats_to_file: i64 = 0,
            int(-1, U32, "-1 (on SIGUSR1), 0 (off) or a period in seconds");
        /// plugin_stats: the statistics file.
        plugin_stats_filename: Option<String> = None, string;
        /// plugin_blacklist: database path.
        plugin_blacklist_dbpath: Option<String> = None, string;
        /// plugin_blacklist: database sync mode.
        plugin_blacklist_db_sync_mode: Option<String> = None, string;
        /// plugin_blacklist: 1 = only log what would be blocked.
        plugin_blacklist_simulate: i64 = 0, int(0, 1, "0 or 1");
        /// plugin_blacklist: seconds a source stays blocked; 0 = forever.
        plugin_blacklist_duration: i64 = 3600, int(0, U32, "seconds >= 0 (0 = forever)");
        /// plugin_blacklist: failures before a source is blocked.
        plugin_blacklist_hitcount: i64 = 10, int(0, U32, "a count >= 0");
        /// plugin_blacklist: seconds in which failed registrations are counted.
        plugin_blacklist_register_window: i64 = 30, int(0, U32, SECONDS);
    }
}
