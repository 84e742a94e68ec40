#!/bin/sh
# check-ipk.sh IPK — structure check of an .ipk as OpenWrt's opkg reads it
# (docs/CROSS-COMPILE.md §10.1): gzip tar outer with the three members, gzip inner
# archives, control fields, Installed-Size, file modes, conffiles, maintainer scripts, the
# license file.
set -u
IPK=$1
REPO=$(cd "$(dirname "$0")/../.." && pwd)
fails=0
checks=0
ok() {
	checks=$((checks + 1))
	if [ "$1" != "$2" ]; then
		echo "FAIL [${IPK##*/}]: $3: expected '$2', got '$1'"
		fails=$((fails + 1))
	fi
}

W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

ok "$(od -An -tx1 -N2 "$IPK" | tr -d ' ')" "1f8b" "outer archive is gzip"
ok "$(tar tzf "$IPK" | tr '\n' ' ')" "./debian-binary ./data.tar.gz ./control.tar.gz " "outer members in ipkg-build order"
ok "$(tar tzvf "$IPK" | awk '{print $2}' | sort -u)" "0/0" "outer owners"
ok "$(tar xzOf "$IPK" ./debian-binary)" "2.0" "debian-binary"
tar xzOf "$IPK" ./control.tar.gz >"$W/control.tar.gz"
tar xzOf "$IPK" ./data.tar.gz >"$W/data.tar.gz"
ok "$(od -An -tx1 -N2 "$W/control.tar.gz" | tr -d ' ')" "1f8b" "control.tar.gz is gzip"
ok "$(od -An -tx1 -N2 "$W/data.tar.gz" | tr -d ' ')" "1f8b" "data.tar.gz is gzip"

mkdir "$W/c"
tar xzf "$W/control.tar.gz" -C "$W/c"
field() { sed -n "s/^$1: *//p" "$W/c/control"; }
VERSION=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$REPO/Cargo.toml" | head -n1)
RELEASE=$(sed -n 's/^PKG_RELEASE:=//p' "$REPO/openwrt/Makefile")
NAME=${IPK##*/}
ARCH=${NAME#siproxd-rs_"$VERSION-r$RELEASE"_}
ARCH=${ARCH%.ipk}
ok "$(field Package)" "siproxd-rs" "Package"
ok "$(field Version)" "$VERSION-r$RELEASE" "Version (Cargo.toml + PKG_RELEASE)"
ok "$(field Architecture)" "$ARCH" "Architecture matches the file name"
ok "$(field Conflicts)" "siproxd" "Conflicts"
ok "$(field Section)" "net" "Section"
ok "$(field License)" "GPL-2.0-or-later" "License"
ok "$(field LicenseFiles)" "LICENSE" "LicenseFiles"
ok "$(field Installed-Size)" "$(gzip -dc "$W/data.tar.gz" | wc -c)" "Installed-Size = uncompressed data tar bytes"
for f in Package Version Source SourceName License LicenseFiles Section SourceDateEpoch URL Maintainer Architecture Installed-Size Description; do
	ok "$(grep -c "^$f: " "$W/c/control")" "1" "control field $f present once"
done
ok "$(cat "$W/c/conffiles")" "/etc/config/siproxd" "conffiles"
ctl_modes=$(tar tzvf "$W/control.tar.gz" | awk '$6 != "./" {print $1, $2, $6}' | tr '\n' ';')
ok "$ctl_modes" "-rw-r--r-- 0/0 ./conffiles;-rw-r--r-- 0/0 ./control;-rwxr-xr-x 0/0 ./postinst;-rwxr-xr-x 0/0 ./postinst-pkg;-rwxr-xr-x 0/0 ./prerm;" "control members and modes"
for s in postinst prerm postinst-pkg; do
	sh -n "$W/c/$s"
	ok "$?" "0" "sh -n $s"
done
ok "$(grep -c 'default_postinst' "$W/c/postinst")" "1" "postinst runs default_postinst"
ok "$(grep -c 'default_prerm' "$W/c/prerm")" "1" "prerm runs default_prerm"
# the kernel SIP helper warning, against a fake /proc/modules
printf 'nf_conntrack_sip 20480 1 nf_nat_sip, Live 0x0\nnf_nat_sip 16384 0 - Live 0x0\n' >"$W/mods-sip"
printf 'nf_conntrack 98304 9 - Live 0x0\n' >"$W/mods-nosip"
ok "$(IPKG_INSTROOT='' SIPROXD_RS_MODULES=$W/mods-sip sh "$W/c/postinst-pkg" | grep -c WARNING)" "1" "postinst warns on nf_conntrack_sip"
ok "$(IPKG_INSTROOT='' SIPROXD_RS_MODULES=$W/mods-nosip sh "$W/c/postinst-pkg")" "" "postinst silent without SIP helper"
ok "$(IPKG_INSTROOT=/tmp/root SIPROXD_RS_MODULES=$W/mods-sip sh "$W/c/postinst-pkg")" "" "postinst silent in an image build"

data=$(tar tzvf "$W/data.tar.gz" | awk '{print $1, $2, $6}')
has() {
	checks=$((checks + 1))
	if ! echo "$data" | grep -qxF -- "$1"; then
		echo "FAIL [${IPK##*/}]: data entry missing: $1"
		echo "$data" | sed 's/^/    got: /'
		fails=$((fails + 1))
	fi
}
has "-rwxr-xr-x 0/0 ./usr/sbin/siproxd-rs"
has "-rwxr-xr-x 0/0 ./etc/init.d/siproxd-rs"
has "-rw-r--r-- 0/0 ./etc/config/siproxd"
has "-rw-r--r-- 0/0 ./usr/share/licenses/siproxd-rs/LICENSE"
if [ -f "$REPO/config/siproxd-rs.conf" ]; then
	has "-rw-r--r-- 0/0 ./etc/siproxd-rs/siproxd-rs.conf.example"
fi
ok "$(echo "$data" | awk '$1 ~ /^d/ && $1 != "drwxr-xr-x"' | wc -l)" "0" "directories are 0755"
mkdir "$W/d"
tar xzf "$W/data.tar.gz" -C "$W/d"
cmp -s "$W/d/etc/init.d/siproxd-rs" "$REPO/openwrt/files/siproxd-rs.init"
ok "$?" "0" "init script is openwrt/files/siproxd-rs.init"
cmp -s "$W/d/etc/config/siproxd" "$REPO/openwrt/files/siproxd.config"
ok "$?" "0" "UCI default is openwrt/files/siproxd.config"
cmp -s "$W/d/usr/share/licenses/siproxd-rs/LICENSE" "$REPO/LICENSE"
ok "$?" "0" "license text is LICENSE"
ok "$(grep -cx ' *Version 2, June 1991' "$REPO/LICENSE")" "1" "LICENSE is the GPL-2.0 text"

# the packaged binary itself: for the right machine, stripped, runs under qemu; static, or
# (mipsel: scripts/cross-build.sh links it against the shared musl) dynamic with OpenWrt's
# musl loader, libc.so as its only library and the libc package as its dependency
DYN=
case $ARCH in
mipsel_24kc)
	DYN=/lib/ld-musl-mipsel-sf.so.1
	Q="qemu-mipsel-static -L $REPO/.xsysroot/mipsel-sf"
	M="MIPS"
	;;
mips_24kc) Q=qemu-mips-static M="MIPS" ;;
arm_cortex-a7_neon-vfpv4) Q=qemu-arm-static M="ARM" ;;
aarch64_cortex-a53) Q=qemu-aarch64-static M="aarch64" ;;
x86_64) Q="" M="x86-64" ;;
*) Q=none M=unknown ;;
esac
BIN=$W/d/usr/sbin/siproxd-rs
if [ -z "$DYN" ]; then
	ok "$(file -b "$BIN" | grep -c "$M.*statically linked.*stripped\|$M.*static-pie linked.*stripped")" "1" "binary is a stripped static $M executable"
	ok "$(grep -c '^Depends: ' "$W/c/control")" "0" "a static binary depends on no package"
else
	ok "$(file -b "$BIN" | grep -c "$M.*dynamically linked, interpreter $DYN,.*stripped")" "1" "binary is a stripped $M executable for the loader $DYN"
	ok "$(readelf -d "$BIN" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')" "libc.so " "binary needs libc.so only"
	ok "$(field Depends)" "libc" "Depends: libc (OpenWrt's musl package)"
fi
if [ "$Q" != none ]; then
	# shellcheck disable=SC2086  # Q may carry arguments
	ok "$($Q "$BIN" -V 2>&1 | head -n1 | cut -d" " -f1,2)" "siproxd-rs $VERSION" "packaged binary runs: -V"
fi

if [ "$fails" = 0 ]; then
	echo "check-ipk: ${IPK##*/} ok ($checks checks)"
else
	echo "check-ipk: ${IPK##*/}: $fails of $checks checks FAILED"
	exit 1
fi
