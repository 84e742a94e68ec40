#!/bin/sh
# size-report.sh [TARGET] [TOP] — what costs the bytes of the router binary.
# Links the release binary of TARGET (default mipsel-unknown-linux-musl) with exactly the
# flags of scripts/cross-build.sh, but unstripped and with a linker map
# (target/size-report/<target>.map), then prints:
#   1. the ELF sections (what the stripped file is made of),
#   2. the TOP (default 30) largest symbols,
#   3. totals per crate and per siproxd_rs module (sum of symbol sizes; C objects from musl
#      have no crate and are grouped as "[C]").
# Only the final crate is relinked (`cargo rustc ... -- -Cstrip=none -Wl,-Map`), so std and
# the dependencies are reused from the last cross-build. Plain binutils nm instead of
# cargo-bloat: no extra tool to install, and it reads the exact binary we ship.
# Attribution is by the demangled path: `<T as Trait>::f` counts for T's crate (for Trait's
# when T is a primitive); a generic function counts for the crate that defines it, even
# when it is instantiated for our types (e.g. core::slice::sort::<siproxd_rs::…>).
set -eu
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
T=${1:-mipsel-unknown-linux-musl}
TOP=${2:-30}
TD=${CARGO_TARGET_DIR:-target}
OUT=$TD/size-report
mkdir -p "$OUT"
MAP=$PWD/$OUT/$T.map

# the rustflags must match cross-build.sh exactly, or std is rebuilt
flags=$(CROSS_BUILD_PRINT_FLAGS=$T scripts/cross-build.sh)
enc=$(CROSS_BUILD_PRINT_FLAGS=env:$T scripts/cross-build.sh)
# a dynamically linked target's flags replace .cargo/config.toml's, as in cross-build.sh
[ -z "$enc" ] || export CARGO_ENCODED_RUSTFLAGS="$enc"
RUSTC_BOOTSTRAP=1 cargo rustc --release --locked -q --target "$T" \
	-Z build-std=std,panic_abort --bin siproxd-rs \
	-Z build-std-features="$(CROSS_BUILD_PRINT_FLAGS=features scripts/cross-build.sh)" \
	--config "target.$T.rustflags=[$flags]" \
	-- -Cstrip=none "-Clink-arg=-Wl,-Map=$MAP"
BIN=$TD/$T/release/siproxd-rs
cp "$BIN" "$OUT/$T.unstripped"
BIN=$OUT/$T.unstripped

case $T in
mipsel-*) P=mipsel-linux-gnu- ;;
mips-*) P=mips-linux-gnu- ;;
armv7-*) P=arm-linux-gnueabihf- ;;
aarch64-*) P=aarch64-linux-gnu- ;;
*) P= ;;
esac
NM=${P}nm
command -v "$NM" >/dev/null 2>&1 || NM=llvm-nm
SIZE=${P}size
command -v "$SIZE" >/dev/null 2>&1 || SIZE=llvm-size

echo "== $T: unstripped $(stat -c %s "$BIN") bytes; map $OUT/$T.map"
echo "== sections (the stripped file is about the sum of the allocated ones)"
"$SIZE" -A "$BIN" | awk 'NR > 2 && $2 > 0 && $1 !~ /^\.(comment|gnu\.attributes|mdebug|symtab|strtab|shstrtab|debug)/ { printf "%10d  %s\n", $2, $1 }'

strip_size() {
	S=$OUT/$T.stripped
	${P}strip -o "$S" "$BIN" 2>/dev/null || llvm-strip -o "$S" "$BIN"
	stat -c %s "$S"
}
SYMS=$OUT/$T.syms
# decimal sizes, demangled; "size type name..."; one line per address (musl's weak
# aliases, e.g. getdelim/__getdelim, would count twice)
"$NM" -C --size-sort -S -t d "$BIN" | sort -k1,1 -u | awk '{ $1 = ""; sub(/^ +/, ""); print }' >"$SYMS"

echo "== top $TOP symbols (bytes, nm type, name)"
sort -k1,1nr "$SYMS" | head -n "$TOP" | awk '{ s = $1 + 0; t = $2; $1 = ""; $2 = ""; sub(/^ +/, ""); n = $0; if (length(n) > 140) n = substr(n, 1, 137) "..."; printf "%8d %s %s\n", s, t, n }'

# crate and module of each symbol
awk '
function crate_of(n,   t, a) {
	t = n
	if (substr(t, 1, 1) == "<") {
		t = substr(t, 2)
		sub(/^(&mut |&|\*const |\*mut |dyn )+/, "", t)
		# a primitive or slice/tuple receiver: use the trait path
		if (t !~ /^[A-Za-z_][A-Za-z0-9_]*::/ && match(t, / as [A-Za-z_][A-Za-z0-9_]*::/))
			t = substr(t, RSTART + 4)
	}
	if (match(t, /^[A-Za-z_][A-Za-z0-9_]*::/)) return substr(t, 1, RLENGTH - 2)
	return ""
}
function module_of(n, c,   t, rest) {
	t = n
	sub(/^<(&mut |&)?/, "", t)
	rest = substr(t, length(c) + 3)
	if (match(rest, /^[A-Za-z_][A-Za-z0-9_]*/)) return c "::" substr(rest, 1, RLENGTH)
	return c
}
{
	s = $1 + 0; ty = $2; $1 = ""; $2 = ""; sub(/^ +/, ""); n = $0
	total += s
	c = crate_of(n)
	if (c == "" || n ~ /^_ZN/) c = (ty ~ /[rRdDbB]/) ? "[C] data (musl)" : "[C] code (musl libc)"
	crate[c] += s
	if (c == "siproxd_rs") mod[module_of(n, c)] += s
}
END {
	printf "== per crate (sum of symbol sizes: %d bytes)\n", total
	for (c in crate) printf "%8d %5.1f%%  %s\n", crate[c], 100 * crate[c] / total, c | "sort -nr"
	close("sort -nr")
	print "== per siproxd_rs module"
	for (m in mod) printf "%8d %5.1f%%  %s\n", mod[m], 100 * mod[m] / total, m | "sort -nr"
	close("sort -nr")
}' "$SYMS"
echo "== stripped: $(strip_size) bytes (what scripts/cross-build.sh ships)"
