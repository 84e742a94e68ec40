//! `siproxd-rs` command line and start-up order (behaviour §1.1, §1.2; decisions §1, §7).
//!
//! Exit codes (behaviour §1.6): 0 on SIGTERM/SIGINT, `-h`, `-V`, and `-t` on a clean config;
//! 1 on a usage error, a config that cannot be read or is invalid, a socket that cannot be
//! bound, or a failed privilege drop. Every failure prints one `siproxd-rs: <reason>` line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use siproxd_rs::config::{self, LoadError, Source};
use siproxd_rs::net::EventLoop;
use siproxd_rs::{logging, process};

const NAME: &str = "siproxd-rs";

/// What the command line asks for.
#[derive(Debug, Default, PartialEq, Eq)]
struct Cli {
    config: Option<PathBuf>,
    uci: Option<PathBuf>,
    /// `-d`; 0 = not given (the file's `debug_level` applies).
    debug: u32,
    pid_file: Option<PathBuf>,
    help: bool,
    version: bool,
    test_config: bool,
    foreground: bool,
    sets: Vec<String>,
}

fn options() -> getopts::Options {
    let mut o = getopts::Options::new();
    o.optopt(
        "c",
        "config",
        "use this configuration file (no search path)",
        "FILE",
    );
    o.optopt(
        "u",
        "uci",
        "read an OpenWrt UCI configuration file instead",
        "FILE",
    );
    o.optopt(
        "d",
        "debug",
        "debug class mask: decimal, 0x hex, -1 = all",
        "MASK",
    );
    o.optopt(
        "p",
        "pid-file",
        "write the PID to this file (wins over pid_file)",
        "FILE",
    );
    o.optmulti(
        "s",
        "set",
        "override one directive after the file is read",
        "DIRECTIVE=VALUE",
    );
    o.optflag(
        "f",
        "foreground",
        "stay in the foreground (overrides daemonize)",
    );
    o.optflag(
        "t",
        "test-config",
        "check the configuration, print every problem, exit",
    );
    o.optflag("V", "version", "print the version and exit");
    o.optflag("h", "help", "print this help and exit");
    o
}

fn brief() -> String {
    format!(
        "{NAME} {} - SIP masquerading proxy for NAT routers\n\nUsage: {NAME} [OPTIONS]",
        env!("CARGO_PKG_VERSION")
    )
}

/// The option table exactly as `getopts::Options::usage` lays it out (a test checks that).
/// Written out because `usage()` links getopts' text wrapping and the `unicode-width`
/// tables: about 17 kB of the router binary for one help screen.
const OPTIONS_HELP: &str = "\
Options:
    -c, --config FILE   use this configuration file (no search path)
    -u, --uci FILE      read an OpenWrt UCI configuration file instead
    -d, --debug MASK    debug class mask: decimal, 0x hex, -1 = all
    -p, --pid-file FILE write the PID to this file (wins over pid_file)
    -s, --set DIRECTIVE=VALUE
                        override one directive after the file is read
    -f, --foreground    stay in the foreground (overrides daemonize)
    -t, --test-config   check the configuration, print every problem, exit
    -V, --version       print the version and exit
    -h, --help          print this help and exit
";

fn usage() -> String {
    let mut text = format!("{}\n\n{OPTIONS_HELP}", brief());
    text.push_str(&format!(
        "\n{NAME} --status [FILE] [--json]\n    Print the running daemon's status snapshot (default {}) as tables, or as JSON.\n",
        siproxd_rs::status::DEFAULT_STATUS_FILE
    ));
    text.push_str(
        "\nExit status: 0 after SIGTERM/SIGINT, -h, -V, or -t on a valid configuration;\n\
         1 on a usage error, an unreadable or invalid configuration, a socket that cannot be\n\
         bound, or a failed chroot/privilege drop (with a one-line reason on stderr).\n",
    );
    text
}

/// Parses a `-d` value: decimal, `0x` hex, or `-1` for every class.
fn parse_mask(s: &str) -> Result<u32, String> {
    let s = s.trim();
    let parsed = if s == "-1" {
        Ok(u32::MAX)
    } else if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u32::from_str_radix(hex, 16)
    } else {
        s.parse::<u32>()
    };
    parsed.map_err(|_| format!("-d {s}: expected a decimal or 0x-hex mask, or -1"))
}

fn parse_args(args: &[String]) -> Result<Cli, String> {
    let m = options().parse(args).map_err(|e| e.to_string())?;
    if let Some(extra) = m.free.first() {
        return Err(format!("unexpected argument '{extra}'"));
    }
    let debug = m
        .opt_str("d")
        .map(|d| parse_mask(&d))
        .transpose()?
        .unwrap_or(0);
    let cli = Cli {
        config: m.opt_str("c").map(PathBuf::from),
        uci: m.opt_str("u").map(PathBuf::from),
        debug,
        pid_file: m.opt_str("p").map(PathBuf::from),
        help: m.opt_present("h"),
        version: m.opt_present("V"),
        test_config: m.opt_present("t"),
        foreground: m.opt_present("f"),
        sets: m.opt_strs("s"),
    };
    if cli.config.is_some() && cli.uci.is_some() {
        return Err("-c and -u exclude each other".to_owned());
    }
    Ok(cli)
}

fn fail(reason: impl std::fmt::Display) -> ExitCode {
    eprintln!("{NAME}: {reason}");
    ExitCode::FAILURE
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--status") {
        // `--status [FILE] [--json]`: read the running daemon's status snapshot.
        let code = siproxd_rs::status::cli(&args, &mut std::io::stdout(), &mut std::io::stderr());
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    let cli = match parse_args(&args) {
        Ok(cli) => cli,
        Err(e) => {
            eprintln!("{NAME}: {e}\n\n{}", usage());
            return ExitCode::FAILURE;
        }
    };
    if cli.help {
        eprint!("{}", usage());
        return ExitCode::SUCCESS;
    }
    if cli.version {
        println!("{NAME} {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let source = match cli.uci.as_deref() {
        Some(uci) => Source::Uci(uci),
        None => Source::File(cli.config.as_deref()),
    };
    if cli.test_config {
        return test_config(source, &cli.sets);
    }
    run(&cli, source)
}

/// `-t`: every problem on stderr, exit 1 if there is any; opens nothing else.
fn test_config(source: Source<'_>, sets: &[String]) -> ExitCode {
    match config::load(source, sets, true) {
        // The plugins' own checks (patterns compile, ...) are part of loading.
        Ok(loaded) if loaded.diagnostics.is_empty() => {
            println!("{NAME}: configuration {} is valid", loaded.path.display());
            ExitCode::SUCCESS
        }
        Ok(loaded) => {
            for d in &loaded.diagnostics {
                eprintln!("{d}");
            }
            fail(format!(
                "{} problem(s) in the configuration",
                loaded.diagnostics.len()
            ))
        }
        Err(LoadError::Invalid(diags)) => {
            for d in &diags {
                eprintln!("{d}");
            }
            fail(format!("{} problem(s) in the configuration", diags.len()))
        }
        Err(e) => fail(e),
    }
}

fn run(cli: &Cli, source: Source<'_>) -> ExitCode {
    let loaded = match config::load(source, &cli.sets, false) {
        Ok(l) => l,
        Err(LoadError::Invalid(diags)) => {
            for d in &diags {
                eprintln!("{d}");
            }
            return fail("invalid configuration");
        }
        Err(e) => return fail(e),
    };
    let cfg = &loaded.config;
    let mask = if cli.debug != 0 {
        cli.debug
    } else {
        cfg.debug_level
    };
    if let Err(e) = logging::init(mask, cfg.silence_log) {
        return fail(format!("cannot install the logger: {e}"));
    }
    for d in &loaded.diagnostics {
        log::warn!("{d}");
    }
    log::debug!(target: logging::CONFIG, "configuration read from {}", loaded.path.display());
    if let Err(e) = siproxd_rs::net::relay::ensure_fd_limit(cfg) {
        return fail(e);
    }

    // Sockets first, so a port in use is reported (exit 1) before detaching.
    let cores = match siproxd_rs::net::setup::build(cfg) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let mut event_loop = match EventLoop::new(cores) {
        Ok(el) => el,
        Err(e) => return fail(e),
    };

    if cfg.daemonize && !cli.foreground {
        if let Err(e) = process::daemonize() {
            return fail(format!("cannot daemonize: {e}"));
        }
        if let Err(e) = logging::use_syslog() {
            // stderr is /dev/null now; nothing else can tell.
            log::error!("cannot open {}: {e}", logging::SYSLOG_PATH);
        }
        log::info!("daemonized, pid={}", std::process::id());
    }

    let pid_path = cli
        .pid_file
        .as_deref()
        .or(cfg.pid_file.as_deref().map(Path::new));
    let pid_file = pid_path.and_then(|p| match process::PidFile::create(p) {
        Ok(f) => Some(f),
        Err(e) => {
            log::warn!("cannot write PID file {}: {e}", p.display());
            None
        }
    });

    match process::secure(cfg.user.as_deref(), cfg.chrootjail.as_deref()) {
        Ok(process::Secured::NotRoot) if cfg.user.is_some() || cfg.chrootjail.is_some() => {
            log::warn!("not running as root: user and chrootjail are ignored");
        }
        Ok(_) => {}
        Err(e) => {
            log::error!("{e}");
            remove_pid_file(pid_file);
            return fail(e);
        }
    }

    let source = siproxd_rs::net::upkeep::ConfigSource {
        uci: cli.uci.clone(),
        config: if cli.uci.is_some() {
            None
        } else {
            Some(loaded.path.clone())
        },
        sets: cli.sets.clone(),
    };
    let now = event_loop.now_ms();
    let upkeep =
        siproxd_rs::net::upkeep::Upkeep::new(cfg, source, loaded.path.display().to_string(), now);
    event_loop.set_upkeep(upkeep);

    log::info!("{NAME} {} started", env!("CARGO_PKG_VERSION"));
    let code = match event_loop.run() {
        Ok(_) => {
            log::info!("properly terminating {NAME}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            log::error!("event loop failed: {e}");
            ExitCode::FAILURE
        }
    };
    remove_pid_file(pid_file);
    code
}

fn remove_pid_file(pid_file: Option<process::PidFile>) {
    if let Some(f) = pid_file {
        let path = f.path().to_owned();
        if let Err(e) = f.remove() {
            log::warn!("cannot remove PID file {}: {e}", path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn debug_mask_forms() {
        assert_eq!(parse_mask("516"), Ok(0x204));
        assert_eq!(parse_mask("0x204"), Ok(0x204));
        assert_eq!(parse_mask("0X2"), Ok(2));
        assert_eq!(parse_mask("-1"), Ok(u32::MAX));
        assert!(parse_mask("-2").is_err());
        assert!(parse_mask("0xzz").is_err());
        assert!(parse_mask("").is_err());
    }

    #[test]
    fn all_options_long_and_short() {
        let cli = parse_args(&args(&[
            "-c", "a.conf", "-d", "-1", "-p", "x.pid", "-f", "-t", "-s", "a=1", "--set", "b=2",
        ]))
        .unwrap();
        assert_eq!(cli.config, Some(PathBuf::from("a.conf")));
        assert_eq!(cli.debug, u32::MAX);
        assert_eq!(cli.pid_file, Some(PathBuf::from("x.pid")));
        assert!(cli.foreground && cli.test_config && !cli.help && !cli.version);
        assert_eq!(cli.sets, ["a=1", "b=2"]);
        let cli = parse_args(&args(&["--uci", "u", "--debug", "0x4", "--foreground"])).unwrap();
        assert_eq!(cli.uci, Some(PathBuf::from("u")));
        assert_eq!(cli.debug, 4);
        assert!(cli.foreground);
        assert_eq!(parse_args(&args(&[])).unwrap(), Cli::default());
    }

    #[test]
    fn options_help_is_what_getopts_prints() {
        let text = usage();
        let from_getopts = options().usage(&brief());
        assert!(
            text.starts_with(&from_getopts),
            "OPTIONS_HELP is stale; getopts prints:\n{from_getopts}"
        );
        assert!(text.contains("--status [FILE] [--json]"));
    }

    #[test]
    fn usage_errors() {
        assert!(parse_args(&args(&["-x"])).is_err());
        assert!(parse_args(&args(&["-c"])).is_err());
        assert!(parse_args(&args(&["stray"])).unwrap_err().contains("stray"));
        assert!(parse_args(&args(&["-c", "a", "-u", "b"])).is_err());
        assert!(parse_args(&args(&["-d", "lots"]))
            .unwrap_err()
            .contains("-d lots"));
    }
}
