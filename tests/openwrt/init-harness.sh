#!/bin/sh
# shellcheck disable=SC2317  # the stubs are called by the sourced init script
# init-harness.sh — runs openwrt/files/siproxd-rs.init against stubbed procd, UCI and
# network.sh functions and asserts what procd would be told: the exact command line,
# params, jail mounts, triggers and directory set-up, for each UCI fixture.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
INIT=${INIT:-$HERE/../../openwrt/files/siproxd-rs.init}
fails=0
checks=0

# Runs the init script's $2 (start_service or service_triggers) for fixture $1 in a
# subshell; everything the stubs see is written to $OUT, one record per line.
run_init() {
	fixture=$1
	fn=$2
	OUT=$(mktemp)
	ROOT=$(mktemp -d)
	mkdir -p "$ROOT/lib/functions"
	# $3 = jail: the fake root has ujail, so the script must set up the jail;
	# $3 = siphelper: the kernel SIP helper is loaded
	mkdir -p "$ROOT/proc" "$ROOT/sbin"
	printf 'nf_conntrack 98304 9 - Live 0x0\n' >"$ROOT/proc/modules"
	case ${3:-} in
	jail)
		printf '#!/bin/sh\n' >"$ROOT/sbin/ujail"
		command chmod +x "$ROOT/sbin/ujail"
		;;
	siphelper) printf 'nf_conntrack_sip 20480 1 nf_nat_sip, Live 0x0\n' >>"$ROOT/proc/modules" ;;
	esac
	# network.sh stand-in: lan is a bridge, wan a PPPoE link; wan6/other names are down
	cat >"$ROOT/lib/functions/network.sh" <<'NET'
network_get_device() {
	case $2 in
	lan) eval "$1=br-lan" ;;
	wan) eval "$1=pppoe-wan" ;;
	guest) eval "$1=br-guest" ;;
	wwan) eval "$1=phy0-sta0" ;;
	*) return 1 ;;
	esac
}
network_get_physdev() { return 1; }
echo "sourced network.sh" >>"$OUT"
NET
	(
		# shellcheck disable=SC2034  # read by the init script
		IPKG_INSTROOT=$ROOT
		q() { for a in "$@"; do printf ' %s' "$a"; done; }
		config_load() {
			[ "$1" = siproxd ] || echo "config_load $1" >>"$OUT"
			eval "$(awk -f "$HERE/uci2sh.awk" "$HERE/fixtures/$fixture")"
		}
		config_get() {
			eval "_v=\${CONFIG_$2_$3-}"
			# shellcheck disable=SC2154  # _v is set by the eval above
			[ -n "$_v" ] || _v=${4-}
			eval "$1=\$_v"
		}
		config_foreach() {
			for _s in $CONFIG_SECTIONS; do
				eval "_t=\${CONFIG_${_s}_TYPE}"
				# shellcheck disable=SC2154
				[ "$_t" = "$2" ] && "$1" "$_s"
			done
			return 0
		}
		procd_open_instance() { echo "open_instance $*" >>"$OUT"; }
		procd_close_instance() { echo "close_instance" >>"$OUT"; }
		procd_set_param() { echo "param$(q "$@")" >>"$OUT"; }
		procd_add_jail() { echo "jail$(q "$@")" >>"$OUT"; }
		procd_add_jail_mount() { echo "jail_mount$(q "$@")" >>"$OUT"; }
		procd_add_jail_mount_rw() { echo "jail_mount_rw$(q "$@")" >>"$OUT"; }
		procd_add_reload_trigger() { echo "reload_trigger$(q "$@")" >>"$OUT"; }
		procd_add_reload_interface_trigger() { echo "interface_trigger$(q "$@")" >>"$OUT"; }
		mkdir() { echo "mkdir$(q "$@")" >>"$OUT"; }
		chmod() { echo "chmod$(q "$@")" >>"$OUT"; }
		chown() { echo "chown$(q "$@")" >>"$OUT"; }
		logger() { echo "logger$(q "$@")" >>"$OUT"; }
		# shellcheck source=/dev/null
		. "$INIT"
		"$fn"
		echo "rc $?" >>"$OUT"
	) 2>/dev/null
	rm -rf "$ROOT"
}

# expect_line LINE: the exact record is present in $OUT
expect_line() {
	checks=$((checks + 1))
	if ! grep -qxF -- "$1" "$OUT"; then
		echo "FAIL [$CASE]: missing line: $1"
		sed 's/^/    got: /' "$OUT"
		fails=$((fails + 1))
	fi
}
expect_no() {
	checks=$((checks + 1))
	if grep -q -- "$1" "$OUT"; then
		echo "FAIL [$CASE]: unexpected match for: $1"
		fails=$((fails + 1))
	fi
}

CASE=default
run_init default.uci start_service
expect_line "sourced network.sh"
expect_line "open_instance general"
expect_line "param command /usr/sbin/siproxd-rs -f -u /etc/config/siproxd -s if_inbound=br-lan -s if_outbound=pppoe-wan -s user=nobody -s registration_file=/var/lib/siproxd-rs/siproxd-rs.reg"
expect_line "param respawn"
expect_line "param reload_signal HUP"
expect_line "param limits nofile=320 320"
expect_line "param stdout 1"
expect_line "param stderr 1"
expect_line "mkdir -p /var/lib/siproxd-rs /var/run/siproxd-rs"
expect_line "chown nobody:nogroup /var/lib/siproxd-rs /var/run/siproxd-rs"
expect_line "close_instance"
expect_line "rc 0"
expect_no "^jail"
expect_no "SIP helper"
rm -f "$OUT"

CASE=sip-helper
run_init default.uci start_service siphelper
expect_line "logger -t siproxd-rs -p daemon.warn kernel SIP helper (nf_nat_sip/nf_conntrack_sip) is loaded; it conflicts with siproxd-rs, unload it"
expect_line "open_instance general"
expect_line "rc 0"
rm -f "$OUT"

CASE=explicit
run_init explicit.uci start_service
expect_line "param command /usr/sbin/siproxd-rs -f -u /etc/config/siproxd"
expect_line "param limits nofile=1300 1300"
expect_line "chown sip:nogroup /var/lib/siproxd-rs /var/run/siproxd-rs"
expect_line "rc 0"
rm -f "$OUT"

CASE=jail-default
run_init default.uci start_service jail
expect_line "jail siproxd-rs log"
expect_line "jail_mount /etc/passwd /etc/group /etc/TZ /dev/null /etc/config/siproxd"
expect_line "jail_mount_rw /var/lib/siproxd-rs /var/run/siproxd-rs"
expect_line "rc 0"
[ "$(grep -c '^jail_mount' "$OUT")" = 2 ] || {
	echo "FAIL [$CASE]: extra jail mounts"
	fails=$((fails + 1))
}
rm -f "$OUT"

CASE=jail-explicit
run_init explicit.uci start_service jail
expect_line "jail_mount /etc/passwd /etc/group /etc/TZ /dev/null /etc/config/siproxd"
expect_line "jail_mount /etc/siproxd_passwd.cfg"
expect_line "jail_mount_rw /var/lib/siproxd-rs /var/run/siproxd-rs"
expect_line "jail_mount_rw /tmp/sip"
rm -f "$OUT"

CASE=custom-nets
run_init custom-nets.uci start_service
expect_line "open_instance cfg01"
expect_line "param command /usr/sbin/siproxd-rs -f -u /etc/config/siproxd -s if_inbound=br-guest -s if_outbound=phy0-sta0 -s user=nobody -s registration_file=/var/lib/siproxd-rs/siproxd-rs.reg"
rm -f "$OUT"

CASE=wan-down
run_init wan-down.uci start_service
expect_no "open_instance"
expect_line "logger -t siproxd-rs -p daemon.warn no device for interface_outbound 'wan6' (down?); not started"
expect_line "rc 1"
rm -f "$OUT"

CASE=no-section
run_init no-section.uci start_service
expect_no "open_instance"
expect_line "rc 1"
rm -f "$OUT"

CASE=triggers
run_init default.uci service_triggers
expect_line "reload_trigger siproxd"
expect_line "interface_trigger wan"
expect_line "interface_trigger lan"
expect_line "rc 0"
rm -f "$OUT"

CASE=triggers-custom
run_init custom-nets.uci service_triggers
expect_line "interface_trigger wwan"
expect_line "interface_trigger guest"
rm -f "$OUT"

if [ "$fails" = 0 ]; then
	echo "init-harness: ok ($checks checks)"
else
	echo "init-harness: $fails of $checks checks FAILED"
	exit 1
fi
