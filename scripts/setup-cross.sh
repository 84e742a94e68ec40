#!/bin/sh
# setup-cross.sh [TARGET...] — toolchains for the OpenWrt cross builds and the big-endian
# test gate on Debian bookworm x86_64 (recipe: docs/CROSS-COMPILE.md §1, §3, §4).
# Idempotent: installs only what is missing. Without arguments: every target we ship plus
# powerpc-unknown-linux-gnu (the stable big-endian test target).
# apt-get runs only as root; otherwise missing packages are reported and the script fails.
# musl sysroots for the build-std targets go to ./.xsysroot (gitignored).
set -eu
cd "$(dirname "$0")/.."
XS=$PWD/.xsysroot
export DEBIAN_FRONTEND=noninteractive

TARGETS=${*:-"x86_64-unknown-linux-musl aarch64-unknown-linux-musl armv7-unknown-linux-musleabihf mipsel-unknown-linux-musl mips-unknown-linux-musl powerpc-unknown-linux-gnu"}

pkgs="qemu-user-static"
rust_targets=""
need_src=0
for T in $TARGETS; do
	case $T in
	x86_64-unknown-linux-musl) rust_targets="$rust_targets $T" ;;
	aarch64-unknown-linux-musl) pkgs="$pkgs gcc-aarch64-linux-gnu"; rust_targets="$rust_targets $T" ;;
	armv7-unknown-linux-musleabihf) pkgs="$pkgs gcc-arm-linux-gnueabihf g++-arm-linux-gnueabihf"; need_src=1 ;;
	mipsel-unknown-linux-musl) pkgs="$pkgs gcc-mipsel-linux-gnu g++-mipsel-linux-gnu"; need_src=1 ;;
	mips-unknown-linux-musl) pkgs="$pkgs gcc-mips-linux-gnu g++-mips-linux-gnu"; need_src=1 ;;
	powerpc-unknown-linux-gnu) pkgs="$pkgs gcc-powerpc-linux-gnu libc6-dev-powerpc-cross"; rust_targets="$rust_targets $T" ;;
	*) echo "setup-cross: unknown target $T" >&2; exit 2 ;;
	esac
done

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "setup-cross: missing Debian packages (run as root):$missing" >&2
		exit 1
	fi
	echo "setup-cross: apt-get install$missing"
	# a transient mirror error on one index must not stop us
	apt-get update -qq || true
	# shellcheck disable=SC2086  # word splitting of the package list is intended
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

installed=$(rustup target list --installed)
for T in $rust_targets; do
	echo "$installed" | grep -qx "$T" || rustup target add "$T"
done

[ "$need_src" = 1 ] || { echo "setup-cross: done"; exit 0; }

# -Z build-std targets (no prebuilt rust-std here, or tier 3) build std from rust-src on the
# stable toolchain with RUSTC_BOOTSTRAP=1.
rustup component list --installed | grep -q '^rust-src' || rustup component add rust-src

# musl source from the machine's own Debian mirror, through a private apt state so the
# system's sources and lists stay untouched.
if [ ! -f "$XS/src/musl/configure" ]; then
	rm -rf "$XS/src"
	mkdir -p "$XS/src/lists/partial" "$XS/src/sources.d"
	sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources >"$XS/src/sources.d/debian-src.sources"
	O="-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts=$XS/src/sources.d -o Dir::State::Lists=$XS/src/lists"
	# shellcheck disable=SC2086  # $O is a list of apt options
	apt-get $O update -qq || true
	# shellcheck disable=SC2086
	(cd "$XS/src" && apt-get $O source --download-only musl >/dev/null 2>&1)
	mkdir -p "$XS/src/musl"
	tar xzf "$XS"/src/musl_*.orig.tar.gz -C "$XS/src/musl" --strip-components=1
fi
export MUSL_SRC="$XS/src/musl"

for T in $TARGETS; do
	case $T in
	armv7-unknown-linux-musleabihf)
		[ -f "$XS/armv7-hf/lib/libunwind.a" ] || scripts/mk-musl-sysroot.sh arm-linux-gnueabihf arm-linux-musleabihf \
			"$XS/armv7-hf" -march=armv7-a -mfpu=vfpv3-d16 -mfloat-abi=hard -mthumb ;;
	mipsel-unknown-linux-musl)
		# libc.so: the mipsel build links musl dynamically (a sysroot from before that is rebuilt)
		[ -f "$XS/mipsel-sf/lib/libc.so" ] || scripts/mk-musl-sysroot.sh mipsel-linux-gnu mipsel-linux-musl \
			"$XS/mipsel-sf" -msoft-float ;;
	mips-unknown-linux-musl)
		[ -f "$XS/mips-sf/lib/libunwind.a" ] || scripts/mk-musl-sysroot.sh mips-linux-gnu mips-linux-musl \
			"$XS/mips-sf" -msoft-float ;;
	esac
done
echo "setup-cross: done"
