#!/usr/bin/env bash
# Build and run the cargo-fuzz targets with seeds made from tests/data.
#
#   scripts/fuzz.sh [TARGET|all] [SECONDS]     default: all targets, 60 s each, one after another
#   scripts/fuzz.sh seeds [TARGET|all]         only (re)generate the seed corpora
#
# Environment: SANITIZER (default none: the fuzzed code is safe Rust, and without ASan the
# runs do several times more executions), NICE (default 19), FUZZ_ARGS (extra libFuzzer flags).
# Corpora go to fuzz/corpus/TARGET (seeds, then what libFuzzer adds), crashes to
# fuzz/artifacts/TARGET, logs to fuzz/artifacts/logs; all three are git-ignored.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
testdata="$root/tests/data"
fuzz="$root/fuzz"
sanitizer=${SANITIZER:-none}
nice_level=${NICE:-19}

all_targets() {
    (cd "$fuzz" && cargo +nightly fuzz list)
}

# Largest input libFuzzer generates per target: SIP messages and bodies up to the UDP limit of
# limits::SIP_MAX_MESSAGE, the example siproxd.conf is 12.6 kB, DNS replies are read up to 512.
max_len() {
    case "$1" in
        sip_message | sip_editor | sdp | config) echo 16384 ;;
        # Settings byte and steps: several messages of a few hundred bytes to 2 kB each.
        proxy_core) echo 8192 ;;
        uci | sip_uri | digest_credentials) echo 4096 ;;
        dns_reply) echo 1024 ;;
        stun_answer) echo 600 ;;
        *) echo 4096 ;;
    esac
}

sip_files=("$testdata"/rfc4475/*.dat "$testdata"/real/*.sip)

# Writes the seed corpus of one target into fuzz/corpus/TARGET.
seeds() {
    local t=$1 dir="$fuzz/corpus/$1"
    mkdir -p "$dir"
    case "$t" in
        sip_message)
            local f
            for f in "${sip_files[@]}"; do cp "$f" "$dir/"; done
            ;;
        sip_editor)
            # Input = op count N, N op bytes (pairs: edit, argument), then the message. Three
            # variants per message: no edits; the proxy's usual Via/Contact/Request-URI edits;
            # one of each of the 12 edits.
            local f name
            for f in "${sip_files[@]}"; do
                name=$(basename "$f")
                { printf '\x00'; cat "$f"; } >"$dir/$name.none"
                { printf '\x08\x05\x01\x05\x06\x07\x00\x09\x02'; cat "$f"; } >"$dir/$name.proxy"
                { printf '\x18\x00\x01\x01\x02\x02\x03\x03\x01\x04\x00\x05\x05\x06\x00\x07\x01\x08\x02\x09\x00\x0a\x01\x0b\x07'; cat "$f"; } >"$dir/$name.all"
            done
            ;;
        sip_uri)
            # Request-URIs and every <...> URI of the test messages, one file each.
            perl -e '
                my ($dir, @files) = @ARGV; my $n = 0; my %seen;
                for my $f (@files) {
                    open(my $h, "<:raw", $f) or die "$f: $!"; local $/; my $m = <$h>;
                    my ($head) = split /\r\n\r\n/, $m, 2;
                    my @uris;
                    push @uris, $1 if $head =~ /\A[A-Za-z]+ (\S+) SIP\//;
                    push @uris, $1 while $head =~ /<([^<>\r\n]{1,512})>/g;
                    for my $u (@uris) {
                        next if $seen{$u}++;
                        open(my $o, ">:raw", sprintf("%s/uri-%03d", $dir, $n++)) or die; print $o $u;
                    }
                }' "$dir" "${sip_files[@]}"
            ;;
        sdp)
            # The bodies of the test messages that carry SDP.
            perl -e '
                my ($dir, @files) = @ARGV;
                for my $f (@files) {
                    open(my $h, "<:raw", $f) or die "$f: $!"; local $/; my $m = <$h>;
                    my (undef, $body) = split /\r\n\r\n/, $m, 2;
                    next unless defined $body && $body =~ /\Av=/;
                    (my $name = $f) =~ s{.*/}{};
                    open(my $o, ">:raw", "$dir/$name.sdp") or die; print $o $body;
                }' "$dir" "${sip_files[@]}"
            ;;
        digest_credentials)
            perl -e '
                my ($dir, @files) = @ARGV; my $n = 0;
                for my $f (@files) {
                    open(my $h, "<:raw", $f) or die "$f: $!"; local $/; my $m = <$h>;
                    while ($m =~ /^(?:Proxy-)?Authorization[ \t]*:[ \t]*(.*?)\r\n(?![ \t])/gims) {
                        open(my $o, ">:raw", sprintf("%s/cred-%03d", $dir, $n++)) or die; print $o $1;
                    }
                }' "$dir" "${sip_files[@]}"
            printf 'Digest username="alice", realm="siproxd", nonce="00ff", uri="sip:example.com", response="0123456789abcdef0123456789abcdef", algorithm=MD5, qop=auth, nc=00000001, cnonce="x\\"y", opaque=""' \
                >"$dir/cred-handmade"
            ;;
        config)
            cp "$root"/config/*.conf* "$dir/"
            ;;
        uci)
            cp "$root"/src/config/testdata/*.uci "$dir/"
            # key = value files too: the target writes their lines as a UCI section and compares.
            cp "$root"/config/*.conf* "$dir/"
            ;;
        dns_reply)
            # Hand-built replies (RFC 1035 layout, big-endian), covering each Reply variant.
            # A, two records, answer owners compressed to the question name.
            printf '\x12\x34\x81\x80\x00\x01\x00\x02\x00\x00\x00\x00\x03sip\x07example\x03com\x00\x00\x01\x00\x01\xc0\x0c\x00\x01\x00\x01\x00\x00\x0e\x10\x00\x04\xc0\x00\x02\x01\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc0\x00\x02\x02' >"$dir/a"
            # AAAA behind a CNAME whose target is compressed into the question name.
            printf '\xab\xcd\x81\x80\x00\x01\x00\x02\x00\x00\x00\x00\x03www\x07example\x03net\x00\x00\x1c\x00\x01\xc0\x0c\x00\x05\x00\x01\x00\x00\x01\x2c\x00\x07\x04host\xc0\x10\xc0\x2d\x00\x1c\x00\x01\x00\x00\x02\x58\x00\x10\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01' >"$dir/aaaa-cname"
            # SRV, two targets, with an additional A record.
            printf '\x00\x07\x81\x80\x00\x01\x00\x02\x00\x00\x00\x01\x04_sip\x04_udp\x07example\x03org\x00\x00\x21\x00\x01\xc0\x0c\x00\x21\x00\x01\x00\x00\x0e\x10\x00\x0c\x00\x0a\x00\x3c\x13\xc4\x03sip\xc0\x16\xc0\x0c\x00\x21\x00\x01\x00\x00\x0e\x10\x00\x0d\x00\x14\x00\x00\x13\xc4\x04sip2\xc0\x16\xc0\x39\x00\x01\x00\x01\x00\x00\x0e\x10\x00\x04\xc0\x00\x02\x07' >"$dir/srv"
            # NXDOMAIN with an SOA in the authority section (negative TTL).
            printf '\x55\xaa\x81\x83\x00\x01\x00\x00\x00\x01\x00\x00\x06nohost\x07example\x03com\x00\x00\x01\x00\x01\xc0\x13\x00\x06\x00\x01\x00\x00\x03\x84\x00\x26\x02ns\xc0\x13\x0ahostmaster\xc0\x13\x00\x00\x00\x01\x00\x00\x0e\x10\x00\x00\x03\x84\x00\x09\x3a\x80\x00\x00\x01\x2c' >"$dir/nxdomain-soa"
            # Truncated (TC) and SERVFAIL replies to the A question.
            printf '\x12\x34\x83\x80\x00\x01\x00\x00\x00\x00\x00\x00\x03sip\x07example\x03com\x00\x00\x01\x00\x01' >"$dir/truncated"
            printf '\x12\x34\x81\x82\x00\x01\x00\x00\x00\x00\x00\x00\x03sip\x07example\x03com\x00\x00\x01\x00\x01' >"$dir/servfail"
            ;;
        stun_answer)
            # RFC 5389 answer with XOR-MAPPED-ADDRESS (203.0.113.7:5060) and SOFTWARE; RFC 3489
            # answer with MAPPED-ADDRESS; an error response.
            printf '\x01\x01\x00\x18\x21\x12\xa4\x42abcdefghijkl\x00\x20\x00\x08\x00\x01\x32\xd6\xea\x12\xd5\x45\x80\x22\x00\x05stun!\x00\x00\x00' >"$dir/xor"
            printf '\x01\x01\x00\x0c0123456789abcdef\x00\x01\x00\x08\x00\x01\x13\xc4\xc6\x33\x64\x02' >"$dir/mapped"
            printf '\x01\x11\x00\x08\x21\x12\xa4\x42abcdefghijkl\x00\x09\x00\x04\x00\x00\x04\x14' >"$dir/error"
            ;;
        blacklist_file)
            # A manual file and a state file as the documentation shows them.
            printf '# blocked by hand\n203.0.113.9\n198.51.100.0/24  # a scanner network\n2001:db8::/32\n' >"$dir/manual"
            printf 'siproxd-rs blacklist 1\n# address failures blocked until_unix(0=never) dropped\n203.0.113.7 11 1 2000003600 42\n2001:db8::1 3 0 2000086400 0\n198.51.100.1 12 1 0 7\n' >"$dir/state"
            ;;
        regex)
            # pattern 0xFF subject 0xFF replacement: the plugin_regex and regex_body kinds of rule.
            printf '^sip:\\+?49([0-9]+)@(.*)$\xffsip:+4930123@example.com\xffsip:0\\1@\\2' >"$dir/groups"
            printf '^sip:00\xffsip:004930@example.com\xffsip:+' >"$dir/prefix"
            printf '(a+)b|c{2,3}\xffxaab ccc ab\xff<\\1\\9>' >"$dir/alternatives"
            printf '^(.*)s=-\xffv=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\n\xff\\1s=x' >"$dir/body"
            printf '[[:digit:]]*\xff\xc3\xbc123\xff#' >"$dir/utf8"
            ;;
        proxy_core)
            # Input = settings byte, then steps framed as length + bytes (see
            # fuzz/fuzz_targets/common/proxy_sim/steps.rs). Seeds: the hand-written scenarios
            # of fuzz/seeds/proxy_core/*.hex (register, call out, call in, DNS), and every test
            # message as a raw datagram (op 14) from the LAN on a fresh proxy, and from the
            # Internet after the call_in scenario (a registered phone, a call set up).
            perl -e '
                my ($dir, $seeds, @files) = @ARGV;
                sub unhex { my ($f) = @_; open(my $h, "<", $f) or die "$f: $!"; my $x = "";
                    while (<$h>) { s/#.*//; s/\s+//g; $x .= $_ } return pack("H*", $x) }
                sub frame { my ($s) = @_; my $n = length $s;
                    return $n < 255 ? chr($n) . $s : chr(255) . pack("n", $n) . $s }
                sub out { my ($name, $bytes) = @_;
                    open(my $o, ">:raw", "$dir/$name") or die "$dir/$name: $!"; print $o $bytes }
                my %scenario;
                for my $f (glob("$seeds/*.hex")) {
                    (my $name = $f) =~ s{.*/}{}; $name =~ s/\.hex$//;
                    $scenario{$name} = unhex($f); out("scenario-$name", $scenario{$name});
                }
                for my $f (@files) {
                    open(my $h, "<:raw", $f) or die "$f: $!"; local $/; my $m = <$h>;
                    (my $name = $f) =~ s{.*/}{};
                    out("$name.lan", "\x00" . frame("\x0e\x00\x00" . $m));
                    out("$name.wan", $scenario{call_in} . frame("\x0e\x01\x01" . $m));
                }' "$dir" "$fuzz/seeds/proxy_core" "${sip_files[@]}"
            ;;
        *)
            echo "no seeds defined for target $t" >&2
            ;;
    esac
}

run() {
    local t=$1 secs=$2 rc
    local log
    log="$fuzz/artifacts/logs/$t-$(date -u +%Y%m%dT%H%M%SZ).log"
    mkdir -p "$fuzz/artifacts/logs" "$fuzz/artifacts/$t"
    seeds "$t"
    echo "== $t: ${secs}s, log $log"
    # shellcheck disable=SC2086
    (cd "$fuzz" && nice -n "$nice_level" cargo +nightly fuzz run -s "$sanitizer" "$t" "corpus/$t" -- \
        -max_total_time="$secs" -max_len="$(max_len "$t")" -print_final_stats=1 ${FUZZ_ARGS:-}) \
        >"$log" 2>&1 && rc=0 || rc=$?
    grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added|stat::peak_rss_mb|Done [0-9]+ runs)' "$log" || true
    if [ "$rc" -ne 0 ]; then
        echo "!! $t failed (exit $rc); see $log and fuzz/artifacts/$t" >&2
        tail -n 40 "$log" >&2
    fi
    return "$rc"
}

main() {
    local what=${1:-all}
    if [ "$what" = seeds ]; then
        local t
        for t in $(if [ "${2:-all}" = all ]; then all_targets; else echo "$2"; fi); do seeds "$t"; done
        return
    fi
    local secs=${2:-60}
    local targets
    if [ "$what" = all ]; then targets=$(all_targets); else targets=$what; fi
    local only=()
    [ "$what" = all ] || only=("$what")
    (cd "$fuzz" && nice -n "$nice_level" cargo +nightly fuzz build -s "$sanitizer" "${only[@]}")
    local t failed=0
    for t in $targets; do
        run "$t" "$secs" || failed=1
    done
    return "$failed"
}

main "$@"
