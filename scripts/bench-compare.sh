#!/usr/bin/env bash
# Before/after performance of two revisions, measured in the same run (docs/PERFORMANCE.md,
# "Middle-layer redesign (issue 15): before/after").
#
#   scripts/bench-compare.sh BASE [CANDIDATE]        # CANDIDATE defaults to HEAD
#
# Both revisions are checked out into temporary git worktrees (removed at the end, also on
# failure or Ctrl-C) and built once each, every bench with that revision's own sources (the
# core's API differs between revisions). Then, REPS times, interleaved and in alternating order
# (base, cand / cand, base / ...):
#   (a) `cargo bench --bench proxy_core` of each revision: the median CPU time per run (one
#       flow, or one call) of every case, read from the bench's own summary;
#   (b) `scripts/bench-rtp.sh` of each revision (its own script and binary): "% of limit", each
#       relay's packets per CPU-second against the minimal relay of the same run.
# Before the timed runs, each revision's proxy_core replay is counted under
# `valgrind --tool=callgrind` (instructions per flow: deterministic, so it is not subject to the
# shared machine's noise) unless CALLGRIND=0 or valgrind is missing.
#
# Every figure is turned into a cost ratio candidate/base (> 1: the candidate is slower; for
# "% of limit" that is base% / cand%), one per repetition, and reported as min / median / max.
# A judged figure passes when its median ratio is ≤ 1 + BOUND/100. Exit status: 0 all judged
# figures pass, 1 some fail, 2 usage or build error.
#
# Environment:
#   REPS=3                      timed repetitions (each runs both benches of both revisions)
#   BOUND=5                     allowed slowdown, %
#   CRIT_ARGS="--warm-up-time 1 --measurement-time 3"    criterion options for proxy_core
#   RTP_ARGS="--reps 1 --paced-secs 2"                   options for scripts/bench-rtp.sh
#   CALLGRIND=auto|0|1          instruction counts (auto: when valgrind is installed)
#   RTP=1                       0: skip scripts/bench-rtp.sh (proxy_core only)
#   CORE=1                      0: skip the timed proxy_core runs (bench-rtp.sh only; more
#                               repetitions of the noisier RTP figures in the same time)
#   KEEP=1                      keep the temporary directory with every log (path printed)
# Run time on the shared 2-core VM (2026-12-04): build 1.5 min for both revisions (4 min more
# the first time, when the dependencies are built with symbols), callgrind 1 min, about 85 s
# per repetition: REPS=3 about 7 min, REPS=5 about 10 min (RTP=0: about 45 s per repetition).
#
# Everything is built with CARGO_PROFILE_BENCH_STRIP=false (symbols kept, so that callgrind
# can name the replay function; the executed code is the same as the stripped build's) and
# each revision in its own target directory: the base's seeded with a copy of this checkout's
# target/release when there is one, the candidate's with the base's (only the dependencies
# are reused). `CARGO_PROFILE_BENCH_STRIP=false cargo bench --no-run` once in this checkout
# keeps those dependencies in its target/ for the next runs.
set -euo pipefail

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
    exit 2
}

[[ $# -ge 1 && $# -le 2 && $1 != -h && $1 != --help ]] || usage

REPS=${REPS:-3}
BOUND=${BOUND:-5}
CRIT_ARGS=${CRIT_ARGS:---warm-up-time 1 --measurement-time 3}
RTP_ARGS=${RTP_ARGS:---reps 1 --paced-secs 2}
CALLGRIND=${CALLGRIND:-auto}
RTP=${RTP:-1}
CORE=${CORE:-1}
[[ $REPS =~ ^[1-9][0-9]*$ ]] || { echo "REPS must be a positive integer" >&2; exit 2; }
[[ $BOUND =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "BOUND must be a number (%)" >&2; exit 2; }
if [[ $CALLGRIND == auto ]]; then
    if command -v valgrind >/dev/null && command -v callgrind_annotate >/dev/null; then
        CALLGRIND=1
    else
        CALLGRIND=0
    fi
fi

repo=$(git rev-parse --show-toplevel)
base=$(git -C "$repo" rev-parse --verify --quiet "$1^{commit}") ||
    { echo "not a commit: $1" >&2; exit 2; }
cand=$(git -C "$repo" rev-parse --verify --quiet "${2:-HEAD}^{commit}") ||
    { echo "not a commit: ${2:-HEAD}" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-compare.XXXXXX")
cleanup() {
    local w
    for w in base cand; do
        if [[ -d $tmp/$w ]]; then
            git -C "$repo" worktree remove --force "$tmp/$w" >/dev/null 2>&1 || true
        fi
    done
    git -C "$repo" worktree prune >/dev/null 2>&1 || true
    if [[ ${KEEP:-0} == 1 ]]; then
        echo "# kept $tmp (logs in $tmp/log)"
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$tmp/log"
results=$tmp/results   # lines: bench figure rev rep value
: >"$results"
export CARGO_PROFILE_BENCH_STRIP=false

# Checks a revision out and builds its two benches (and, through rtp_relay, its binary) in a
# target directory seeded from `seed` (dependencies already built there are reused).
prepare() {
    local w=$1 rev=$2 seed=$3
    git -C "$repo" worktree add --detach "$tmp/$w" "$rev" >/dev/null 2>&1
    if [[ -d $seed/release ]]; then
        mkdir -p "$tmp/$w/target"
        cp -a "$seed/release" "$tmp/$w/target/"
    fi
    echo "# building $w ($rev) in $tmp/$w"
    if ! (cd "$tmp/$w" && CARGO_TARGET_DIR=$tmp/$w/target \
        cargo bench --bench proxy_core --bench rtp_relay --no-run) \
        >"$tmp/log/build-$w.txt" 2>&1; then
        tail -30 "$tmp/log/build-$w.txt" >&2
        echo "build of $w ($rev) failed" >&2
        exit 2
    fi
}

# The proxy_core bench executable of a built revision.
core_exe() {
    local w=$1
    (cd "$tmp/$w" && CARGO_TARGET_DIR=$tmp/$w/target \
        cargo bench --bench proxy_core --no-run --message-format=json 2>/dev/null) |
        grep -o '"executable":"[^"]*proxy_core-[^"]*"' | tail -1 | cut -d'"' -f4
}

# Instructions per run of one proxy_core case: callgrind over criterion's --profile-time mode,
# the inclusive count of the bench's `replay` function divided by its number of calls (the
# set-up before timing — recording the flow, the checked replays — is not counted).
callgrind_case() {
    local w=$1 exe=$2 case=$3 out
    out=$tmp/log/callgrind-$w-$case.out
    (cd "$tmp/$w" && valgrind --tool=callgrind --callgrind-out-file="$out" \
        "$exe" --bench --profile-time 1 --exact "proxy_core_flow/$case") \
        >"$tmp/log/callgrind-$w-$case.txt" 2>&1
    callgrind_annotate --tree=caller --inclusive=yes "$out" 2>/dev/null | awk '
        /^[[:space:]]*$/ { ir = 0; calls = 0; next }
        / < / {
            v = $1; gsub(/,/, "", v); ir += v
            if (match($0, /\([0-9,]+x\)/)) {
                c = substr($0, RSTART + 1, RLENGTH - 3); gsub(/,/, "", c); calls += c
            }
            next
        }
        / \* / && /proxy_core::replay / && !done && calls > 0 { printf "%.0f\n", ir / calls; done = 1 }'
}

# One proxy_core run of a revision: "case µs-per-run" lines from the bench's summary.
run_core() {
    local w=$1 rep=$2 log
    log=$tmp/log/core-$w-$rep.txt
    # shellcheck disable=SC2086 # CRIT_ARGS is a list of options
    (cd "$tmp/$w" && CARGO_TARGET_DIR=$tmp/$w/target \
        cargo bench --bench proxy_core -- $CRIT_ARGS) >"$log" 2>&1 ||
        { tail -20 "$log" >&2; echo "proxy_core of $w failed" >&2; exit 2; }
    awk -v w="$w" -v rep="$rep" '
        /^summary/ { s = 1; next }
        s && NF == 6 && $4 ~ /^[0-9.]+$/ { print "core", $1, w, rep, $4 }' "$log" >>"$results"
}

# One scripts/bench-rtp.sh run of a revision: "% of limit" of every row.
run_rtp() {
    local w=$1 rep=$2 log
    log=$tmp/log/rtp-$w-$rep.txt
    # shellcheck disable=SC2086 # RTP_ARGS is a list of options
    (cd "$tmp/$w" && CARGO_TARGET_DIR=$tmp/$w/target scripts/bench-rtp.sh $RTP_ARGS) \
        >"$log" 2>&1 || { tail -20 "$log" >&2; echo "bench-rtp.sh of $w failed" >&2; exit 2; }
    awk -F'|' -v w="$w" -v rep="$rep" '
        $2 ~ /^ *[0-9]+ *$/ && $7 ~ /%/ {
            n = $2; gsub(/ /, "", n)
            t = ($3 ~ /saturation/) ? "sat" : "paced"
            r = ($4 ~ /binary/) ? "binary" : ($4 ~ /minimal/) ? "minimal" : "relay"
            p = $7; gsub(/[ %]/, "", p)
            if (r != "minimal") print "rtp", r "/" t "/" n, w, rep, p
        }' "$log" >>"$results"
}

echo "# scripts/bench-compare.sh $*   REPS=$REPS BOUND=$BOUND CALLGRIND=$CALLGRIND RTP=$RTP CORE=$CORE"
echo "# CRIT_ARGS='$CRIT_ARGS' RTP_ARGS='$RTP_ARGS'"
echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(rustc --version), $(nproc) CPUs, $(uname -srm)"
echo "# base $base $(git -C "$repo" log -1 --format=%s "$base" | cut -c1-60)"
echo "# cand $cand $(git -C "$repo" log -1 --format=%s "$cand" | cut -c1-60)"
start=$SECONDS
prepare base "$base" "$repo/target"
prepare cand "$cand" "$tmp/base/target"
echo "# built in $((SECONDS - start)) s; load average $(cut -d' ' -f1-3 /proc/loadavg)"

if [[ $CALLGRIND == 1 ]]; then
    t0=$SECONDS
    for w in base cand; do
        exe=$(core_exe "$w")
        [[ -x $exe ]] || { echo "no proxy_core executable for $w" >&2; exit 2; }
        for case in proxy_no_media proxy_no_media_call proxy_table_media; do
            ir=$(callgrind_case "$w" "$exe" "$case")
            [[ -n $ir ]] || { echo "callgrind of $w $case gave no count" >&2; exit 2; }
            echo "ir $case $w 1 $ir" >>"$results"
        done
    done
    echo "# callgrind in $((SECONDS - t0)) s"
fi

for ((rep = 1; rep <= REPS; rep++)); do
    if ((rep % 2)); then order=(base cand); else order=(cand base); fi
    echo "# repetition $rep/$REPS (${order[*]}), load average $(cut -d' ' -f1-3 /proc/loadavg)"
    if [[ $CORE != 0 ]]; then
        for w in "${order[@]}"; do run_core "$w" "$rep"; done
    fi
    if [[ $RTP != 0 ]]; then
        for w in "${order[@]}"; do run_rtp "$w" "$rep"; done
    fi
done
echo "# finished after $((SECONDS - start)) s, load average $(cut -d' ' -f1-3 /proc/loadavg)"

# The report: per figure, each repetition's base and candidate values and their cost ratio,
# then min / median / max of the ratios and the verdict.
sort -k1,1 -k2,2 -k4,4n "$results" | awk -v bound="$BOUND" '
    function median(a, n,    i, j, t) {
        for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
            t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
        }
        return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    {
        key = $1 " " $2
        if (!(key in seen)) { seen[key] = 1; keys[++nk] = key }
        v[key, $3, $4] = $5
        if ($4 > maxrep[key]) maxrep[key] = $4
    }
    END {
        unit["core"] = "µs CPU per run (criterion median), lower is better"
        unit["rtp"] = "% of limit (pkt per CPU-s ÷ minimal relay), higher is better"
        unit["ir"] = "instructions per run (callgrind), lower is better"
        fail = 0
        print "\nratio = cost candidate/base per repetition (> 1: candidate slower)"
        for (k = 1; k <= nk; k++) {
            key = keys[k]; split(key, kk, " ")
            if (kk[1] != last) { printf "\n== %s: %s\n", kk[1], unit[kk[1]]; last = kk[1] }
            judged = !(kk[1] == "rtp" && kk[2] ~ /paced/)
            n = 0; line = ""
            for (r = 1; r <= maxrep[key]; r++) {
                b = v[key, "base", r]; c = v[key, "cand", r]
                if (b == "" || c == "" || b + 0 == 0 || c + 0 == 0) continue
                ratio = (kk[1] == "rtp") ? b / c : c / b
                rs[++n] = ratio; s[n] = ratio
                line = line sprintf("  #%d %s→%s %.3f", r, b, c, ratio)
            }
            if (n == 0) { printf "%-28s no paired figures\n", kk[2]; fail = 1; continue }
            med = median(s, n)
            mn = rs[1]; mx = rs[1]
            for (i = 2; i <= n; i++) { if (rs[i] < mn) mn = rs[i]; if (rs[i] > mx) mx = rs[i] }
            verdict = "info (not judged: paced rows swing by tens of %)"
            if (judged) {
                verdict = (med <= 1 + bound / 100) ? "PASS" : "FAIL"
                if (verdict == "FAIL") fail = 1
            }
            printf "%-22s rep base→cand ratio:%s\n", kk[2], line
            printf "%-22s ratio min %.3f median %.3f max %.3f  %s\n", "", mn, med, mx, verdict
        }
        printf "\nOverall (median cost ratio ≤ %.2f for every judged figure): %s\n", 1 + bound / 100, fail ? "FAIL" : "PASS"
        exit fail
    }'
