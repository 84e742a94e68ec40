#!/bin/sh
# mk-musl-sysroot.sh <gnu-cross-prefix> <musl-target> <prefix> [extra CFLAGS]
#   mk-musl-sysroot.sh mipsel-linux-gnu mipsel-linux-musl .xsysroot/mipsel-sf -msoft-float
# Produces <prefix>/lib/{crt1.o,crti.o,crtn.o,rcrt1.o,crtbegin.o,crtend.o,libc.a,libunwind.a}:
# what rustc's "self-contained" musl linking looks for in -L native= dirs, for targets whose
# std we build with -Z build-std (docs/CROSS-COMPILE.md §3); and the shared musl,
# <prefix>/lib/libc.so with its loader name ld-musl-<arch>.so.1 -> libc.so as on OpenWrt, for
# the dynamically linked mipsel build (to link against, and for qemu-<arch>-static -L <prefix>).
# Needs gcc/g++-<arch>-linux-gnu, the rust-src component and MUSL_SRC (unpacked musl source).
set -eu
CROSS=$1
TGT=$2
PREFIX=$3
shift 3
XCFLAGS="$*"
MUSL_SRC=${MUSL_SRC:?set MUSL_SRC to an unpacked musl source tree}
B=$PREFIX/.build
rm -rf "$B"
mkdir -p "$B/musl" "$B/unwind" "$B/crt"

# 1. musl libc, static and shared. Debian's mips* musl is hard-float or absent; the Rust
#    targets are soft-float, so we build our own. The loader goes next to libc.so
#    (--syslibdir) as a relative link, so qemu's -L <prefix> finds /lib/ld-musl-*.so.1 there.
(
	cd "$B/musl"
	CC=$CROSS-gcc AR=$CROSS-ar RANLIB=$CROSS-ranlib CFLAGS="-Os -pipe $XCFLAGS" \
		"$MUSL_SRC/configure" --target="$TGT" --prefix="$PREFIX" --syslibdir="$PREFIX/lib" --disable-wrapper >configure.log
	make -j"$(nproc)" >make.log 2>&1
	make install >install.log 2>&1
	for l in "$PREFIX"/lib/ld-musl-*.so.1; do ln -sf libc.so "$l"; done
)

# 2. LLVM libunwind from rust-src (what Rust ships for musl; gcc-12's libgcc_eh needs glibc).
U=$(rustc --print sysroot)/lib/rustlib/src/rust/src/llvm-project/libunwind
GCCINC=$("$CROSS"-gcc -print-file-name=include)
CF="-Os -fPIC -fstrict-aliasing -funwind-tables -fvisibility=hidden -DNDEBUG \
 -D_LIBUNWIND_DISABLE_VISIBILITY_ANNOTATIONS -nostdinc -isystem $PREFIX/include \
 -isystem $GCCINC -I$U/include $XCFLAGS"
case "$CROSS" in mipsel* | arm* | aarch64* | x86_64* | riscv*) CF="$CF -D__LITTLE_ENDIAN__=1" ;; esac
(
	cd "$B/unwind"
	for f in Unwind-sjlj.c UnwindLevel1-gcc-ext.c UnwindLevel1.c; do
		# shellcheck disable=SC2086  # $CF is a flag list
		$CROSS-gcc $CF -std=c99 -c "$U/src/$f" -o "${f%.*}.o"
	done
	for f in UnwindRegistersRestore.S UnwindRegistersSave.S; do
		# shellcheck disable=SC2086
		$CROSS-gcc $CF -c "$U/src/$f" -o "${f%.*}.o"
	done
	for f in Unwind-EHABI.cpp libunwind.cpp; do
		# shellcheck disable=SC2086
		$CROSS-g++ $CF -nostdinc++ -fno-exceptions -fno-rtti -std=c++17 -c "$U/src/$f" -o "${f%.*}.o"
	done
	rm -f "$PREFIX/lib/libunwind.a"
	"$CROSS"-ar rcs "$PREFIX/lib/libunwind.a" ./*.o
)

# 3. crtbegin.o/crtend.o with the same float ABI (Debian's gcc ones are hard-float on mips*,
#    which makes every link warn). crtend must end .eh_frame with a zero word: libunwind
#    scans up to it and crashes on the first unwind without it.
(
	cd "$B/crt"
	printf '__attribute__((visibility("hidden"))) void *__dso_handle = &__dso_handle;\n' >crtbegin.c
	printf 'const int __FRAME_END__[] __attribute__((used, section(".eh_frame"), aligned(4), visibility("hidden"))) = {0};\n' >crtend.c
	for f in crtbegin crtend; do
		# shellcheck disable=SC2086
		$CROSS-gcc -Os -fPIC $XCFLAGS -c $f.c -o "$PREFIX/lib/$f.o"
		cp "$PREFIX/lib/$f.o" "$PREFIX/lib/${f}S.o"
	done
)
rm -rf "$B"
echo "sysroot ready: $PREFIX/lib"
