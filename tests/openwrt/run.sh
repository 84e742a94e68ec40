#!/bin/sh
# shellcheck disable=SC2317  # functions run through step()
# tests/openwrt/run.sh [TARGET...] — the OpenWrt packaging tests: sh -n and shellcheck on
# the init script and all scripts, the procd/UCI harness, and per target a reproducible
# .ipk (built twice, same bytes) that passes check-ipk.sh, including its binary under qemu.
# Needs scripts/setup-cross.sh for the targets (default: mipsel, the size-budget target).
set -u
cd "$(dirname "$0")/../.." || exit 1
TARGETS=${*:-mipsel-unknown-linux-musl}
fail=0
step() {
	s=$(date +%s)
	"$@"
	rc=$?
	echo "  [$(($(date +%s) - s)) s] $*: $([ $rc = 0 ] && echo ok || echo FAILED)"
	[ $rc = 0 ] || fail=1
}

SCRIPTS="openwrt/files/siproxd-rs.init scripts/*.sh tests/openwrt/*.sh"
syntax() {
	# Each script is checked by the shell its #! line names (test.sh is bash).
	for f in $SCRIPTS; do
		case "$(head -n 1 "$f")" in
		*bash*) bash -n "$f" || return 1 ;;
		*) sh -n "$f" || return 1 ;;
		esac
	done
	# the postinst lives in the Makefile; check it as the .ipk will carry it
	sed -n '/^define Package\/siproxd-rs\/postinst$/,/^endef$/p' openwrt/Makefile | sed '1d;$d;s/\$\$/$/g' | sh -n
}
step syntax
if command -v shellcheck >/dev/null 2>&1; then
	# shellcheck disable=SC2086  # the glob list is meant to split
	step shellcheck -x $SCRIPTS
else
	echo "  SKIP: shellcheck not installed (apt-get install shellcheck)"
fi
step sh tests/openwrt/init-harness.sh
# OpenWrt runs init scripts with busybox ash: same harness under it, where installed
if command -v busybox >/dev/null 2>&1; then
	step busybox sh tests/openwrt/init-harness.sh
else
	echo "  SKIP: init harness under busybox ash (apt-get install busybox)"
fi

# the REGISTER smoke client must PASS through a forwarding proxy, FAIL through one that
# loses responses, and SKIP when nothing listens: otherwise its SKIP proves nothing
register_selftest() {
	P=$((31000 + ($$ % 1000) * 3))
	python3 tests/openwrt/fake-proxy.py "$P" &
	fp=$!
	python3 tests/openwrt/sip-register.py "$P" 3 "$fp" >/dev/null
	r1=$?
	kill "$fp"
	python3 tests/openwrt/fake-proxy.py "$P" broken &
	fp=$!
	python3 tests/openwrt/sip-register.py "$P" 3 "$fp" >/dev/null
	r2=$?
	kill "$fp"
	wait 2>/dev/null
	python3 tests/openwrt/sip-register.py "$P" 0.5 >/dev/null
	r3=$?
	[ "$r1/$r2/$r3" = "0/1/77" ] || {
		echo "sip-register.py: pass/broken/absent gave $r1/$r2/$r3, expected 0/1/77"
		return 1
	}
}
if command -v python3 >/dev/null 2>&1; then
	step register_selftest
else
	echo "  SKIP: REGISTER client self-test (no python3)"
fi

luci() {
	for f in openwrt/luci-app-siproxd-rs/root/usr/share/*/*/*.json; do
		python3 -m json.tool "$f" >/dev/null || return 1
	done
	node tests/openwrt/luci-check.js
}
if command -v node >/dev/null 2>&1 && command -v python3 >/dev/null 2>&1; then
	step luci
else
	echo "  SKIP: LuCI view check (needs node and python3)"
fi

reproducible() {
	T=$1
	scripts/build-ipk.sh "$T" >/dev/null || return 1
	a=$(md5sum dist/siproxd-rs_*_"$2".ipk)
	scripts/build-ipk.sh --no-build "$T" >/dev/null 2>&1 || return 1
	b=$(md5sum dist/siproxd-rs_*_"$2".ipk)
	[ "$a" = "$b" ] || {
		echo "not reproducible: $a / $b"
		return 1
	}
}
for T in $TARGETS; do
	case $T in
	mips-*) A=mips_24kc ;;
	mipsel-*) A=mipsel_24kc ;;
	armv7-*) A=arm_cortex-a7_neon-vfpv4 ;;
	aarch64-*) A=aarch64_cortex-a53 ;;
	x86_64-*) A=x86_64 ;;
	*)
		echo "unknown target $T"
		fail=1
		continue
		;;
	esac
	step reproducible "$T" "$A"
	for f in dist/siproxd-rs_*_"$A".ipk; do
		step sh tests/openwrt/check-ipk.sh "$f"
	done
done
[ $fail = 0 ] && echo "tests/openwrt: ok" || echo "tests/openwrt: FAILED"
exit $fail
