//! Status snapshot (decisions §7): what the proxy is doing, as JSON for LuCI and for
//! `siproxd-rs --status`.
//!
//! The shell builds a [`Snapshot`] on SIGUSR1 and every `status_interval` seconds
//! (0 = only on SIGUSR1; [`crate::fsutil::SaveSchedule`] times it), each module filling its
//! part, and writes it with [`Snapshot::write_file`] to `status_file` (default
//! [`DEFAULT_STATUS_FILE`]). [`cli`] implements `--status [FILE] [--json]`.
//!
//! # The file (format 1)
//!
//! Field names are a stable interface (LuCI reads them): add fields, never rename. Readers
//! ignore members they do not know.
//!
//! | member | meaning |
//! |---|---|
//! | `format` | `1` |
//! | `version` | siproxd-rs version |
//! | `pid` | process id |
//! | `started_unix` | start time, Unix seconds |
//! | `uptime_s` | seconds since start when the snapshot was taken |
//! | `config_file` | configuration file in use |
//! | `registrations[]` | `aor`, `contact` (the UA's real contact URI), `source` (`ip:port` the REGISTER came from), `expires_in_s`, `state` (`live`, `provisional`, ...) |
//! | `calls[]` | `call_id`, `started_unix` (when its first stream was opened, Unix seconds; `0` unknown), `direction` (`incoming`: from the Internet to a phone, `outgoing`: from a phone; empty unknown), `party` (`user@host` of the phone's side: the From of an outgoing call, the To of an incoming one; may be empty), `streams[]` |
//! | `streams[]` | one of our relay sockets: `media` (`audio`, `video`, ...; empty unknown), `media_index` (0-based `m=` line), `direction` (where media arriving on `local` travels: `incoming` = Internet → phone, so this socket faces the Internet; `outgoing` = phone → Internet), `payload_type` (first payload type of the `m=` line, `null` unknown), `codec` (its encoding name, e.g. `PCMU`, `null` unknown), `local` (our relay socket `ip:port`), `remote` (the far side of `local`: the address media from `local` is sent to), `latched` (source actually seen on `local`, `null` before the first packet), `pkts_in`/`bytes_in` (received on `local`), `pkts_out`/`bytes_out` (sent from `local` to the far side), `idle_s` (since the stream's last packet, either way), `idle_in_s` (since the last RTP packet received on `local`, `null` none yet: a direction that went quiet), `drops` (packets dropped on this socket), `established` (a 2xx agreed on this stream: the call was answered; `false` while ringing) |
//! | `public` | the address written on the WAN side: `address`, `source` (`stun`, `host_outbound` or `interface`), `last_answer_unix` (the STUN server's last answer, `0` none); absent when there is none |
//! | `tcp[]` | SIP TCP connections (written only when there are some): `peer` and `local` (`ip:port`), `role` (`accepted`: the peer connected, `opened`: the proxy did), `connecting` (`true` while our connect is in progress), `idle_s` (since its last traffic), `queued` (bytes waiting to be written) |
//! | `blacklist[]` | plugin_blacklist: `address` (an address, or `ADDR/PREFIX` for a manual network), `kind` (`auto`: failed registrations, `manual`: the manual file), `failures`, `blocked`, `expires_in_s` (until it is unblocked or forgotten; `null` never), `dropped` (datagrams dropped from it). Written only when there are entries |
//! | `counters` | name → count. Names are dotted by kind: `datagrams_received.<sip\|rtp>`, `dropped.<reason>`, `table_full.<table>` |
//!
//! Members added after the first release (`started_unix`, `direction`, `party` of a call;
//! `media_index`, `direction`, `payload_type`, `codec`, `idle_in_s`, `established` of a
//! stream; `tcp`) may be missing in files of older versions: the reader takes them as unknown.
//!
//! Addresses are text (`192.0.2.1:5060`, `[2001:db8::1]:5060`). Bytes from the network that
//! are not UTF-8 are stored with U+FFFD in their place ([`text_from_bytes`]).

pub mod json;
mod table;

use core::fmt::{self, Write as _};
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;

use crate::fsutil;
use crate::limits::STATUS_FILE_MAX;
use json::{write_str, Value};

pub use table::{human_bytes, human_duration, render_tables, utc_datetime};

/// Where the status file goes when `status_file` is not set, and what `--status` reads.
pub const DEFAULT_STATUS_FILE: &str = "/var/run/siproxd-rs/status.json";
/// The `format` member written; a reader rejects a greater one.
pub const FORMAT: u64 = 1;

/// One status snapshot. Plain owned data: it is built rarely (SIGUSR1, `status_interval`),
/// never per packet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub version: String,
    pub pid: u32,
    pub started_unix: u64,
    pub uptime_s: u64,
    pub config_file: String,
    pub registrations: Vec<Registration>,
    pub calls: Vec<Call>,
    pub tcp: Vec<TcpConn>,
    pub blacklist: Vec<Blocked>,
    /// Drops by reason, table-full events, datagrams received; see the module docs for the
    /// naming convention.
    pub counters: BTreeMap<String, u64>,
    pub public: Option<Public>,
}

/// The public (WAN-side) address and where it was learned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Public {
    pub address: String,
    /// `stun`, `host_outbound` or `interface`.
    pub source: String,
    /// The STUN server's last answer, Unix seconds; 0 none.
    pub last_answer_unix: u64,
}

/// One contact binding of an address-of-record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registration {
    pub aor: String,
    pub contact: String,
    pub source: String,
    pub expires_in_s: u64,
    pub state: String,
}

/// One plugin_blacklist entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Blocked {
    pub address: String,
    /// `auto` or `manual`.
    pub kind: String,
    pub failures: u64,
    pub blocked: bool,
    /// `None`: never.
    pub expires_in_s: Option<u64>,
    pub dropped: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Call {
    pub call_id: String,
    /// Unix seconds; 0 unknown.
    pub started_unix: u64,
    /// `incoming`, `outgoing` or empty.
    pub direction: String,
    /// `user@host` of the phone's side, possibly empty.
    pub party: String,
    pub streams: Vec<Stream>,
}

/// One relayed media stream as seen from one of our relay sockets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stream {
    pub media: String,
    pub media_index: u64,
    /// `incoming` (this socket faces the Internet), `outgoing` or empty.
    pub direction: String,
    pub payload_type: Option<u8>,
    pub codec: Option<String>,
    pub local: String,
    pub remote: String,
    pub latched: Option<String>,
    pub pkts_in: u64,
    pub bytes_in: u64,
    pub pkts_out: u64,
    pub bytes_out: u64,
    pub idle_s: u64,
    /// Since the last RTP packet received on `local`; `None` none yet.
    pub idle_in_s: Option<u64>,
    pub drops: u64,
    /// Answered (a 2xx agreed on it); `None` unknown.
    pub established: Option<bool>,
}

/// One SIP TCP connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TcpConn {
    pub peer: String,
    pub local: String,
    /// `accepted` (the peer connected) or `opened` (we did).
    pub role: String,
    pub connecting: bool,
    pub idle_s: u64,
    /// Bytes waiting to be written.
    pub queued: u64,
}

/// Text from network bytes: valid UTF-8 kept, each invalid sequence replaced by U+FFFD.
pub fn text_from_bytes(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

impl Snapshot {
    /// A snapshot of this process with empty tables; `now_unix` and `started_unix` are wall
    /// clock seconds.
    pub fn new(config_file: &str, started_unix: u64, now_unix: u64) -> Self {
        Snapshot {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            pid: std::process::id(),
            started_unix,
            uptime_s: now_unix.saturating_sub(started_unix),
            config_file: config_file.to_owned(),
            ..Snapshot::default()
        }
    }

    /// Adds `n` to counter `name` (creating it).
    pub fn count(&mut self, name: &str, n: u64) {
        let c = self.counters.entry(name.to_owned()).or_insert(0);
        *c = c.saturating_add(n);
    }

    /// When the snapshot was taken, Unix seconds.
    pub fn taken_unix(&self) -> u64 {
        self.started_unix.saturating_add(self.uptime_s)
    }

    /// The JSON text: one member per line at the top, one record per line inside arrays, so
    /// the file is readable with `cat` and diffable.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(
            512 + 200 * self.registrations.len()
                + 150 * self.calls.len()
                + 320 * self.calls.iter().map(|c| c.streams.len()).sum::<usize>()
                + 130 * self.tcp.len()
                + 40 * self.counters.len(),
        );
        self.write_json(&mut out);
        out
    }

    /// [`to_json`](Self::to_json) into a caller's buffer (appended).
    pub fn write_json(&self, out: &mut String) {
        // Writing into a String cannot fail.
        let _ = self.write_json_fmt(out);
    }

    fn write_json_fmt(&self, out: &mut String) -> fmt::Result {
        write!(out, "{{\n  \"format\": {FORMAT},\n  \"version\": ")?;
        write_str(out, &self.version);
        write!(
            out,
            ",\n  \"pid\": {},\n  \"started_unix\": {},\n  \"uptime_s\": {},\n  \"config_file\": ",
            self.pid, self.started_unix, self.uptime_s
        )?;
        write_str(out, &self.config_file);

        out.push_str(",\n  \"registrations\": [");
        for (i, r) in self.registrations.iter().enumerate() {
            out.push_str(if i == 0 { "\n    " } else { ",\n    " });
            out.push_str("{\"aor\": ");
            write_str(out, &r.aor);
            out.push_str(", \"contact\": ");
            write_str(out, &r.contact);
            out.push_str(", \"source\": ");
            write_str(out, &r.source);
            write!(out, ", \"expires_in_s\": {}, \"state\": ", r.expires_in_s)?;
            write_str(out, &r.state);
            out.push('}');
        }
        close_list(out, self.registrations.is_empty(), "  ", ']');

        out.push_str(",\n  \"calls\": [");
        for (i, c) in self.calls.iter().enumerate() {
            out.push_str(if i == 0 { "\n    " } else { ",\n    " });
            out.push_str("{\"call_id\": ");
            write_str(out, &c.call_id);
            write!(
                out,
                ", \"started_unix\": {}, \"direction\": ",
                c.started_unix
            )?;
            write_str(out, &c.direction);
            out.push_str(", \"party\": ");
            write_str(out, &c.party);
            out.push_str(", \"streams\": [");
            for (j, s) in c.streams.iter().enumerate() {
                out.push_str(if j == 0 { "\n      " } else { ",\n      " });
                out.push_str("{\"media\": ");
                write_str(out, &s.media);
                write!(out, ", \"media_index\": {}, \"direction\": ", s.media_index)?;
                write_str(out, &s.direction);
                out.push_str(", \"payload_type\": ");
                match s.payload_type {
                    Some(pt) => write!(out, "{pt}")?,
                    None => out.push_str("null"),
                }
                out.push_str(", \"codec\": ");
                match &s.codec {
                    Some(c) => write_str(out, c),
                    None => out.push_str("null"),
                }
                out.push_str(", \"local\": ");
                write_str(out, &s.local);
                out.push_str(", \"remote\": ");
                write_str(out, &s.remote);
                out.push_str(", \"latched\": ");
                match &s.latched {
                    Some(l) => write_str(out, l),
                    None => out.push_str("null"),
                }
                write!(
                    out,
                    ", \"pkts_in\": {}, \"bytes_in\": {}, \"pkts_out\": {}, \"bytes_out\": {}, \
                     \"idle_s\": {}, \"idle_in_s\": ",
                    s.pkts_in, s.bytes_in, s.pkts_out, s.bytes_out, s.idle_s
                )?;
                match s.idle_in_s {
                    Some(n) => write!(out, "{n}")?,
                    None => out.push_str("null"),
                }
                write!(out, ", \"drops\": {}, \"established\": ", s.drops)?;
                match s.established {
                    Some(b) => write!(out, "{b}}}")?,
                    None => out.push_str("null}"),
                }
            }
            close_list(out, c.streams.is_empty(), "    ", ']');
            out.push('}');
        }
        close_list(out, self.calls.is_empty(), "  ", ']');

        if let Some(p) = &self.public {
            out.push_str(",\n  \"public\": {\"address\": ");
            write_str(out, &p.address);
            out.push_str(", \"source\": ");
            write_str(out, &p.source);
            write!(out, ", \"last_answer_unix\": {}}}", p.last_answer_unix)?;
        }

        // Only where SIP over TCP is in use (readers take a missing list as empty).
        if !self.tcp.is_empty() {
            out.push_str(",\n  \"tcp\": [");
        }
        for (i, t) in self.tcp.iter().enumerate() {
            out.push_str(if i == 0 { "\n    " } else { ",\n    " });
            out.push_str("{\"peer\": ");
            write_str(out, &t.peer);
            out.push_str(", \"local\": ");
            write_str(out, &t.local);
            out.push_str(", \"role\": ");
            write_str(out, &t.role);
            write!(
                out,
                ", \"connecting\": {}, \"idle_s\": {}, \"queued\": {}}}",
                t.connecting, t.idle_s, t.queued
            )?;
        }
        if !self.tcp.is_empty() {
            close_list(out, false, "  ", ']');
        }

        // Only with entries: files without plugin_blacklist stay as they were.
        if !self.blacklist.is_empty() {
            out.push_str(",\n  \"blacklist\": [");
        }
        for (i, b) in self.blacklist.iter().enumerate() {
            out.push_str(if i == 0 { "\n    " } else { ",\n    " });
            out.push_str("{\"address\": ");
            write_str(out, &b.address);
            out.push_str(", \"kind\": ");
            write_str(out, &b.kind);
            write!(
                out,
                ", \"failures\": {}, \"blocked\": {}, \"expires_in_s\": ",
                b.failures, b.blocked
            )?;
            match b.expires_in_s {
                Some(n) => write!(out, "{n}")?,
                None => out.push_str("null"),
            }
            write!(out, ", \"dropped\": {}}}", b.dropped)?;
        }
        if !self.blacklist.is_empty() {
            close_list(out, false, "  ", ']');
        }

        out.push_str(",\n  \"counters\": {");
        for (i, (name, value)) in self.counters.iter().enumerate() {
            out.push_str(if i == 0 { "\n    " } else { ",\n    " });
            write_str(out, name);
            write!(out, ": {value}")?;
        }
        close_list(out, self.counters.is_empty(), "  ", '}');
        out.push_str("\n}\n");
        Ok(())
    }

    /// Writes the snapshot to `path` atomically (readers never see half a file).
    pub fn write_file(&self, path: &Path) -> io::Result<()> {
        // No fsync: see `fsutil::replace_unsynced` (readers never see a half-written file).
        fsutil::replace_unsynced(path, self.to_json().as_bytes())
    }

    /// Reads a snapshot back. Strict about JSON syntax and about the members it knows
    /// (type, presence, no duplicates); members it does not know are ignored.
    pub fn from_json(input: &[u8]) -> Result<Snapshot, SnapshotError> {
        let value = json::parse(input).map_err(SnapshotError::Json)?;
        let top = Fields::new(&value, String::new())?;
        let format = top.u64("format")?;
        if format != FORMAT {
            return Err(top.error("format", Problem::UnsupportedFormat(format)));
        }
        let mut snap = Snapshot {
            version: top.string("version")?,
            pid: {
                let pid = top.u64("pid")?;
                u32::try_from(pid).map_err(|_| top.error("pid", Problem::OutOfRange))?
            },
            started_unix: top.u64("started_unix")?,
            uptime_s: top.u64("uptime_s")?,
            config_file: top.string("config_file")?,
            ..Snapshot::default()
        };

        for (i, item) in top.array("registrations")?.iter().enumerate() {
            let f = Fields::new(item, format_path(&["registrations"], &[i]))?;
            snap.registrations.push(Registration {
                aor: f.string("aor")?,
                contact: f.string("contact")?,
                source: f.string("source")?,
                expires_in_s: f.u64("expires_in_s")?,
                state: f.string("state")?,
            });
        }

        for (i, item) in top.array("calls")?.iter().enumerate() {
            let f = Fields::new(item, format_path(&["calls"], &[i]))?;
            let mut call = Call {
                call_id: f.string("call_id")?,
                started_unix: f.u64_or_zero("started_unix")?,
                direction: f.string_or_empty("direction")?,
                party: f.string_or_empty("party")?,
                streams: Vec::new(),
            };
            for (j, item) in f.array("streams")?.iter().enumerate() {
                let s = Fields::new(item, format_path(&["calls", "streams"], &[i, j]))?;
                call.streams.push(Stream {
                    media: s.string("media")?,
                    media_index: s.u64_or_zero("media_index")?,
                    direction: s.string_or_empty("direction")?,
                    payload_type: match s.get("payload_type")? {
                        None | Some(Value::Null) => None,
                        Some(v) => Some(
                            v.as_u64()
                                .and_then(|n| u8::try_from(n).ok())
                                .filter(|n| *n <= 127)
                                .ok_or_else(|| {
                                    s.error("payload_type", Problem::Expected("0..127 or null"))
                                })?,
                        ),
                    },
                    codec: match s.get("codec")? {
                        None => None,
                        Some(_) => s.optional_string("codec")?,
                    },
                    local: s.string("local")?,
                    remote: s.string("remote")?,
                    latched: s.optional_string("latched")?,
                    pkts_in: s.u64("pkts_in")?,
                    bytes_in: s.u64("bytes_in")?,
                    pkts_out: s.u64("pkts_out")?,
                    bytes_out: s.u64("bytes_out")?,
                    idle_s: s.u64("idle_s")?,
                    idle_in_s: match s.get("idle_in_s")? {
                        None | Some(Value::Null) => None,
                        Some(_) => Some(s.u64("idle_in_s")?),
                    },
                    drops: s.u64("drops")?,
                    established: match s.get("established")? {
                        None | Some(Value::Null) => None,
                        Some(Value::Bool(b)) => Some(*b),
                        Some(_) => {
                            return Err(
                                s.error("established", Problem::Expected("true, false or null"))
                            )
                        }
                    },
                });
            }
            snap.calls.push(call);
        }

        if let Some(v) = top.get("public")? {
            let f = Fields::new(v, "public".into())?;
            snap.public = Some(Public {
                address: f.string("address")?,
                source: f.string_or_empty("source")?,
                last_answer_unix: f.u64_or_zero("last_answer_unix")?,
            });
        }

        if top.get("tcp")?.is_some() {
            for (i, item) in top.array("tcp")?.iter().enumerate() {
                let f = Fields::new(item, format_path(&["tcp"], &[i]))?;
                snap.tcp.push(TcpConn {
                    peer: f.string("peer")?,
                    local: f.string("local")?,
                    role: f.string("role")?,
                    connecting: match f.required("connecting")? {
                        Value::Bool(b) => *b,
                        _ => return Err(f.error("connecting", Problem::Expected("true or false"))),
                    },
                    idle_s: f.u64("idle_s")?,
                    queued: f.u64("queued")?,
                });
            }
        }

        if top.get("blacklist")?.is_some() {
            for (i, item) in top.array("blacklist")?.iter().enumerate() {
                let f = Fields::new(item, format_path(&["blacklist"], &[i]))?;
                snap.blacklist.push(Blocked {
                    address: f.string("address")?,
                    kind: f.string("kind")?,
                    failures: f.u64("failures")?,
                    blocked: match f.required("blocked")? {
                        Value::Bool(b) => *b,
                        _ => return Err(f.error("blocked", Problem::Expected("true or false"))),
                    },
                    expires_in_s: match f.required("expires_in_s")? {
                        Value::Null => None,
                        _ => Some(f.u64("expires_in_s")?),
                    },
                    dropped: f.u64("dropped")?,
                });
            }
        }

        let Some(counters) = top.required("counters")?.as_object() else {
            return Err(top.error("counters", Problem::Expected("an object")));
        };
        for (name, value) in counters {
            let Some(n) = value.as_u64() else {
                return Err(top.error(&format!("counters.{name}"), Problem::Expected("a count")));
            };
            if snap.counters.insert(name.clone(), n).is_some() {
                return Err(top.error(&format!("counters.{name}"), Problem::Duplicate));
            }
        }
        Ok(snap)
    }
}

/// Ends a JSON list opened on the previous line: empty lists stay on one line.
fn close_list(out: &mut String, empty: bool, indent: &str, close: char) {
    if !empty {
        out.push('\n');
        out.push_str(indent);
    }
    out.push(close);
}

/// `calls[3].streams[1]` for the error messages.
fn format_path(names: &[&str], indices: &[usize]) -> String {
    let mut p = String::new();
    for (k, (name, i)) in names.iter().zip(indices).enumerate() {
        if k > 0 {
            p.push('.');
        }
        let _ = write!(p, "{name}[{i}]");
    }
    p
}

/// Member access on one object of the snapshot, with the object's path for errors.
struct Fields<'a> {
    members: &'a [(String, Value)],
    path: String,
}

impl<'a> Fields<'a> {
    fn new(value: &'a Value, path: String) -> Result<Self, SnapshotError> {
        match value.as_object() {
            Some(members) => Ok(Fields { members, path }),
            None => Err(SnapshotError::Schema {
                path: if path.is_empty() {
                    "(top level)".to_owned()
                } else {
                    path
                },
                problem: Problem::Expected("an object"),
            }),
        }
    }

    fn error(&self, member: &str, problem: Problem) -> SnapshotError {
        let path = if self.path.is_empty() {
            member.to_owned()
        } else {
            format!("{}.{member}", self.path)
        };
        SnapshotError::Schema { path, problem }
    }

    fn get(&self, member: &str) -> Result<Option<&'a Value>, SnapshotError> {
        let mut found = None;
        for (k, v) in self.members {
            if k == member {
                if found.is_some() {
                    return Err(self.error(member, Problem::Duplicate));
                }
                found = Some(v);
            }
        }
        Ok(found)
    }

    fn required(&self, member: &str) -> Result<&'a Value, SnapshotError> {
        self.get(member)?
            .ok_or_else(|| self.error(member, Problem::Missing))
    }

    fn u64(&self, member: &str) -> Result<u64, SnapshotError> {
        self.required(member)?
            .as_u64()
            .ok_or_else(|| self.error(member, Problem::Expected("a non-negative integer")))
    }

    fn string(&self, member: &str) -> Result<String, SnapshotError> {
        self.required(member)?
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| self.error(member, Problem::Expected("a string")))
    }

    /// A member added after format 1 was first written: missing means unknown (0).
    fn u64_or_zero(&self, member: &str) -> Result<u64, SnapshotError> {
        match self.get(member)? {
            None => Ok(0),
            Some(_) => self.u64(member),
        }
    }

    /// A member added after format 1 was first written: missing means unknown (empty).
    fn string_or_empty(&self, member: &str) -> Result<String, SnapshotError> {
        match self.get(member)? {
            None => Ok(String::new()),
            Some(_) => self.string(member),
        }
    }

    fn optional_string(&self, member: &str) -> Result<Option<String>, SnapshotError> {
        match self.required(member)? {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s.clone())),
            _ => Err(self.error(member, Problem::Expected("a string or null"))),
        }
    }

    fn array(&self, member: &str) -> Result<&'a [Value], SnapshotError> {
        self.required(member)?
            .as_array()
            .ok_or_else(|| self.error(member, Problem::Expected("an array")))
    }
}

/// What is wrong with a member of a status file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    Missing,
    Duplicate,
    Expected(&'static str),
    OutOfRange,
    UnsupportedFormat(u64),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Missing => write!(f, "missing"),
            Problem::Duplicate => write!(f, "appears twice"),
            Problem::Expected(what) => write!(f, "expected {what}"),
            Problem::OutOfRange => write!(f, "out of range"),
            Problem::UnsupportedFormat(n) => write!(
                f,
                "format {n} is not supported (this siproxd-rs reads format {FORMAT})"
            ),
        }
    }
}

/// Why a status file could not be read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotError {
    /// Not JSON.
    Json(json::Error),
    /// JSON, but not a status snapshot: `path` names the member (`calls[0].streams[1].pkts_in`).
    Schema { path: String, problem: Problem },
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotError::Json(e) => write!(f, "invalid JSON at {e}"),
            SnapshotError::Schema { path, problem } => write!(f, "{path}: {problem}"),
        }
    }
}

impl std::error::Error for SnapshotError {}

const USAGE: &str = "usage: siproxd-rs --status [FILE] [--json]\n\
    Print the status snapshot a running siproxd-rs writes to its status_file\n\
    (default /var/run/siproxd-rs/status.json) as tables, or with --json as JSON.\n";

/// `siproxd-rs --status [FILE] [--json]`. `args` are the command-line arguments after the
/// program name (`--status` itself may be among them). Returns the exit code: 0 printed,
/// 1 the file cannot be read or is not a status file, 2 bad arguments.
pub fn cli(args: &[String], out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let mut as_json = false;
    let mut file: Option<&str> = None;
    for arg in args {
        match arg.as_str() {
            "--status" => {}
            "--json" => as_json = true,
            "-h" | "--help" => {
                return match out.write_all(USAGE.as_bytes()) {
                    Ok(()) => 0,
                    Err(_) => 1,
                }
            }
            a if a.starts_with('-') && a != "-" => {
                let _ = write!(err, "siproxd-rs: unknown option {a} for --status\n{USAGE}");
                return 2;
            }
            a => {
                if let Some(first) = file {
                    let _ = write!(
                        err,
                        "siproxd-rs: --status takes one FILE, got {first} and {a}\n{USAGE}"
                    );
                    return 2;
                }
                file = Some(a);
            }
        }
    }
    let file = file.unwrap_or(DEFAULT_STATUS_FILE);

    let data = match fsutil::read_limited(Path::new(file), STATUS_FILE_MAX) {
        Ok(d) => d,
        Err(e) => {
            let _ = writeln!(
                err,
                "siproxd-rs: cannot read {file}: {e} (is siproxd-rs running with status_file set?)"
            );
            return 1;
        }
    };
    let snap = match Snapshot::from_json(&data) {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(err, "siproxd-rs: {file} is not a valid status file: {e}");
            return 1;
        }
    };
    let written = if as_json {
        out.write_all(&data)
    } else {
        out.write_all(render_tables(&snap, unix_now()).as_bytes())
    };
    match written.and_then(|()| out.flush()) {
        Ok(()) => 0,
        Err(e) => {
            let _ = writeln!(err, "siproxd-rs: cannot write the status: {e}");
            1
        }
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests;
