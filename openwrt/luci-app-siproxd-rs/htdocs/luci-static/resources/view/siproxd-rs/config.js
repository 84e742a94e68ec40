'use strict';
'require view';
'require form';
'require tools.widgets as widgets';

// The form for /etc/config/siproxd: option names are the siproxd directives (the -u reader
// takes each option as the directive of the same name). Every directive that has an effect
// in this version is here, each with a validator and a help text; tests/openwrt/luci-check.js
// compares the list with src/config/directives.rs and names the few left out and why
// (process settings procd owns, SIP over TCP and the plugins, which do not exist yet: they
// get their own tab when they land).

function isIPv4(s) {
	return /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/.test(s);
}

// Eight groups of 1..4 hex digits, or fewer with one '::'; the last two may be an IPv4 address.
function isIPv6(s) {
	var halves = s.split('::');
	if (halves.length > 2)
		return false;
	var groups = 0;
	for (var h = 0; h < halves.length; h++) {
		if (halves[h] === '')
			continue;
		var parts = halves[h].split(':');
		for (var i = 0; i < parts.length; i++) {
			var last = (h == halves.length - 1 && i == parts.length - 1);
			if (last && isIPv4(parts[i]))
				groups += 2;
			else if (/^[0-9a-fA-F]{1,4}$/.test(parts[i]))
				groups++;
			else
				return false;
		}
	}
	return halves.length == 2 ? groups < 8 : groups == 8;
}

// `addr[/prefix]` entries separated by commas, as the proxy's ACL reader takes them
// (src/acl.rs): IPv4 or IPv6, no host names. Empty means "no restriction".
function validateNetworks(section_id, value) {
	if (value == null || value === '')
		return true;
	var entries = String(value).split(',');
	for (var i = 0; i < entries.length; i++) {
		var e = entries[i].trim();
		var m = e.match(/^([^/]+)(?:\/(\d{1,3}))?$/);
		if (!m)
			return _('"%s" is not an address or network (e.g. 192.168.1.0/24)').replace('%s', e || ',');
		var v4 = isIPv4(m[1]), v6 = !v4 && isIPv6(m[1]);
		if (!v4 && !v6)
			return _('"%s" is not an IPv4 or IPv6 address (host names are not resolved)').replace('%s', m[1]);
		if (m[2] != null && +m[2] > (v4 ? 32 : 128))
			return _('prefix /%s is too long for this address').replace('%s', m[2]);
	}
	return true;
}

// The RTP range needs low <= high; each end checks against the other's current form value.
function validatePortRange(section_id, value) {
	if (value == null || value === '')
		return true;
	var low = +this.section.formvalue(section_id, 'rtp_port_low') || 7070;
	var high = +this.section.formvalue(section_id, 'rtp_port_high') || 7089;
	if (low > high)
		return _('The first RTP port must not be above the last (%d > %d)').replace('%d', low).replace('%d', high);
	if (high - low < 1)
		return _('The range needs at least two ports (one RTP/RTCP pair)');
	return true;
}

// debug_level: a bit mask, decimal, 0x hexadecimal or 0 octal, or -1 for every class.
function validateMask(section_id, value) {
	if (value == null || value === '' || /^(-1|0[xX][0-9a-fA-F]{1,8}|0[0-7]*|[1-9]\d{0,9})$/.test(String(value).trim()))
		return true;
	return _('Expecting a bit mask such as 0x00000100, or -1 for all');
}

function validatePath(section_id, value) {
	if (value == null || value === '' || /^\/\S*$/.test(value))
		return true;
	return _('Expecting an absolute path without spaces, e.g. /var/run/siproxd-rs/status.json');
}

function validateUser(section_id, value) {
	if (value == null || value === '' || /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/.test(value))
		return true;
	return _('Expecting a system user name, e.g. nobody');
}

function validateDevice(section_id, value) {
	if (value == null || value === '' || /^[A-Za-z0-9_.@:-]{1,15}$/.test(value))
		return true;
	return _('Expecting a network device name of at most 15 characters, e.g. pppoe-wan');
}

var PLUGINS = [ 'demo', 'logcall', 'shortdial', 'defaulttarget', 'fix_bogus_via', 'fix_DTAG',
	'stun', 'prefix', 'regex', 'regex_body', 'codecfilter', 'stripheader', 'siptrunk',
	'fix_fbox_anoncall', 'stats', 'blacklist' ];

function validatePlugin(section_id, value) {
	if (value == null || value === '')
		return true;
	var name = String(value).replace(/^.*\//, '').replace(/\.(so|la)$/, '').replace(/^plugin_/, '');
	if (PLUGINS.indexOf(name) >= 0 && /^(.*\/)?plugin_/.test(value))
		return true;
	return _('Expecting a built-in plugin by its siproxd name, e.g. plugin_logcall.so');
}

return view.extend({
	render: function() {
		var m, s, o;

		m = new form.Map('siproxd', _('SIP Proxy'),
			_('siproxd-rs relays SIP and RTP for phones behind this router. ' +
			  'Do not load the kernel SIP helper (nf_nat_sip) at the same time.'));

		s = m.section(form.TypedSection, 'siproxd', _('General'));
		s.anonymous = true;
		s.addremove = false;

		s.tab('general', _('General Settings'));
		s.tab('rtp', _('Media (RTP)'));
		s.tab('access', _('Access'));
		s.tab('auth', _('Authentication'));
		s.tab('outbound', _('Provider routing'));
		s.tab('log', _('Logging'));
		s.tab('advanced', _('Advanced'));

		// --- General ---
		o = s.taboption('general', widgets.NetworkSelect, 'interface_inbound', _('Inbound network'),
			_('Network the phones are on.'));
		o.nocreate = true;
		o.default = 'lan';

		o = s.taboption('general', widgets.NetworkSelect, 'interface_outbound', _('Outbound network'),
			_('Network towards the SIP provider (the Internet).'));
		o.nocreate = true;
		o.default = 'wan';

		o = s.taboption('general', form.Value, 'sip_listen_port', _('SIP port'),
			_('UDP port the phones send SIP to, and the provider reaches the proxy on.'));
		o.datatype = 'range(1,65535)';
		o.placeholder = '5060';

		o = s.taboption('general', form.Flag, 'firewall', _('Open the firewall'),
			_('While running, open the SIP port and the RTP range on the outbound network\'s ' +
			  'firewall zone. Turn off to manage the firewall yourself.'));
		o.default = '1';
		o.rmempty = false;

		o = s.taboption('general', form.Value, 'autosave_registrations', _('Save registrations every (s)'),
			_('How often the registered phones are saved to the registration file, so a restarted proxy still knows them. 0: only at stop.'));
		o.datatype = 'uinteger';
		o.placeholder = '300';

		o = s.taboption('general', form.Value, 'default_expires', _('Default registration time (s)'),
			_('Used when a phone registers without saying for how long.'));
		o.datatype = 'uinteger';
		o.placeholder = '3600';

		o = s.taboption('general', form.Value, 'max_registrations', _('Most registrations'),
			_('Size of the registration table (phone/account pairs).'));
		o.datatype = 'range(1,65536)';
		o.placeholder = '512';

		// --- Media (RTP) ---
		o = s.taboption('rtp', form.ListValue, 'rtp_proxy_enable', _('Relay media'),
			_('Relay the calls\' audio and video through this router. Without it, media must find its own way through NAT.'));
		o.value('1', _('Yes (built-in relay)'));
		o.value('0', _('No'));
		o.default = '1';

		o = s.taboption('rtp', form.Value, 'rtp_port_low', _('RTP ports from'),
			_('First UDP port of the media range.'));
		o.datatype = 'port';
		o.placeholder = '7070';
		o.validate = validatePortRange;

		o = s.taboption('rtp', form.Value, 'rtp_port_high', _('RTP ports to'),
			_('Last UDP port of the media range: two ports per call leg, so 20 ports carry about 5 calls.'));
		o.datatype = 'port';
		o.placeholder = '7089';
		o.validate = validatePortRange;

		o = s.taboption('rtp', form.Value, 'rtp_timeout', _('RTP timeout (s)'),
			_('A stream silent this long is closed (at least 10 s).'));
		o.datatype = 'uinteger';
		o.placeholder = '300';

		o = s.taboption('rtp', form.Value, 'max_rtp_streams', _('Most media streams'),
			_('Size of the relay table; each call needs two per audio or video stream.'));
		o.datatype = 'range(1,65536)';
		o.placeholder = '1024';

		o = s.taboption('rtp', form.Value, 'rtp_dscp', _('RTP DSCP'),
			_('DiffServ code point of relayed media, 0..63 (46 = expedited forwarding). 0: unmarked.'));
		o.datatype = 'range(0,63)';
		o.placeholder = '0';

		o = s.taboption('rtp', form.Value, 'rtp_input_dejitter', _('Input dejitter (µs)'),
			_('Delay for media towards the phones; accepted for siproxd compatibility, but this relay forwards at once (and logs a warning when set).'));
		o.datatype = 'range(0,1500000)';
		o.placeholder = '0';

		o = s.taboption('rtp', form.Value, 'rtp_output_dejitter', _('Output dejitter (µs)'),
			_('Delay for media towards the Internet; accepted for siproxd compatibility, but this relay forwards at once (and logs a warning when set).'));
		o.datatype = 'range(0,1500000)';
		o.placeholder = '0';

		// --- Access ---
		o = s.taboption('access', form.Value, 'hosts_allow_reg', _('May register'),
			_('Comma-separated addresses or networks, e.g. 192.168.1.0/24, fd00::/64. Empty: everyone.'));
		o.validate = validateNetworks;
		o = s.taboption('access', form.Value, 'hosts_allow_sip', _('May send SIP'),
			_('Comma-separated addresses or networks allowed to use the proxy. Empty: everyone.'));
		o.validate = validateNetworks;
		o = s.taboption('access', form.Value, 'hosts_deny_sip', _('Denied SIP'),
			_('Comma-separated addresses or networks always refused; wins over the lists above.'));
		o.validate = validateNetworks;

		// --- Authentication ---
		o = s.taboption('auth', form.Value, 'proxy_auth_realm', _('Realm'),
			_('When set, phones registering with the proxy itself (registrar mode) must log in with a password.'));
		o.datatype = 'maxlength(64)';

		o = s.taboption('auth', form.Value, 'proxy_auth_passwd', _('Password'),
			_('One password for every phone. Use a password file for one per phone.'));
		o.password = true;
		o.datatype = 'maxlength(128)';

		o = s.taboption('auth', form.Value, 'proxy_auth_pwfile', _('Password file'),
			_('File with one "user password" line per phone (# starts a comment); wins over the single password.'));
		o.validate = validatePath;
		o.placeholder = '/etc/siproxd_passwd.cfg';

		o = s.taboption('auth', form.Flag, 'proxy_auth_sha256', _('Offer SHA-256'),
			_('Also offer the SHA-256 digest (RFC 8760) besides MD5.'));
		o.default = '0';

		// --- Provider routing ---
		o = s.taboption('outbound', form.Value, 'host_outbound', _('Public address'),
			_('Address to put in SIP and SDP instead of the outbound interface\'s, e.g. a fixed public IP or a DynDNS name.'));
		o.datatype = 'host';

		o = s.taboption('outbound', form.Value, 'outbound_proxy_host', _('Outbound proxy'),
			_('Send every request leaving towards the Internet through this SIP proxy.'));
		o.datatype = 'host';

		o = s.taboption('outbound', form.Value, 'outbound_proxy_port', _('Outbound proxy port'),
			_('Its port (5060 when empty).'));
		o.datatype = 'range(1,65535)';
		o.placeholder = '5060';

		o = s.taboption('outbound', form.ListValue, 'outbound_proxy_transport', _('Outbound proxy transport'),
			_('How to reach it: UDP or TCP. Automatic: as the phone\'s request came, unless the address it dials names a transport.'));
		o.value('', _('Automatic'));
		o.value('udp', 'UDP');
		o.value('tcp', 'TCP');
		o.optional = true;

		o = s.taboption('outbound', form.DynamicList, 'outbound_domain_name', _('Per-domain proxy: domains'),
			_('Calls and registrations from these domains (the From domain) go through the proxy at the same position below.'));
		o.datatype = 'hostname';
		o = s.taboption('outbound', form.DynamicList, 'outbound_domain_host', _('Per-domain proxy: hosts'),
			_('The proxy for the domain at the same position above.'));
		o.datatype = 'host';
		o = s.taboption('outbound', form.DynamicList, 'outbound_domain_port', _('Per-domain proxy: ports'),
			_('The port for the domain at the same position above.'));
		o.datatype = 'range(1,65535)';

		o = s.taboption('outbound', form.DynamicList, 'mask_host', _('Masquerade: real hosts'),
			_('Host names in a phone\'s registration (To address) to replace with the name at the same position below.'));
		o.datatype = 'host';
		o = s.taboption('outbound', form.DynamicList, 'masked_host', _('Masquerade: shown as'),
			_('The replacement for the host at the same position above.'));
		o.datatype = 'host';

		// --- Logging ---
		o = s.taboption('log', form.ListValue, 'silence_log', _('Syslog verbosity'),
			_('What goes to the system log (logread -e siproxd-rs).'));
		o.value('0', _('0: everything'));
		o.value('1', _('1: no debug'));
		o.value('2', _('2: warnings and errors'));
		o.value('3', _('3: errors only'));
		o.value('4', _('4: nothing'));
		o.default = '1';

		o = s.taboption('log', form.Value, 'debug_level', _('Debug classes'),
			_('Bit mask, e.g. 0x00000100 for configuration, -1 for all.'));
		o.validate = validateMask;
		o.placeholder = '0';

		o = s.taboption('log', form.Value, 'debug_port', _('Debug log port'),
			_('TCP port where up to 4 clients can follow the debug log. 0: off.'));
		o.datatype = 'port';
		o.placeholder = '0';

		o = s.taboption('log', form.Value, 'debug_bind', _('Debug log address'),
			_('Address the debug port listens on; default the inbound (LAN) address.'));
		o.datatype = 'ipaddr';

		o = s.taboption('log', form.Value, 'status_interval', _('Status every (s)'),
			_('How often the status page\'s data is written. 0: only when asked (the status page asks).'));
		o.datatype = 'uinteger';
		o.placeholder = '0';

		o = s.taboption('log', form.Value, 'status_file', _('Status file'),
			_('Where the status is written. The status page reads the default place only.'));
		o.validate = validatePath;
		o.placeholder = '/var/run/siproxd-rs/status.json';

		// --- Advanced ---
		o = s.taboption('advanced', form.Value, 'if_inbound', _('Inbound device'),
			_('Device name of the phones\' network; set only to override the inbound network above.'));
		o.validate = validateDevice;
		o.placeholder = 'br-lan';

		o = s.taboption('advanced', form.Value, 'if_outbound', _('Outbound device'),
			_('Device name towards the provider; set only to override the outbound network above.'));
		o.validate = validateDevice;
		o.placeholder = 'pppoe-wan';

		o = s.taboption('advanced', form.ListValue, 'use_rport', _('Use rport'),
			_('Ask for responses to come back to the port a request left from (;rport in the proxy\'s Via, RFC 3581): 1 on messages from the Internet, 2 on messages from the phones, 3 both.'));
		o.value('0', '0');
		o.value('1', '1');
		o.value('2', '2');
		o.value('3', '3');
		o.default = '0';

		o = s.taboption('advanced', form.Flag, 'obscure_loops', _('Hide loop detection'),
			_('Rename the Call-ID of outgoing calls, so that a call forwarded back to the same phone looks like a new call.'));
		o.default = '0';

		o = s.taboption('advanced', form.Value, 'ua_string', _('User-Agent'),
			_('Replace the User-Agent of messages leaving towards the Internet with this text, to hide the phone type.'));
		o.datatype = 'maxlength(128)';

		o = s.taboption('advanced', form.Value, 'sip_dscp', _('SIP DSCP'),
			_('DiffServ code point of SIP packets, 0..63 (24 = CS3). 0: unmarked.'));
		o.datatype = 'range(0,63)';
		o.placeholder = '0';

		o = s.taboption('advanced', form.Value, 'max_tcp_connections', _('Most TCP connections'),
			_('SIP over TCP: size of the connection table (phones and providers together). A full table closes the connection idle longest.'));
		o.datatype = 'range(1,65536)';
		o.placeholder = '256';

		o = s.taboption('advanced', form.Value, 'tcp_timeout', _('TCP idle timeout (s)'),
			_('A SIP-over-TCP connection silent this long is closed. 0: never.'));
		o.datatype = 'uinteger';
		o.placeholder = '600';

		o = s.taboption('advanced', form.Value, 'tcp_connect_timeout', _('TCP connect timeout (ms)'),
			_('How long a connection to a provider may take to open before the message waiting for it is dropped.'));
		o.datatype = 'range(1,3600000)';
		o.placeholder = '500';

		o = s.taboption('advanced', form.Value, 'tcp_keepalive', _('TCP keepalive (s)'),
			_('On connections this router opened, send a keepalive (CRLFCRLF) after this much silence, so NAT on the way keeps them. 0: off.'));
		o.datatype = 'uinteger';
		o.placeholder = '0';

		o = s.taboption('advanced', form.Value, 'registration_file', _('Registration file'),
			_('Where registrations are saved; default /var/lib/siproxd-rs/siproxd-rs.reg.'));
		o.validate = validatePath;

		o = s.taboption('advanced', form.Value, 'user', _('Run as user'),
			_('The proxy drops root to this user after opening its ports; default nobody.'));
		o.validate = validateUser;
		o.placeholder = 'nobody';

		o = s.taboption('advanced', form.Value, 'chrootjail', _('Chroot directory'),
			_('Directory the proxy locks itself into after start. Usually not needed: the service runs in a jail already.'));
		o.validate = validatePath;

		o = s.taboption('advanced', form.DynamicList, 'load_plugin', _('Plugins'),
			_('Built-in plugins by their siproxd names, e.g. plugin_logcall.so. Accepted, but plugins have no effect yet in this version.'));
		o.validate = validatePlugin;

		return m.render();
	}
});
