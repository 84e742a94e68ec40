#!/bin/sh
# cross-build.sh [--keep-panic-messages] [TARGET...] — stripped release binaries for OpenWrt
# into dist/<target>/siproxd-rs (needs scripts/setup-cross.sh first): static, except mipsel,
# which is linked against the router's shared musl.
#
# Default: std rebuilt with -Z build-std (stable toolchain, RUSTC_BOOTSTRAP=1) and
# -C panic=immediate-abort, which removes std's panic/formatting machinery (the mipsel
# binary is 555 kB instead of 950 kB with panic messages). The price: a
# panic is a bare SIGILL/abort with no message and no location. siproxd-rs does not panic on
# input by construction (no unwrap/indexing on network or file data), and procd respawns it.
# With nothing left to unwind or report, the default also drops (docs/PERFORMANCE.md, sizes):
#   -C force-unwind-tables=no   .eh_frame/.eh_frame_hdr, ~41 kB on mipsel: only a panic
#                               (gone) or a backtrace (never taken) reads them;
#   -Z location-detail=none     file/line/column of #[track_caller] sites, ~4 kB: only panic
#                               messages print them (our logger prints no file/line);
#   -Z fmt-debug=none           {:?} prints nothing and derived Debug impls are empty, ~12 kB
#                               (.ipk -3.5 kB): no log line, error or status text uses {:?}
#                               (tests/no_debug_format.rs keeps it so; strings are shown
#                               with logging::Quoted, which prints what {:?} would);
#   std feature optimize_for_size  smaller variants of integer formatting, sorting and float
#                               parsing in core/alloc (same results, a little slower), ~10 kB;
#   -C relocation-model=static  (mips*, armv7) the binary is a non-PIE executable (static, or
#                               dynamic with a PLT on mipsel), so PIC code buys nothing:
#                               mipsel .text -53 kB ($gp set-up, GOT loads, jalr $t9), armv7
#                               -12 kB; aarch64 gains nothing and x86_64 is a static-pie, so
#                               both stay as they are.
# mipsel (the .ipk size-budget target) links musl dynamically, as every OpenWrt package does:
# the router's /lib/libc.so through the loader /lib/ld-musl-mipsel-sf.so.1; the package
# depends on libc (scripts/build-ipk.sh). Against the static link: .ipk -28 kB
# (docs/PERFORMANCE.md). The other targets stay static. See docs/CROSS-COMPILE.md §4.2.
# --keep-panic-messages: panic=abort with messages, locations and unwind tables (for chasing
# a crash; much larger).
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
SMALL_FLAGS='"-Zunstable-options", "-Cpanic=immediate-abort", "-Zlocation-detail=none", "-Cforce-unwind-tables=no", "-Zfmt-debug=none"'
SMALL_STD_FEATURES=optimize_for_size
SYSROOT=$(rustc --print sysroot)
BIN=siproxd-rs
TD=${CARGO_TARGET_DIR:-target}
DIST=${DIST_DIR:-dist}

# Targets linked against the shared musl (default builds only), and for each the sysroot
# with its libc.so and the loader name (musl's ld-musl-$ARCH$SUBARCH.so.1, the name OpenWrt
# installs)
dynamic_sysroot() {
	# --keep-panic-messages builds stay static: their backtraces need libgcc_s/libunwind
	[ "$PANIC" = immediate-abort ] || return 1
	case $1 in
	mipsel-unknown-linux-musl) echo ".xsysroot/mipsel-sf /lib/ld-musl-mipsel-sf.so.1" ;;
	*) return 1 ;;
	esac
}

# rustflags for target $1; scripts/size-report.sh links with the same (in the same order, or
# cargo rebuilds std) through CROSS_BUILD_PRINT_FLAGS=<target> / =features / =env:<target>
target_flags() {
	f='"-Clink-arg=-Wl,-z,max-page-size=4096"'
	if d=$(dynamic_sysroot "$1"); then
		# These replace .cargo/config.toml's static flags for the target (through
		# CARGO_ENCODED_RUSTFLAGS: its +crt-static would win over -crt-static). Self-contained:
		# crt objects and libc.so from the sysroot, not the gnu cross gcc's glibc ones.
		# std's eh personality (unused: nothing unwinds) still names _Unwind_* of libgcc_s;
		# --gc-sections drops it, but only after --as-needed has made libgcc_s.so.1 a NEEDED
		# library the router need not have. An empty libgcc_s.a first in the search path
		# satisfies -lgcc_s without that; a real use of libgcc_s would fail the link.
		mkdir -p "$TD/no-gcc_s"
		[ -f "$TD/no-gcc_s/libgcc_s.a" ] || printf '!<arch>\n' >"$TD/no-gcc_s/libgcc_s.a"
		f="$f, \"-Ctarget-feature=-crt-static\", \"-Clink-self-contained=yes\""
		f="$f, \"-Lnative=$TD/no-gcc_s\", \"-Lnative=${d% *}/lib\""
		f="$f, \"-Clink-arg=-Wl,--dynamic-linker=${d#* }\""
		# libc.so right after our object, before the rlibs: compiler_builtins defines cbrt,
		# fma, fmod, sqrt, ... too (and the soft-float helpers they call); when libc.so comes
		# only after it, ld keeps all of them although nothing calls them (binary +20 kB, .ipk
		# +12 kB). The imports are the same either way. (+verbatim: a plain -lc would clash
		# with the libc crate's own #[link(name = "c")].)
		f="$f, \"-ldylib:+verbatim=libc.so\""
	fi
	case $1 in
	x86_64-*-musl | aarch64-*-musl)
		# with build-std the musl crt/libc/libunwind still come from the prebuilt target's
		# self-contained dir (the build-std targets get theirs from .xsysroot via config)
		f="$f, \"-Lnative=$SYSROOT/lib/rustlib/$1/lib/self-contained\""
		;;
	esac
	if [ "$PANIC" = immediate-abort ]; then
		f="$f, $SMALL_FLAGS"
		case $1 in mips* | armv7-*) f="$f, \"-Crelocation-model=static\"" ;; esac
	fi
	echo "$f"
}
# the quoted, comma-separated list above as CARGO_ENCODED_RUSTFLAGS (0x1f-separated)
encoded_flags() {
	printf '%s' "$1" | sed 's/^"//; s/"$//; s/", "/\x1f/g'
}
case ${CROSS_BUILD_PRINT_FLAGS:-} in
"") ;;
features)
	echo "$SMALL_STD_FEATURES"
	exit 0
	;;
env:*)
	# the CARGO_ENCODED_RUSTFLAGS for a dynamically linked target, nothing for the others
	T=${CROSS_BUILD_PRINT_FLAGS#env:}
	! dynamic_sysroot "$T" >/dev/null || encoded_flags "$(target_flags "$T")"
	exit 0
	;;
*)
	target_flags "$CROSS_BUILD_PRINT_FLAGS"
	exit 0
	;;
esac

for T in $TARGETS; do
	flags=$(target_flags "$T")
	if [ "$PANIC" = immediate-abort ]; then
		set -- -Z build-std-features=$SMALL_STD_FEATURES
	else
		set --
	fi
	s=$(date +%s)
	# --config arrays append to .cargo/config.toml rustflags; CARGO_ENCODED_RUSTFLAGS (the
	# dynamically linked targets) replaces them
	# (set only for those: an empty one would mean "no flags" for the others)
	(
		if dynamic_sysroot "$T" >/dev/null; then
			CARGO_ENCODED_RUSTFLAGS=$(encoded_flags "$flags")
			export CARGO_ENCODED_RUSTFLAGS
		fi
		RUSTC_BOOTSTRAP=1 cargo build --release --locked -q --target "$T" \
			-Z build-std=std,panic_abort \
			--config "target.$T.rustflags=[$flags]" "$@"
	)
	mkdir -p "$DIST/$T"
	cp "$TD/$T/release/$BIN" "$DIST/$T/$BIN"
	chmod 0755 "$DIST/$T/$BIN"
	echo "$T: $DIST/$T/$BIN $(stat -c %s "$DIST/$T/$BIN") bytes (panic=$PANIC, $(($(date +%s) - s)) s)"
done
