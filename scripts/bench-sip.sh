#!/usr/bin/env bash
# Whole-binary SIP load benchmark (issue 4): CPU time of siproxd-rs per call under sipp.
#
# The release binary runs on loopback (inbound 127.0.0.1, outbound 127.0.0.2,
# rtp_proxy_enable = 0); a provider sipp (UAS) on 127.0.0.3 answers; a phone sipp (UAC) on
# 127.0.0.1 registers once through the proxy, then makes CALLS calls at RATE calls/s
# (INVITE/180/200/ACK/BYE/200). The proxy's utime+stime is read from /proc/PID/stat before and
# after the load. The same proxy then carries the same load over TCP (both sipps with -t t1,
# after registering over TCP), so the CPU per call of TCP and UDP compare in one run.
# Baseline in the same run: the same sipp pair talking directly, no proxy, so the cost of sipp
# itself is visible next to the proxy's.
#
# Usage: scripts/bench-sip.sh            (CALLS=2000 RATE=200 by default, env overrides;
#        PROFILE=release-o3 measures the speed-optimised build instead of the size-optimised one)
# Exits non-zero when a call failed (through the proxy or direct) or a tool is missing.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
CALLS=${CALLS:-2000}
RATE=${RATE:-200}
PROFILE=${PROFILE:-release}
IDLE_S=2
LAN=127.0.0.1
WAN=127.0.0.2
PROVIDER=127.0.0.3
SIPP_DIR=$ROOT/tests/sipp
# Global sipp timeout: the load itself takes CALLS/RATE seconds.
LOAD_TIMEOUT=$((CALLS / RATE + 30))

for tool in sipp ss getconf; do
    if ! command -v "$tool" >/dev/null; then
        echo "bench-sip: $tool is missing (scripts/test.sh installs sip-tester and iproute2)" >&2
        exit 2
    fi
done

echo "==> building the binary (profile $PROFILE)"
cargo build --profile "$PROFILE" --quiet --bin siproxd-rs
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/$PROFILE/siproxd-rs

WORK=$(mktemp -d "${TMPDIR:-/tmp}/siproxd-rs-bench-sip.XXXXXX")
PROXY_PID=
cleanup() {
    if [ -n "$PROXY_PID" ]; then
        kill "$PROXY_PID" 2>/dev/null || true
        wait "$PROXY_PID" 2>/dev/null || true
    fi
}
trap cleanup EXIT
echo "==> work directory (logs, sipp traces; kept only when a call fails): $WORK"

# A UDP port no socket uses on any address.
free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 40000))
        if ! ss -Huan | awk '{print $4}' | grep -q ":$p\$"; then
            echo "$p"
            return
        fi
    done
}

# Fields of /proc/PID/stat after "pid (comm) ": field N of proc(5) is field N-2 here.
stat_fields() {
    sed 's/^.*) //' "/proc/$1/stat"
}

# utime+stime of a running process, in clock ticks.
cpu_ticks() {
    stat_fields "$1" | awk '{print $12 + $13}'
}

# run_sipp NAME ARGS...: runs sipp in a subshell that then records sipp's exit code and CPU
# ticks (the subshell's cutime+cstime, i.e. its reaped child) in $WORK/NAME.cpu.
run_sipp() {
    local name=$1
    shift
    (
        rc=0
        me=$BASHPID
        sipp "$@" -nostdin -trace_err -error_file "$WORK/$name.errors" \
            -trace_stat -stf "$WORK/$name.csv" -fd 1 \
            >"$WORK/$name.out" 2>&1 || rc=$?
        echo "$rc $(stat_fields "$me" | awk '{print $14 + $15}')" >"$WORK/$name.cpu"
    )
}

# Value of column COLUMN in the last line of a sipp statistics file.
stat_value() {
    awk -F';' -v col="$2" '
        NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i }
        END { print (c ? $c : "?") }' "$1" 2>/dev/null || echo "?"
}

# load NAME TARGET_HOST TARGET_PORT PHONE_PORT PROVIDER_PORT [SIPP ARGS]: the call load, UAS
# first; SIPP ARGS (e.g. -t t1) go to both sipps.
load() {
    local name=$1 host=$2 port=$3 phone_port=$4 provider_port=$5
    shift 5
    local keys=(-key provider "$PROVIDER:$provider_port" -key provider_host "$PROVIDER" -key user alice "$@")
    run_sipp "${name}_provider" -sf "$SIPP_DIR/bench_provider_call.xml" -i "$PROVIDER" \
        -p "$provider_port" -m "$CALLS" -timeout "${LOAD_TIMEOUT}s" -timeout_error "${keys[@]}" &
    local uas=$!
    sleep 0.3
    local t0 t1
    t0=$(date +%s.%N)
    run_sipp "${name}_phone" "$host:$port" -sf "$SIPP_DIR/bench_phone_call.xml" -i "$LAN" \
        -p "$phone_port" -r "$RATE" -m "$CALLS" -timeout "${LOAD_TIMEOUT}s" -timeout_error \
        "${keys[@]}"
    t1=$(date +%s.%N)
    wait "$uas" || true
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", b - a }' >"$WORK/$name.wall"
}

HZ=$(getconf CLK_TCK)

# --- through the proxy ---------------------------------------------------------------------
SIP_PORT=$(free_port)
PHONE_PORT=$(free_port)
PROVIDER_PORT=$(free_port)
cat >"$WORK/siproxd-rs.conf" <<EOF
if_inbound = $LAN
if_outbound = $WAN
sip_listen_port = $SIP_PORT
daemonize = 0
rtp_proxy_enable = 0
EOF
"$BIN" -f -c "$WORK/siproxd-rs.conf" </dev/null >/dev/null 2>"$WORK/proxy.log" &
PROXY_PID=$!
for _ in $(seq 50); do
    if ss -Huan | awk '{print $4}' | grep -q "^$WAN:$SIP_PORT\$"; then
        break
    fi
    sleep 0.1
done
if ! kill -0 "$PROXY_PID" 2>/dev/null; then
    echo "bench-sip: siproxd-rs did not start; log:" >&2
    cat "$WORK/proxy.log" >&2
    exit 1
fi

# register NAME [SIPP ARGS]: the phone registers through the proxy (outgoing calls are those
# of a registered phone).
register() {
    local name=$1
    shift
    local reg_keys=(-key provider "$PROVIDER:$PROVIDER_PORT" -key provider_host "$PROVIDER" -key user alice "$@")
    run_sipp "${name}_provider" -sf "$SIPP_DIR/provider_register.xml" -i "$PROVIDER" \
        -p "$PROVIDER_PORT" -m 1 -timeout 15s -timeout_error "${reg_keys[@]}" &
    local reg_uas=$!
    sleep 0.3
    run_sipp "${name}_phone" "$LAN:$SIP_PORT" -sf "$SIPP_DIR/phone_register.xml" -i "$LAN" \
        -p "$PHONE_PORT" -m 1 -timeout 15s -timeout_error "${reg_keys[@]}"
    wait "$reg_uas" || true
    if [ "$(cut -d' ' -f1 "$WORK/${name}_phone.cpu")" != 0 ] ||
        [ "$(cut -d' ' -f1 "$WORK/${name}_provider.cpu")" != 0 ]; then
        echo "bench-sip: registration ($name) through the proxy failed; see $WORK" >&2
        exit 1
    fi
}

echo "==> registering the phone through the proxy"
register reg

# What the idle event loop costs, so it is not mistaken for per-call cost.
echo "==> proxy idle for $IDLE_S s"
before=$(cpu_ticks "$PROXY_PID")
sleep "$IDLE_S"
idle_ticks=$(($(cpu_ticks "$PROXY_PID") - before))

echo "==> $CALLS calls at $RATE calls/s through the proxy"
before=$(cpu_ticks "$PROXY_PID")
load proxy "$LAN" "$SIP_PORT" "$PHONE_PORT" "$PROVIDER_PORT"
after=$(cpu_ticks "$PROXY_PID")
proxy_ticks=$((after - before))

# --- the same over TCP, same proxy ------------------------------------------------------------
PHONE_PORT=$(free_port)
PROVIDER_PORT=$(free_port)
echo "==> registering the phone through the proxy over TCP"
register reg_tcp -t t1
echo "==> $CALLS calls at $RATE calls/s through the proxy over TCP"
before=$(cpu_ticks "$PROXY_PID")
load tcp "$LAN" "$SIP_PORT" "$PHONE_PORT" "$PROVIDER_PORT" -t t1
after=$(cpu_ticks "$PROXY_PID")
tcp_ticks=$((after - before))
cleanup
PROXY_PID=

# --- baseline: the same sipp pair, no proxy --------------------------------------------------
echo "==> baseline: $CALLS calls at $RATE calls/s, phone straight to the provider"
PHONE_PORT=$(free_port)
PROVIDER_PORT=$(free_port)
load direct "$PROVIDER" "$PROVIDER_PORT" "$PHONE_PORT" "$PROVIDER_PORT"

# --- report ----------------------------------------------------------------------------------
status=0
report() {
    local name=$1 label=$2 proxy_ms=$3
    local rc_phone rc_uas sipp_ticks ok failed
    read -r rc_phone phone_ticks <"$WORK/${name}_phone.cpu"
    read -r rc_uas uas_ticks <"$WORK/${name}_provider.cpu"
    sipp_ticks=$((phone_ticks + uas_ticks))
    ok=$(stat_value "$WORK/${name}_phone.csv" "SuccessfulCall(C)")
    # Failed = not completed: calls cut short by the global timeout count too.
    if [[ $ok =~ ^[0-9]+$ ]]; then
        failed=$((CALLS - ok))
    else
        failed="?"
    fi
    if [ "$rc_phone" != 0 ] || [ "$rc_uas" != 0 ] || [ "$failed" != 0 ]; then
        status=1
    fi
    awk -v l="$label" -v ok="$ok" -v f="$failed" -v w="$(cat "$WORK/$name.wall")" \
        -v p="$proxy_ms" -v s="$sipp_ticks" -v hz="$HZ" -v n="$CALLS" \
        -v rp="$rc_phone" -v ru="$rc_uas" 'BEGIN {
            sm = s * 1000 / hz
            pm = (p == "-") ? "-" : sprintf("%.0f", p)
            pc = (p == "-") ? "-" : sprintf("%.4f", p / n)
            printf "%-16s %6s %6s %6s %8s %10s %9.0f %9.4f  %s/%s\n",
                l, ok, f, w, pm, pc, sm, sm / n, rp, ru
        }'
}
proxy_ms=$(awk -v t="$proxy_ticks" -v hz="$HZ" 'BEGIN { print t * 1000 / hz }')
tcp_ms=$(awk -v t="$tcp_ticks" -v hz="$HZ" 'BEGIN { print t * 1000 / hz }')
echo
echo "siproxd-rs under sipp: $CALLS calls at $RATE calls/s, CPU from /proc/PID/stat (1 tick = $((1000 / HZ)) ms)"
printf "%-16s %6s %6s %6s %8s %10s %9s %9s  %s\n" run ok failed wall_s proxy_ms proxy_ms/call \
    sipp_ms sipp_ms/call "sipp rc (phone/provider)"
report proxy "through proxy" "$proxy_ms"
report tcp "proxy, TCP" "$tcp_ms"
report direct "direct (base)" "-"
awk -v t="$tcp_ticks" -v u="$proxy_ticks" 'BEGIN {
    if (u > 0) printf "proxy CPU per call over TCP = %.2f x over UDP (same run, same proxy)\n", t / u
}'
read -r _ d_phone <"$WORK/direct_phone.cpu"
read -r _ d_uas <"$WORK/direct_provider.cpu"
awk -v p="$proxy_ticks" -v d="$((d_phone + d_uas))" 'BEGIN {
    if (d > 0) printf "proxy CPU per call = %.2f x the CPU of the sipp pair per call (direct run)\n", p / d
}'
awk -v t="$idle_ticks" -v s="$IDLE_S" -v hz="$HZ" \
    'BEGIN { printf "proxy idle: %.0f ms CPU in %d s\n", t * 1000 / hz, s }'
echo "proxy log lines: $(wc -l <"$WORK/proxy.log")"
if [ "$status" != 0 ]; then
    echo "bench-sip: FAILED calls; traces in $WORK" >&2
else
    rm -rf "$WORK"
fi
exit "$status"
