#!/bin/sh
# shellcheck disable=SC2317  # the stubs are called by the sourced init script
# init-harness.sh — runs openwrt/files/siproxd-rs.init against stubbed procd, UCI and
# network.sh functions and asserts what procd would be told: the exact command line,
# params, jail mounts, triggers, directory set-up and published firewall rules, for each
# UCI fixture. Zones come from fixtures/firewall.uci, through a fake fw4/fw3 or a uci stub.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
INIT=${INIT:-$HERE/../../openwrt/files/siproxd-rs.init}
fails=0
checks=0

# Runs the init script's $2 (start_service, service_triggers, ...) for fixture $1 in a
# subshell; everything the stubs see is written to $OUT, one record per line. $4 is the
# firewall tool the fake root has: fw4 (default), fw3, or none (the script then asks uci).
run_init() {
	fixture=$1
	fn=$2
	fwtool=${4:-fw4}
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
	# fw4/fw3 stand-in: "-q network NET" / "-q device DEV" print the covering zone
	if [ "$fwtool" != none ]; then
		{
			printf '#!/bin/sh\nME=%s OUT=%s AWK=%s FIX=%s\n' "$fwtool" "$OUT" "$HERE/uci2sh.awk" "$HERE/fixtures/firewall.uci"
			cat <<'FW'
echo "$ME $*" >>"$OUT"
[ "$1" = -q ] && shift
kind=$1 name=$2
# netifd knows ppp0 as the device of network wan
[ "$kind/$name" = device/ppp0 ] && kind=network name=wan
eval "$(awk -f "$AWK" "$FIX")"
for s in $CONFIG_SECTIONS; do
	eval "t=\$CONFIG_${s}_TYPE z=\${CONFIG_${s}_name-} v=\${CONFIG_${s}_$kind-}"
	[ "$t" = zone ] || continue
	for w in $v; do
		[ "$w" = "$name" ] && echo "$z" && exit 0
	done
done
exit 1
FW
		} >"$ROOT/sbin/$fwtool"
		command chmod +x "$ROOT/sbin/$fwtool"
	fi
	# network.sh stand-in: lan is a bridge, wan a PPPoE link; wan6/other names are down
	cat >"$ROOT/lib/functions/network.sh" <<'NET'
network_get_device() {
	case $2 in
	lan) eval "$1=br-lan" ;;
	wan) eval "$1=pppoe-wan" ;;
	guest) eval "$1=br-guest" ;;
	wwan) eval "$1=phy0-sta0" ;;
	lte) eval "$1=wwan0" ;;
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
		config_get_bool() {
			config_get _b "$2" "$3" "$4"
			# shellcheck disable=SC2154  # _b is set by config_get
			case $_b in
			1 | on | true | yes | enabled) _b=1 ;;
			0 | off | false | no | disabled) _b=0 ;;
			*) _b=$4 ;;
			esac
			eval "$1=\$_b"
		}
		# uci stand-in for "uci -q get firewall.@zone[N]" and "...@zone[N].OPTION"
		uci() {
			echo "uci$(q "$@")" >>"$OUT"
			[ "$1" = -q ] && shift
			[ "$1" = get ] || return 1
			(
				k=${2#"firewall.@zone["}
				n=${k%%]*}
				o=${k#*]}
				o=${o#.}
				eval "$(awk -f "$HERE/uci2sh.awk" "$HERE/fixtures/firewall.uci")"
				i=0
				for s in $CONFIG_SECTIONS; do
					eval "t=\$CONFIG_${s}_TYPE"
					# shellcheck disable=SC2154
					[ "$t" = zone ] || continue
					if [ "$i" = "$n" ]; then
						[ -n "$o" ] || exit 0
						eval "v=\${CONFIG_${s}_$o-}"
						# shellcheck disable=SC2154
						[ -n "$v" ] && echo "$v"
						exit
					fi
					i=$((i + 1))
				done
				exit 1
			)
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
		procd_open_data() { echo "open_data" >>"$OUT"; }
		procd_close_data() { echo "close_data" >>"$OUT"; }
		procd_set_config_changed() { echo "config_changed$(q "$@")" >>"$OUT"; }
		json_add_array() { echo "json_array$(q "$@")" >>"$OUT"; }
		json_close_array() { echo "json_close_array" >>"$OUT"; }
		# one object becomes one record: "object k=v k=v ..."
		json_add_object() { _obj="object"; }
		json_add_string() { _obj="$_obj $1=$2"; }
		json_close_object() { echo "$_obj" >>"$OUT"; }
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
# expect_data LINE...: the published data is exactly these records, inside the instance
expect_data() {
	checks=$((checks + 1))
	want=$(printf '%s\n' open_data "json_array firewall" "$@" json_close_array close_data)
	got=$(sed -n '/^open_data$/,/^close_data$/p' "$OUT")
	inst=$(sed -n '/^open_instance/,/^close_instance$/p' "$OUT" | sed -n '/^open_data$/,/^close_data$/p')
	if [ "$got" != "$want" ] || [ "$inst" != "$want" ]; then
		echo "FAIL [$CASE]: published data differs (or is outside the instance)"
		printf '%s\n' "$want" | sed 's/^/    want: /'
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

CASE=blacklist
run_init blacklist.uci start_service jail
expect_line "param command /usr/sbin/siproxd-rs -f -u /etc/config/siproxd -s if_inbound=br-lan -s if_outbound=pppoe-wan -s user=nobody -s registration_file=/var/lib/siproxd-rs/siproxd-rs.reg -s plugin_blacklist_dbpath=/var/lib/siproxd-rs/blacklist.sqlite"
expect_line "jail_mount_rw /var/lib/siproxd-rs /var/run/siproxd-rs"
[ "$(grep -c '^jail_mount' "$OUT")" = 2 ] || {
	echo "FAIL [$CASE]: extra jail mounts"
	fails=$((fails + 1))
}
rm -f "$OUT"
run_init blacklist-own.uci start_service jail
expect_line "param command /usr/sbin/siproxd-rs -f -u /etc/config/siproxd -s if_inbound=br-lan -s if_outbound=pppoe-wan -s user=nobody -s registration_file=/var/lib/siproxd-rs/siproxd-rs.reg"
expect_line "jail_mount_rw /etc/siproxd"
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

# --- firewall rules published for fw4 (procd service data) ---
SIP_WAN="object type=rule name=siproxd-rs-sip src=wan proto=tcp udp dest_port=5060 target=ACCEPT"
RTP_WAN="object type=rule name=siproxd-rs-rtp src=wan proto=udp dest_port=7070-7089 target=ACCEPT"

CASE=fw-default
run_init default.uci start_service
expect_line "fw4 -q network wan"
expect_data "$SIP_WAN" "$RTP_WAN"
expect_no "src=lan"
expect_no "not opened\|nothing opened"
expect_line "rc 0"
rm -f "$OUT"

CASE=fw-fw3
run_init default.uci start_service "" fw3
expect_line "fw3 -q network wan"
expect_data "$SIP_WAN" "$RTP_WAN"
rm -f "$OUT"

CASE=fw-uci
run_init default.uci start_service "" none
expect_line "uci -q get firewall.@zone[1].network"
expect_no "^fw[34] "
expect_data "$SIP_WAN" "$RTP_WAN"
rm -f "$OUT"

# the zone, not the network name: wwan is in zone sta; nothing on the inbound zone (guest)
CASE=fw-custom-nets
run_init custom-nets.uci start_service
expect_line "fw4 -q network wwan"
expect_data "object type=rule name=siproxd-rs-sip src=sta proto=tcp udp dest_port=5060 target=ACCEPT" \
	"object type=rule name=siproxd-rs-rtp src=sta proto=udp dest_port=7070-7089 target=ACCEPT"
expect_no "src=guest"
rm -f "$OUT"

CASE=fw-custom-nets-uci
run_init custom-nets.uci start_service "" none
expect_data "object type=rule name=siproxd-rs-sip src=sta proto=tcp udp dest_port=5060 target=ACCEPT" \
	"object type=rule name=siproxd-rs-rtp src=sta proto=udp dest_port=7070-7089 target=ACCEPT"
rm -f "$OUT"

# an explicit if_outbound is looked up as a device; own SIP port and RTP range
CASE=fw-explicit
run_init explicit.uci start_service
expect_line "fw4 -q device ppp0"
expect_data "object type=rule name=siproxd-rs-sip src=wan proto=tcp udp dest_port=5070 target=ACCEPT" \
	"object type=rule name=siproxd-rs-rtp src=wan proto=udp dest_port=10000-10999 target=ACCEPT"
rm -f "$OUT"

# no zone lists the device: say so, open nothing, run anyway
CASE=fw-explicit-uci
run_init explicit.uci start_service "" none
expect_line "logger -t siproxd-rs -p daemon.warn no firewall zone covers 'ppp0'; nothing opened in the firewall"
expect_no "^open_data"
expect_line "open_instance general"
expect_line "rc 0"
rm -f "$OUT"

CASE=fw-device-uci
run_init tun-device.uci start_service "" none
expect_line "uci -q get firewall.@zone[3].device"
expect_data "object type=rule name=siproxd-rs-sip src=sta proto=tcp udp dest_port=5060 target=ACCEPT" \
	"object type=rule name=siproxd-rs-rtp src=sta proto=udp dest_port=7070-7089 target=ACCEPT"
rm -f "$OUT"

CASE=fw-no-zone
run_init no-zone.uci start_service
expect_line "fw4 -q network lte"
expect_line "logger -t siproxd-rs -p daemon.warn no firewall zone covers 'lte'; nothing opened in the firewall"
expect_no "^open_data"
expect_line "param command /usr/sbin/siproxd-rs -f -u /etc/config/siproxd -s if_inbound=br-lan -s if_outbound=wwan0 -s user=nobody -s registration_file=/var/lib/siproxd-rs/siproxd-rs.reg"
expect_line "rc 0"
rm -f "$OUT"

# option firewall '0': no lookup, no data, the proxy still starts
CASE=fw-off
run_init fw-off.uci start_service
expect_no "^fw4 "
expect_no "^open_data"
expect_no "^json"
expect_line "open_instance general"
expect_line "rc 0"
rm -f "$OUT"

# an even high bound opens its RTCP port too; a SIP port that is no port is not opened
CASE=fw-ports
run_init fw-ports.uci start_service
expect_data "object type=rule name=siproxd-rs-rtp src=wan proto=udp dest_port=7070-7091 target=ACCEPT"
expect_line "logger -t siproxd-rs -p daemon.warn sip_listen_port '70000' is not a port; SIP not opened in the firewall"
rm -f "$OUT"

CASE=fw-bad-ports
run_init fw-bad-ports.uci start_service
expect_line "logger -t siproxd-rs -p daemon.warn RTP range '9000'-'8000' is not a port range; RTP not opened in the firewall"
expect_no "^open_data"
expect_line "rc 0"
rm -f "$OUT"

# the firewall re-reads the rules after a start (also a reload) and a stop
for fn in service_started stop_service; do
	CASE=fw-$fn
	run_init default.uci "$fn"
	expect_line "config_changed firewall"
	expect_line "rc 0"
	rm -f "$OUT"
done

# SIP is opened for tcp and udp, RTP for udp only
CASE=fw-tcp-udp
run_init default.uci start_service
expect_data "object type=rule name=siproxd-rs-sip src=wan proto=tcp udp dest_port=5060 target=ACCEPT" "$RTP_WAN"
rm -f "$OUT"

if [ "$fails" = 0 ]; then
	echo "init-harness: ok ($checks checks)"
else
	echo "init-harness: $fails of $checks checks FAILED"
	exit 1
fi
