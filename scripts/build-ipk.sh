#!/bin/sh
# build-ipk.sh [--no-build] [TARGET...] — OpenWrt .ipk packages without the SDK:
# dist/siproxd-rs_<version>-r<release>_<arch>.ipk per target (docs/CROSS-COMPILE.md §10).
# An .ipk is a gzip tar of ./debian-binary, ./data.tar.gz, ./control.tar.gz (not an ar
# archive: opkg-lede rejects that). Byte-reproducible: all mtimes are SOURCE_DATE_EPOCH
# (default: the commit time of HEAD), owners 0/0, names sorted, gzip -n.
# The gzip streams are written by zopfli when it is installed (Debian package zopfli; the CI
# gate scripts/ci-cross.sh installs it): the same gzip format that opkg reads, deterministic,
# about 4 % smaller than gzip -9 (mipsel .ipk -10 kB). Without it, gzip -9n, with a note.
# Runs scripts/cross-build.sh first unless --no-build (then dist/<target>/siproxd-rs is used).
set -eu
cd "$(dirname "$0")/.."
REPO=$PWD

BUILD=1
if [ "${1:-}" = "--no-build" ]; then
	BUILD=0
	shift
fi
TARGETS=${*:-"mipsel-unknown-linux-musl mips-unknown-linux-musl armv7-unknown-linux-musleabihf aarch64-unknown-linux-musl x86_64-unknown-linux-musl"}

openwrt_arch() {
	case $1 in
	mips-unknown-linux-musl) echo mips_24kc ;;
	mipsel-unknown-linux-musl) echo mipsel_24kc ;;
	armv7-unknown-linux-musleabihf) echo arm_cortex-a7_neon-vfpv4 ;;
	aarch64-unknown-linux-musl) echo aarch64_cortex-a53 ;;
	x86_64-unknown-linux-musl) echo x86_64 ;;
	*) return 1 ;;
	esac
}

# first `version = "…"` of Cargo.toml is the [package] one
VERSION=$(sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n1)
RELEASE=$(sed -n 's/^PKG_RELEASE:=//p' openwrt/Makefile)
if [ -z "$VERSION" ] || [ -z "$RELEASE" ]; then
	echo "build-ipk: cannot read version from Cargo.toml / openwrt/Makefile" >&2
	exit 1
fi
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
	SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || echo 0)
fi
# gz FILE: FILE.gz, the best gzip stream at hand; FILE is removed
if command -v zopfli >/dev/null 2>&1; then
	gz() { zopfli -c "$1" >"$1.gz" && rm -f "$1"; }
else
	echo "build-ipk: note: zopfli not installed, using gzip -9 (the .ipk is about 4 % larger)" >&2
	gz() { gzip -n9 "$1"; }
fi
TAR="tar --format=gnu --numeric-owner --owner=0 --group=0 --sort=name --mtime=@$SOURCE_DATE_EPOCH"
EXAMPLE=config/siproxd-rs.conf
# the control file's LicenseFiles, installed where the SDK package (openwrt/Makefile) puts it
LICENSE_DIR=usr/share/licenses/siproxd-rs
[ -f LICENSE ] || {
	echo "build-ipk: LICENSE missing" >&2
	exit 1
}

for T in $TARGETS; do
	ARCH=$(openwrt_arch "$T") || {
		echo "build-ipk: no OpenWrt arch for $T" >&2
		exit 2
	}
	[ "$BUILD" = 0 ] || scripts/cross-build.sh "$T"
	BIN=dist/$T/siproxd-rs
	[ -f "$BIN" ] || {
		echo "build-ipk: $BIN missing (run scripts/cross-build.sh $T)" >&2
		exit 1
	}

	W=$(mktemp -d)
	D=$W/data
	C=$W/control
	mkdir -p "$D/usr/sbin" "$D/etc/init.d" "$D/etc/config" "$D/$LICENSE_DIR" "$C"
	cp "$BIN" "$D/usr/sbin/siproxd-rs"
	cp LICENSE "$D/$LICENSE_DIR/LICENSE"
	cp openwrt/files/siproxd-rs.init "$D/etc/init.d/siproxd-rs"
	cp openwrt/files/siproxd.config "$D/etc/config/siproxd"
	if [ -f "$EXAMPLE" ]; then
		mkdir -p "$D/etc/siproxd-rs"
		cp "$EXAMPLE" "$D/etc/siproxd-rs/siproxd-rs.conf.example"
	else
		echo "build-ipk: warning: $EXAMPLE not found, package has no example config" >&2
	fi
	# modes explicitly, independent of umask and checkout
	find "$D" -type d -exec chmod 0755 {} +
	find "$D" -type f -exec chmod 0644 {} +
	chmod 0755 "$D/usr/sbin/siproxd-rs" "$D/etc/init.d/siproxd-rs"

	(cd "$D" && $TAR -cf - .) >"$W/data.tar"
	gz "$W/data.tar"
	SIZE=$(gzip -dc "$W/data.tar.gz" | wc -c)
	# a binary linked against the shared musl (it names a loader) needs the libc package
	# (/lib/libc.so and the loader), which the SDK adds to every package
	# (PKG_DEFAULT_DEPENDS = +libc)
	if readelf -l "$BIN" | grep -q 'program interpreter'; then
		DEPENDS="Depends: libc
"
		LINK="dynamic musl"
	else
		DEPENDS=
		LINK="static build"
	fi

	cat >"$C/control" <<CONTROL
Package: siproxd-rs
Version: $VERSION-r$RELEASE
${DEPENDS}Conflicts: siproxd
Source: feeds/telephony/siproxd-rs
SourceName: siproxd-rs
License: GPL-2.0-or-later
LicenseFiles: LICENSE
Section: net
SourceDateEpoch: $SOURCE_DATE_EPOCH
URL: https://github.com/siproxd-rs/siproxd-rs
Maintainer: siproxd-rs developers <siproxd-rs@example.org>
Architecture: $ARCH
Installed-Size: $SIZE
Description:  SIP masquerading proxy with RTP relay for SIP phones behind a NAT router ($LINK)
CONTROL
	echo /etc/config/siproxd >"$C/conffiles"
	# OpenWrt's generated maintainer scripts: enable/start (stop/disable) the service and
	# run the package's own postinst-pkg
	for s in postinst prerm; do
		cat >"$C/$s" <<SCRIPT
#!/bin/sh
[ "\${IPKG_NO_SCRIPT}" = "1" ] && exit 0
[ -s \${IPKG_INSTROOT}/lib/functions.sh ] || exit 0
. \${IPKG_INSTROOT}/lib/functions.sh
default_$s \$0 \$@
SCRIPT
	done
	sed -n '/^define Package\/siproxd-rs\/postinst$/,/^endef$/p' openwrt/Makefile |
		sed '1d;$d' | sed 's/\$\$/$/g' >"$C/postinst-pkg"
	[ -s "$C/postinst-pkg" ] || {
		echo "build-ipk: no postinst in openwrt/Makefile" >&2
		exit 1
	}
	chmod 0644 "$C/control" "$C/conffiles"
	chmod 0755 "$C/postinst" "$C/prerm" "$C/postinst-pkg"
	(cd "$C" && $TAR -cf - .) >"$W/control.tar"
	gz "$W/control.tar"

	printf '2.0\n' >"$W/debian-binary"
	chmod 0644 "$W/debian-binary" "$W/data.tar.gz" "$W/control.tar.gz"
	OUT=$REPO/dist/siproxd-rs_$VERSION-r${RELEASE}_$ARCH.ipk
	(cd "$W" && $TAR -cf - ./debian-binary ./data.tar.gz ./control.tar.gz) >"$W/ipk.tar"
	gz "$W/ipk.tar"
	mv "$W/ipk.tar.gz" "$OUT"
	rm -rf "$W"
	echo "$T: dist/${OUT##*/} $(stat -c %s "$OUT") bytes (binary $(stat -c %s "$BIN"), installed $SIZE)"
done
