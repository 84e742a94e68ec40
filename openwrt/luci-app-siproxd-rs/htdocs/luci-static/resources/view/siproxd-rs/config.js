'use strict';
'require view';
'require form';
'require tools.widgets as widgets';

// The form for /etc/config/siproxd: option names are the siproxd directives (the -u reader
// takes each option as the directive of the same name). Every directive that has an effect
// in this version is here, each with a validator and a help text; tests/openwrt/luci-check.js
// compares the list with src/config/directives.rs and names the few left out and why
// (process settings procd owns, and the plugins not built in yet). The plugins have a
// section of their own below the main one, a tab per plugin with its settings.

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

// A SIP URI with a host, as the plugins take it (e.g. sip:100@192.168.1.20:5060).
function validateSipUri(section_id, value) {
	if (value == null || value === '' || /^sips?:([^\s@<>"]+@)?([A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?([;?][^\s<>"]*)?$/.test(value))
		return true;
	return _('Expecting a SIP URI such as sip:100@192.168.1.20');
}

// A regular expression: the proxy takes POSIX extended ones (case-insensitive); the browser
// checks the syntax the two share (brackets, groups, repetitions), and the proxy refuses the
// rest at start with the option's name.
function validateRegex(section_id, value) {
	if (value == null || value === '')
		return true;
	try {
		new RegExp(String(value));
		return true;
	} catch (e) {
		return _('Not a regular expression: %s').replace('%s', e.message);
	}
}

// plugin_shortdial_akey: the shape of the short codes, e.g. *00 (first character, then as
// many digits as the codes have).
function validateShortKey(section_id, value) {
	if (value == null || value === '' || /^[^\s@]\d{1,4}$/.test(value))
		return true;
	return _('Expecting one character and the digits of the code, e.g. *00');
}

// plugin_shortdial_entry: "user", "user@host", or "user@" (keeps the dialled host).
function validateShortEntry(section_id, value) {
	if (value == null || value === '' || /^[^\s@<>;]+(@([A-Za-z0-9._-]+(:\d{1,5})?)?)?$/.test(value))
		return true;
	return _('Expecting a number or user, optionally with @host, e.g. 0301234 or bob@pbx.lan');
}

// plugin_prefix_akey: what is put before the dialled number.
function validateDialPrefix(section_id, value) {
	if (value == null || value === '' || /^[^\s@<>;:]{1,32}$/.test(value))
		return true;
	return _('Expecting the digits to dial before the number, e.g. 0');
}

// plugin_codecfilter_blacklist: part of a codec name as in a=rtpmap (e.g. G729, opus).
function validateCodec(section_id, value) {
	if (value == null || value === '' || /^[A-Za-z0-9._\/-]{1,32}$/.test(value))
		return true;
	return _('Expecting (part of) a codec name, e.g. G729');
}

// plugin_stripheader_remove: "Header" or "Header:value".
function validateHeader(section_id, value) {
	if (value == null || value === '' || /^[A-Za-z0-9!%'*+._`~-]+(:.*)?$/.test(value))
		return true;
	return _('Expecting a header name, optionally with :value, e.g. Allow-Events or Supported:timer');
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

		o = s.taboption('rtp', form.Flag, 'rtp_latch_any_source', _('Accept media from any address'),
			_('For providers that send audio from another address than the one they announce (the log says so when it happens): the first sender is taken. Off protects calls better against injected audio.'));
		o.default = '0';

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
		o = s.taboption('access', form.Value, 'wan_request_rate_limit', _('WAN request limit (per s)'),
			_('Requests per second accepted from one Internet address; more are dropped unread, so a scanner cannot keep the router busy. 0: no limit.'));
		o.datatype = 'range(0,1000000)';
		o.placeholder = '50';

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
			_('How to reach it: UDP or TCP. Automatic: as the phone\'s request came, unless the address it dials names a transport. UDP or TCP: it takes both; as Automatic, and a request too large for UDP (over 1300 bytes) goes over TCP.'));
		o.value('', _('Automatic'));
		o.value('udp', 'UDP');
		o.value('tcp', 'TCP');
		o.value('auto', _('UDP or TCP'));
		o.optional = true;

		o = s.taboption('outbound', form.ListValue, 'outbound_family', _('Address family'),
			_('IPv4 or IPv6 towards the Internet when the WAN interface and the provider have both. Automatic: the WAN interface\'s first address family.'));
		o.value('', _('Automatic'));
		o.value('4', 'IPv4');
		o.value('6', 'IPv6');
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
		o = s.taboption('outbound', form.DynamicList, 'outbound_domain_transport', _('Per-domain proxy: transports'),
			_('Optional, one per domain above: udp, tcp or auto (UDP or TCP, as for the outbound proxy).'));
		o.validate = function(sid, v) { return !v || /^(udp|tcp|auto)$/i.test(v) || _('udp, tcp or auto'); };

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

		// --- Plugins: one tab per plugin with its settings ---
		s = m.section(form.TypedSection, 'siproxd', _('Plugins'),
			_('Plugins change how calls are routed or messages rewritten. Each runs only when enabled in the list on the first tab; a setting it needs and lacks stops the proxy at start with its name in the log.'));
		s.anonymous = true;
		s.addremove = false;

		s.tab('plugins', _('Enabled'));
		s.tab('demo', _('Demo'));
		s.tab('shortdial', _('Short dial'));
		s.tab('prefix', _('Prefix'));
		s.tab('regex', _('Number rewriting'));
		s.tab('defaulttarget', _('Default target'));
		s.tab('siptrunk', _('SIP trunk'));
		s.tab('regex_body', _('Body rewriting'));
		s.tab('codecfilter', _('Codec filter'));
		s.tab('stripheader', _('Strip headers'));
		s.tab('fixes', _('Router fixes'));
		s.tab('stun', _('STUN'));
		s.tab('stats', _('Statistics'));
		s.tab('blacklist', _('Blacklist'));

		o = s.taboption('plugins', form.DynamicList, 'load_plugin', _('Plugins'),
			_('Built-in plugins by their siproxd names, in the order they run, e.g. plugin_logcall.so (logs every call; no settings).'));
		o.validate = validatePlugin;

		o = s.taboption('demo', form.Value, 'plugin_demo_string', _('Text'),
			_('plugin_demo logs a line with this text for every message; it changes nothing.'));
		o.datatype = 'maxlength(256)';

		o = s.taboption('shortdial', form.Value, 'plugin_shortdial_akey', _('Short-code pattern'),
			_('A phone dialling a code of this shape (same length, same first character: *01, *02 for *00) is redirected to the entry of that number. Required by plugin_shortdial; real numbers of that shape can then not be dialled.'));
		o.validate = validateShortKey;
		o.placeholder = '*00';
		o = s.taboption('shortdial', form.DynamicList, 'plugin_shortdial_entry', _('Targets'),
			_('Entry 1 for code 1, entry 2 for code 2...: a number replaces the dialled one; number@host also the host.'));
		o.validate = validateShortEntry;

		o = s.taboption('prefix', form.Value, 'plugin_prefix_akey', _('Prefix'),
			_('plugin_prefix redirects every call of the phones to the dialled number with this prefix in front (e.g. 0 for an outside line). Required by the plugin.'));
		o.validate = validateDialPrefix;

		o = s.taboption('regex', form.DynamicList, 'plugin_regex_desc', _('Rule names'),
			_('plugin_regex: a name per rule, for the log; names, patterns and replacements pair up by position.'));
		o.datatype = 'maxlength(128)';
		o = s.taboption('regex', form.DynamicList, 'plugin_regex_pattern', _('Patterns'),
			_('Matched against the called address of the phones\' calls (e.g. sip:0301234@provider.net), POSIX extended, case-insensitive. The first rule that matches redirects the call.'));
		o.validate = validateRegex;
		o = s.taboption('regex', form.DynamicList, 'plugin_regex_replace', _('Replacements'),
			_('The new address for the rule at the same position; \\1 to \\9 insert the pattern\'s groups, e.g. sip:+49\\1@\\2.'));
		o.datatype = 'maxlength(2048)';

		o = s.taboption('defaulttarget', form.Value, 'plugin_defaulttarget_target', _('Target'),
			_('plugin_defaulttarget redirects calls for users nobody registered (otherwise refused) to this SIP address. Required by the plugin.'));
		o.validate = validateSipUri;
		o.placeholder = 'sip:100@192.168.1.20';
		o = s.taboption('defaulttarget', form.Flag, 'plugin_defaulttarget_log', _('Log redirects'),
			_('Write a line to the log for each redirected call.'));
		o.default = '0';

		o = s.taboption('siptrunk', form.DynamicList, 'plugin_siptrunk_name', _('Trunk names'),
			_('plugin_siptrunk: a name per trunk; names, accounts and number patterns pair up by position.'));
		o.datatype = 'maxlength(128)';
		o = s.taboption('siptrunk', form.DynamicList, 'plugin_siptrunk_account', _('Accounts'),
			_('The account a phone (e.g. a PBX) registers for the trunk, as in its registration, e.g. sip:12345@sip.provider.net.'));
		o.validate = validateSipUri;
		o = s.taboption('siptrunk', form.DynamicList, 'plugin_siptrunk_numbers_regex', _('Numbers'),
			_('Calls from the Internet for a number matching this pattern (POSIX extended, case-insensitive) go to the phone registered with the account at the same position, the dialled number kept.'));
		o.validate = validateRegex;

		o = s.taboption('regex_body', form.DynamicList, 'plugin_regex_body_desc', _('Rule names'),
			_('plugin_regex_body: a name per rule; names, patterns and replacements pair up by position.'));
		o.datatype = 'maxlength(128)';
		o = s.taboption('regex_body', form.DynamicList, 'plugin_regex_body_pattern', _('Patterns'),
			_('Matched against message bodies (e.g. the SDP), POSIX extended, case-insensitive; every matching rule applies.'));
		o.validate = validateRegex;
		o = s.taboption('regex_body', form.DynamicList, 'plugin_regex_body_replace', _('Replacements'),
			_('The replacement for the rule at the same position; \\1 to \\9 insert the pattern\'s groups.'));
		o.datatype = 'maxlength(2048)';

		o = s.taboption('codecfilter', form.DynamicList, 'plugin_codecfilter_blacklist', _('Removed codecs'),
			_('plugin_codecfilter removes codecs whose name contains this text (any case, e.g. G729) from the offers and answers of calls.'));
		o.validate = validateCodec;

		o = s.taboption('stripheader', form.DynamicList, 'plugin_stripheader_remove', _('Removed headers'),
			_('plugin_stripheader removes these headers (Name) or header values (Name:value) from forwarded messages.'));
		o.validate = validateHeader;

		o = s.taboption('blacklist', form.Value, 'plugin_blacklist_dbpath', _('State file'),
			_('plugin_blacklist blocks addresses that keep failing to register. Its state is kept in this path with .state instead of .sqlite (a siproxd SQLite file there is left alone), addresses to block by hand are read from the same name with .manual (one address or network per line, re-read on reload). Default /var/lib/siproxd/blacklist.sqlite.'));
		o.validate = validatePath;
		o = s.taboption('blacklist', form.Value, 'plugin_blacklist_hitcount', _('Failures allowed'),
			_('An address is blocked after more failed registrations than this.'));
		o.datatype = 'uinteger';
		o.placeholder = '10';
		o = s.taboption('blacklist', form.Value, 'plugin_blacklist_register_window', _('Answer window (s)'),
			_('A registrar\'s refusal counts only if it comes within this time of the registration.'));
		o.datatype = 'uinteger';
		o.placeholder = '30';
		o = s.taboption('blacklist', form.Value, 'plugin_blacklist_duration', _('Block for (s)'),
			_('A blocked address is let in again after this long without sending anything. 0: never.'));
		o.datatype = 'uinteger';
		o.placeholder = '3600';
		o = s.taboption('blacklist', form.Flag, 'plugin_blacklist_simulate', _('Only log'),
			_('Log what would be blocked, block nothing.'));
		o.default = '0';

		o = s.taboption('fixes', form.Value, 'plugin_fix_bogus_via_networks', _('Bogus Via networks'),
			_('plugin_fix_bogus_via: requests from the Internet whose Via names an address in these networks are answered to their real source. Comma-separated, e.g. 10.0.0.0/8, 192.168.0.0/16.'));
		o.validate = validateNetworks;
		o = s.taboption('fixes', form.Value, 'plugin_fix_DTAG_networks', _('Deutsche Telekom networks'),
			_('plugin_fix_DTAG: repairs the broken Via of responses from these networks. Comma-separated, e.g. 217.0.23.0/24.'));
		o.validate = validateNetworks;
		o = s.taboption('fixes', form.Value, 'plugin_fix_fbox_anoncall_networks', _('Fritzbox networks'),
			_('plugin_fix_fbox_anoncall: fixes the Contact of Fritzbox phones in these networks answering anonymous calls. Comma-separated, e.g. 192.168.178.0/24.'));
		o.validate = validateNetworks;

		o = s.taboption('stun', form.Value, 'plugin_stun_server', _('STUN server'),
			_('plugin_stun asks this server (name or address) for the router\'s public address when the router sits behind another NAT (e.g. the provider\'s box); calls and registrations then carry that address. Required by the plugin.'));
		o.datatype = 'host';
		o.placeholder = 'stun.example.net';
		o = s.taboption('stun', form.Value, 'plugin_stun_port', _('Port'),
			_('UDP port of the STUN server.'));
		o.datatype = 'port';
		o.placeholder = '3478';
		o = s.taboption('stun', form.Value, 'plugin_stun_period', _('Ask every (s)'),
			_('Seconds between questions once the server has answered; unanswered, it is asked again every 10 s.'));
		o.datatype = 'range(1,86400)';
		o.placeholder = '300';

		o = s.taboption('stats', form.Value, 'plugin_stats_to_syslog', _('Log every (s)'),
			_('plugin_stats writes a STATS line (streams, calls, phones in calls, registered phones) to the system log this often; -1 only when asked (SIGUSR1, e.g. by the status page), 0 never.'));
		o.datatype = 'range(-1,86400)';
		o.placeholder = '0';
		o = s.taboption('stats', form.Value, 'plugin_stats_to_file', _('File every (s)'),
			_('As above, into the statistics file, with one line per media stream.'));
		o.datatype = 'range(-1,86400)';
		o.placeholder = '0';
		o = s.taboption('stats', form.Value, 'plugin_stats_filename', _('Statistics file'),
			_('Where the statistics are written (replaced each time); required when the file is written.'));
		o.datatype = 'maxlength(256)';
		o.placeholder = '/tmp/siproxd-rs.stats';

		return m.render();
	}
});
