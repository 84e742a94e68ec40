#!/bin/sh
# cross-build.sh [--keep-panic-messages] [TARGET...] — stripped static release binaries for
# OpenWrt into dist/<target>/siproxd-rs (needs scripts/setup-cross.sh first).
#
# Default: std rebuilt with -Z build-std (stable toolchain, RUSTC_BOOTSTRAP=1) and
# -C panic=immediate-abort, which removes std's panic/formatting machinery: the mipsel
# binary shrinks ~4x, which is what keeps the .ipk under its 150 kB budget. The price: a
# panic is a bare SIGILL/abort with no message and no location. siproxd-rs does not panic on
# input by construction (no unwrap/indexing on network or file data), and procd respawns it.
# --keep-panic-messages: panic=abort with messages (for chasing a crash; ~4x larger).
# Env: CARGO_TARGET_DIR (default target), DIST_DIR (default dist).
# Both add -z max-page-size=4096 (OpenWrt kernels use 4 KiB pages) to drop ld's 64 KiB
# segment padding.
set -eu
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

PANIC=immediate-abort
if [ "${1:-}" = "--keep-panic-messages" ]; then
	PANIC=abort
	shift
fi
TARGETS=${*:-"mipsel-unknown-linux-musl mips-unknown-linux-musl armv7-unknown-linux-musleabihf aarch64-unknown-linux-musl x86_64-unknown-linux-musl"}
SYSROOT=$(rustc --print sysroot)
BIN=siproxd-rs
TD=${CARGO_TARGET_DIR:-target}
DIST=${DIST_DIR:-dist}

for T in $TARGETS; do
	flags='"-Clink-arg=-Wl,-z,max-page-size=4096"'
	case $T in
	x86_64-*-musl | aarch64-*-musl)
		# with build-std the musl crt/libc/libunwind still come from the prebuilt target's
		# self-contained dir (the build-std targets get theirs from .xsysroot via config)
		flags="$flags, \"-Lnative=$SYSROOT/lib/rustlib/$T/lib/self-contained\""
		;;
	esac
	if [ "$PANIC" = immediate-abort ]; then
		flags="$flags, \"-Zunstable-options\", \"-Cpanic=immediate-abort\""
	fi
	s=$(date +%s)
	# --config arrays append to .cargo/config.toml rustflags; RUSTFLAGS would replace them
	RUSTC_BOOTSTRAP=1 cargo build --release --locked -q --target "$T" \
		-Z build-std=std,panic_abort \
		--config "target.$T.rustflags=[$flags]"
	mkdir -p "$DIST/$T"
	cp "$TD/$T/release/$BIN" "$DIST/$T/$BIN"
	chmod 0755 "$DIST/$T/$BIN"
	echo "$T: $DIST/$T/$BIN $(stat -c %s "$DIST/$T/$BIN") bytes (panic=$PANIC, $(($(date +%s) - s)) s)"
done
