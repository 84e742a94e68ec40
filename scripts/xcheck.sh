#!/bin/sh
# xcheck.sh [TARGET...] — re-measures the sizes in docs/PERFORMANCE.md ("Binary and package
# sizes"): builds the .ipk for each target (scripts/build-ipk.sh) and prints a markdown
# table of the stripped static binary and the .ipk, plus the binary built with panic
# messages (--keep-panic-messages, separate target dir) for comparison.
set -eu
cd "$(dirname "$0")/.."
TARGETS=${*:-"mipsel-unknown-linux-musl mips-unknown-linux-musl armv7-unknown-linux-musleabihf aarch64-unknown-linux-musl x86_64-unknown-linux-musl"}
LOG=target/xcheck.log
mkdir -p target
: >"$LOG"
echo "| target | OpenWrt arch | binary (immediate-abort) | .ipk | binary with panic messages |"
echo "|---|---|---:|---:|---:|"
for T in $TARGETS; do
	scripts/build-ipk.sh "$T" >>"$LOG" 2>&1
	CARGO_TARGET_DIR=target/keep-panic DIST_DIR=target/keep-panic/dist \
		scripts/cross-build.sh --keep-panic-messages "$T" >>"$LOG" 2>&1
	ipk=$(sed -n "s|^$T: dist/\(siproxd-rs_.*\.ipk\) .*|\1|p" "$LOG" | tail -n1)
	arch=$(echo "$ipk" | cut -d_ -f3-)
	printf '| %s | %s | %s | %s | %s |\n' "$T" "${arch%.ipk}" \
		"$(stat -c %s "dist/$T/siproxd-rs")" "$(stat -c %s "dist/$ipk")" \
		"$(stat -c %s "target/keep-panic/dist/$T/siproxd-rs")"
done
echo
echo "version $(sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n1), $(git rev-parse --short HEAD), $(rustc -V)"
