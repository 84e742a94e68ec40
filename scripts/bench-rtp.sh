#!/usr/bin/env bash
# RTP relay benchmark (issue 5): the relay (net::relay::Relay + rtp::Table in a mio loop, and the
# siproxd-rs binary with calls set up by SIP)
# side by side with a minimal recv/send relay on the same ports (and the in-process relay again
# on ::1, IPv6), 4 and 200 streams of 172-byte
# packets, paced (50 pps per stream) and saturated; median of 3 repetitions. Prints a markdown
# table for docs/PERFORMANCE.md ("RTP relay"). About 100 s after the build.
# Extra arguments go to the benchmark (see `scripts/bench-rtp.sh --help`), e.g. --reps 5.
set -euo pipefail

cd "$(dirname "$0")/.."

# Build first, so the build's CPU use does not overlap the measurements.
cargo bench --bench rtp_relay --no-run

echo "# $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(rustc --version)"
echo "# $(nproc) CPUs, $(uname -srm), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# command: scripts/bench-rtp.sh $*"
cargo bench --bench rtp_relay -- "$@"
