'use strict';
'require view';
'require fs';
'require poll';
'require rpc';
'require dom';

// Status page for a router owner's three questions: are my phones registered, is a call up
// and does its audio flow both ways, did anything go wrong. Data: procd's service state and
// the proxy's snapshot /var/run/siproxd-rs/status.json (format: src/status/mod.rs), which it
// writes every status_interval seconds and on SIGUSR1; the page asks for a fresh one with
// SIGUSR1 (through procd) when the file has not changed since the last look.
//
// Each section is one function of SECTIONS; the public address (STUN), TCP connections and
// the blacklist join as one more section each when the snapshot carries them.
//
// LuCI's E() makes text nodes only of strings inside a children ARRAY; a bare string child
// is parsed as HTML. The snapshot holds Call-IDs and URIs from the network, so every E()
// here takes its children as an array (tests/openwrt/luci-check.js refuses anything else).
// Long values are cut to MAX_WORD characters (the whole value in the tooltip) and the page
// wraps anywhere, so nothing runs off a 360 px wide phone screen; tables carry data-title
// so LuCI stacks them on phones.

var STATUS_FILE = '/var/run/siproxd-rs/status.json';
var MAX_WORD = 32;
// A direction without RTP this long counts as stopped (phones with silence suppression
// still send comfort noise every few seconds).
var QUIET_S = 15;
var NBSP = '\u00a0';
var GROUP = '\u202f'; // narrow no-break space between thousands: unambiguous in every locale

var callServiceList = rpc.declare({
	object: 'service',
	method: 'list',
	params: [ 'name' ],
	expect: { 'siproxd-rs': {} }
});

var callServiceSignal = rpc.declare({
	object: 'service',
	method: 'signal',
	params: [ 'name', 'signal' ]
});

// --- formatting for people ---

// A value from the snapshot as safe, bounded text: a span with the full value as tooltip.
function val(s, max) {
	s = String(s == null ? '' : s);
	max = max || MAX_WORD;
	if (s.length <= max)
		return E('span', {}, [ s ]);
	return E('span', { 'title': s }, [ s.substr(0, max - 1) + '…' ]);
}

function count(n) {
	n = Math.floor(+n || 0);
	return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, GROUP);
}

function plural(n, one, many) {
	return count(n) + NBSP + (n == 1 ? one : many);
}

function bytes(n) {
	n = +n || 0;
	var units = [ 'KiB', 'MiB', 'GiB', 'TiB' ];
	if (n < 1024)
		return count(n) + NBSP + 'B';
	for (var i = 0; i < units.length; i++) {
		n /= 1024;
		if (n < 1024 || i == units.length - 1)
			return (Math.floor(n * 10) / 10).toFixed(1) + NBSP + units[i];
	}
}

// 45 s, 3 min 12 s, 2 h 5 min, 1 day 3 h: two units at most.
function duration(s) {
	s = Math.max(0, Math.floor(+s || 0));
	var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600),
	    m = Math.floor(s % 3600 / 60), r = s % 60;
	if (d > 0)
		return plural(d, _('day'), _('days')) + (h ? ' ' + h + NBSP + _('h') : '');
	if (h > 0)
		return h + NBSP + _('h') + (m ? ' ' + m + NBSP + _('min') : '');
	if (m > 0)
		return m + NBSP + _('min') + (r ? ' ' + r + NBSP + _('s') : '');
	return r + NBSP + _('s');
}

function table(titles, rows, empty) {
	var t = E('table', { 'class': 'table' }, [
		E('tr', { 'class': 'tr table-titles' }, titles.map(function(h) {
			return E('th', { 'class': 'th' }, [ h ]);
		}))
	]);
	rows.forEach(function(cells) {
		t.appendChild(E('tr', { 'class': 'tr' }, cells.map(function(c, i) {
			return E('td', { 'class': 'td', 'data-title': titles[i] }, [ c ]);
		})));
	});
	if (!rows.length)
		t.appendChild(E('tr', { 'class': 'tr placeholder' }, [
			E('td', { 'class': 'td' }, [ E('em', {}, [ empty ]) ])
		]));
	return t;
}

function warning(text) {
	return E('strong', { 'class': 'siproxd-warn', 'style': 'color:#c00' }, [ '⚠' + NBSP + text ]);
}

// --- the snapshot ---

function running(svc) {
	var inst = (svc && svc.instances) || {};
	return Object.keys(inst).some(function(k) { return inst[k] && inst[k].running; });
}

function parse(text) {
	if (!text)
		return null;
	try {
		var st = JSON.parse(text);
		return (st && typeof(st) === 'object' && !Array.isArray(st)) ? st : null;
	}
	catch (e) {
		return null;
	}
}

function taken(st) {
	return (+st.started_unix || 0) + (+st.uptime_s || 0);
}

function list(v) {
	return Array.isArray(v) ? v.filter(function(x) { return x && typeof(x) === 'object'; }) : [];
}

function stripScheme(uri) {
	return String(uri || '').replace(/^sips?:/i, '');
}

// The user part of a contact URI: what the phone calls itself.
function phoneName(contact) {
	var m = stripScheme(contact).match(/^([^@;>]+)@/);
	return m ? m[1] : '';
}

// --- sections ---

function serviceSection(ctx) {
	var st = ctx.st, lines = [];
	if (ctx.running && st)
		lines.push(_('Running for %s').replace('%s', duration(st.uptime_s)) +
			(st.version ? ' ' + _('(version %s)').replace('%s', String(st.version).substr(0, MAX_WORD)) : '') + '.');
	else if (ctx.running)
		lines.push(_('Running; waiting for its first status report.'));
	else
		lines.push(_('Not running.') + ' ' +
			_('Start it under System → Startup, and see why it stopped with logread -e siproxd-rs.'));

	if (ctx.text && !st)
		lines.push(E('em', {}, [ _('The status file could not be read as JSON.') ]));
	else if (!st && ctx.signum == null)
		lines.push(E('em', {}, [
			_('No status snapshot yet (written every status_interval seconds): set “Status every” on the Logging tab of the configuration, e.g. to 5.') ]));
	else if (!st)
		lines.push(E('em', {}, [ _('No status snapshot yet.') ]));
	else if (!ctx.running)
		lines.push(E('em', {}, [ _('The details below are from its last status report.') ]));

	return [ E('h3', {}, [ _('Service') ]) ].concat(lines.map(function(l) { return E('p', {}, [ l ]); }));
}

function phonesSection(ctx) {
	var regs = list(ctx.st.registrations);
	var rows = regs.map(function(r) {
		var live = r.state === 'live';
		return [
			val(phoneName(r.contact) || '–'),
			val(stripScheme(r.aor)),
			val(r.source),
			live ? duration(r.expires_in_s)
			     : warning(_('not confirmed by the provider'))
		];
	});
	return [
		E('h3', {}, [ _('Registered phones') ]),
		table([ _('Phone'), _('Account'), _('Where it is'), _('Expires in') ], rows,
			_('No phone is registered.'))
	];
}

// One media stream (one m= line) of a call, from its relay rows: the row whose socket faces
// the Internet has the far end; the one facing the phone tells what the phone sent.
function mediaBlock(rows, ringing) {
	var wan = rows.filter(function(s) { return s.direction === 'incoming'; })[0];
	var lan = rows.filter(function(s) { return s.direction === 'outgoing'; })[0];
	var first = wan || lan || rows[0];
	var kind = String(first.media || '').substr(0, 16);
	var title = kind ? kind.charAt(0).toUpperCase() + kind.substr(1) : _('Media');
	var fromFar, fromPhone, lines = [];

	if (wan || lan) {
		fromFar = wan ? [ wan.pkts_in, wan.bytes_in ] : [ lan.pkts_out, lan.bytes_out ];
		fromPhone = wan ? [ wan.pkts_out, wan.bytes_out ] : [ lan.pkts_in, lan.bytes_in ];
		lines.push(_('From the far end: %s').replace('%s', plural(fromFar[0], _('packet'), _('packets')) + ', ' + bytes(fromFar[1])));
		lines.push(_('From the phone: %s').replace('%s', plural(fromPhone[0], _('packet'), _('packets')) + ', ' + bytes(fromPhone[1])));
	}
	else {
		// A file of an older version: which side a socket faces is unknown.
		fromFar = [ first.pkts_in, first.bytes_in ];
		fromPhone = [ first.pkts_out, first.bytes_out ];
		lines.push(_('Received: %s').replace('%s', plural(fromFar[0], _('packet'), _('packets')) + ', ' + bytes(fromFar[1])));
		lines.push(_('Sent: %s').replace('%s', plural(fromPhone[0], _('packet'), _('packets')) + ', ' + bytes(fromPhone[1])));
	}

	var farEnd = wan && wan.latched ? [ _('Far end'), wan.latched ]
		: wan && wan.remote && wan.remote !== '-' ? [ _('Far end (expected, nothing received yet)'), wan.remote ]
		: null;
	if (farEnd)
		lines.push(E('span', {}, [ farEnd[0] + ': ', val(farEnd[1], 48) ]));

	var drops = rows.reduce(function(n, s) { return n + (+s.drops || 0); }, 0);
	if (drops > 0)
		lines.push(_('%s dropped (unexpected source or nowhere to send)').replace('%s', plural(drops, _('packet'), _('packets'))));

	// Since when each side has been quiet: the socket facing it knows (older files do not).
	var farIdle = wan ? wan.idle_in_s : null, phoneIdle = lan ? lan.idle_in_s : null;
	var far = flowState(fromFar[0], farIdle), phone = flowState(fromPhone[0], phoneIdle);
	var mark, quietFor = function(idle) {
		return idle != null && +idle >= QUIET_S ? ' ' + _('for %s').replace('%s', duration(idle)) : '';
	};
	if (ringing && far === 'never' && phone === 'never')
		mark = E('span', {}, [ '…' + NBSP + _('waiting for the answer') ]);
	else if (far === 'flowing' && phone === 'flowing')
		mark = E('span', { 'style': 'color:#080' }, [ '✓' + NBSP + _('both ways') ]);
	else if (far === 'flowing')
		mark = warning(_('One-way: nothing from the phone') + quietFor(phoneIdle));
	else if (phone === 'flowing')
		mark = warning(_('One-way: nothing from the far end') + quietFor(farIdle));
	else if (far === 'never' && phone === 'never')
		mark = warning(_('Silent: no packets either way'));
	else
		mark = warning(_('Silent: nothing either way') +
			quietFor(Math.min(farIdle == null ? Infinity : +farIdle, phoneIdle == null ? Infinity : +phoneIdle)));

	return E('div', { 'class': 'siproxd-stream', 'style': 'margin-bottom:.5em' }, [
		E('div', {}, [ E('strong', {}, [ title ]), ' ', mark ])
	].concat(lines.map(function(l) { return E('div', {}, [ l ]); })));
}

// 'never' sent anything, 'quiet' for QUIET_S or more, else 'flowing'.
function flowState(packets, idle) {
	if (!(+packets > 0))
		return 'never';
	return (idle != null && +idle >= QUIET_S) ? 'quiet' : 'flowing';
}

function codecLabel(s) {
	if (s.codec)
		return String(s.codec).substr(0, 16);
	if (s.payload_type != null)
		return _('payload type %d').replace('%d', +s.payload_type);
	return null;
}

function callRow(call, now) {
	var streams = list(call.streams);
	var groups = {}, order = [];
	streams.forEach(function(s, i) {
		// Without a media index (older files) every row is its own stream.
		var key = (s.direction === 'incoming' || s.direction === 'outgoing') ? 'm' + (+s.media_index || 0) : 'r' + i;
		if (!groups[key]) {
			groups[key] = [];
			order.push(key);
		}
		groups[key].push(s);
	});

	var codecs = [];
	order.forEach(function(k) {
		var s = groups[k].filter(function(x) { return codecLabel(x); })[0];
		var c = s ? codecLabel(s) : null;
		if (c && s.media && s.media !== 'audio')
			c += ' (' + String(s.media).substr(0, 16) + ')';
		if (c && codecs.indexOf(c) < 0)
			codecs.push(c);
	});

	// Ringing: none of its streams is agreed by a 2xx yet (older files do not say).
	var ringing = streams.length > 0 && streams.every(function(s) { return s.established === false; });
	var dir = call.direction === 'incoming' ? _('Incoming') : call.direction === 'outgoing' ? _('Outgoing') : '–';
	var started = +call.started_unix || 0;
	return [
		call.party ? val(call.party) : E('em', {}, [ _('unknown') ]),
		ringing ? dir + ', ' + _('not answered yet') : dir,
		started > 0 && started <= now ? duration(now - started) : '–',
		codecs.length ? codecs.join(', ') : '–',
		order.length ? E('div', {}, order.map(function(k) { return mediaBlock(groups[k], ringing); }))
			: E('em', {}, [ _('no media relayed') ])
	];
}

function callsSection(ctx) {
	var now = taken(ctx.st);
	var rows = list(ctx.st.calls).map(function(c) { return callRow(c, now); });
	return [
		E('h3', {}, [ _('Active calls') ]),
		table([ _('Phone'), _('Direction'), _('Duration'), _('Codec'), _('Audio and video') ], rows,
			_('No call is active.'))
	];
}

// Counters worth a router owner's attention, with what each means; the others are traffic.
var FAILED_REGISTRATIONS = {
	'dropped.no_register_permission': _('Refused: the phone\'s address is not allowed to register (Access: May register)'),
	'dropped.registration_table_full': _('Refused: the registration table is full (Most registrations)')
};
var REFUSED = {
	'dropped.acl': _('Refused: sender not allowed to use the proxy (Access settings)'),
	'dropped.no_sip_permission': _('Refused: sender not allowed to send SIP (Access: May send SIP)'),
	'dropped.too_short': _('Ignored: packets too short to be SIP'),
	'dropped.raw_check': _('Ignored: packets that are not SIP'),
	'dropped.unparsable': _('Ignored: SIP messages that could not be read'),
	'dropped.invalid': _('Ignored: SIP messages missing required parts'),
	'dropped.response_not_ours': _('Ignored: answers to requests this proxy did not send'),
	'dropped.unknown_direction': _('Ignored: neither from a phone nor from the Internet side'),
	'dropped.unroutable': _('Dropped: no known destination (e.g. a call to a phone that is not registered)'),
	'dropped.dns_pending_full': _('Dropped: too many name lookups at once'),
	'dropped.dns_failed': _('Dropped: the destination\'s name could not be resolved'),
	'dropped.rewrite_failed': _('Dropped: could not be rewritten for the router\'s address'),
	'dropped.outbound_down': _('Dropped: the Internet connection was down'),
	'dropped.media_not_relayable': _('Calls refused: their audio could not be relayed'),
	'dropped.too_many_hops': _('Refused: passed too many proxies (loop?)'),
	'dropped.via_loop': _('Refused: looped back to this proxy'),
	'dropped.bad_extension': _('Refused: needs a SIP extension this proxy lacks'),
	'table_full.rtp': _('Calls refused: the media relay table is full (Most media streams)'),
	'rtp.ports_exhausted': _('Calls refused: no free port in the RTP range'),
	'rtp.dropped.foreign_source.open_streams': _('Media packets from unexpected senders on open calls (refused)'),
	'rtp.dropped': _('Media packets dropped, all reasons'),
	'rtp.truncated': _('Media packets too large for the relay (cut)'),
	'dropped.plugin': _('Dropped by a plugin'),
	'dropped.blacklisted': _('Dropped: the sender is on the blacklist'),
	'dropped.rate_limited': _('Dropped: an Internet host sent more requests per second than allowed (Access: WAN request limit)'),
	'tcp.refused_per_source': _('TCP connections refused: too many from one address'),
	'tcp.refused_table_full': _('TCP connections refused: the connection table is full (Most TCP connections)'),
	'tcp.evicted': _('TCP connections closed to make room for new ones'),
	'tcp.closed_slow_sender': _('TCP connections closed: a message did not arrive in time'),
	'tcp.closed_bad_framing': _('TCP connections closed: unreadable SIP'),
	'tcp.closed_oversized': _('TCP connections closed: message too large'),
	'tcp.closed_not_reading': _('TCP connections closed: the other side did not read'),
	'tcp.connect_failed': _('TCP connections to providers that failed')
};
// Normal traffic, shown as one summary line instead.
var TRAFFIC = [ 'sip.received', 'sip.forwarded', 'sip.generated', 'rtp.received', 'rtp.sent',
	'dropped.ack_of_generated_response', 'tcp.open', 'tcp.accepted', 'tcp.opened', 'tcp.messages',
	'tcp.closed_idle' ];

// A counter this page does not know yet, said as words rather than as a key.
function humanCounter(name) {
	var s = String(name).replace(/[._]+/g, ' ').trim();
	return s.charAt(0).toUpperCase() + s.substr(1);
}

function problemsSection(ctx) {
	var c = (ctx.st.counters && typeof(ctx.st.counters) === 'object') ? ctx.st.counters : {};
	var regs = [], other = [];
	Object.keys(c).forEach(function(k) {
		var n = +c[k] || 0;
		if (n <= 0 || TRAFFIC.indexOf(k) >= 0)
			return;
		if (FAILED_REGISTRATIONS[k])
			regs.push([ count(n), FAILED_REGISTRATIONS[k] ]);
		else if (REFUSED[k])
			other.push([ count(n), REFUSED[k] ]);
		else if (/^registrations?\.fail/.test(k))
			regs.push([ count(n), humanCounter(k) ]);
		else if (/drop|full|fail|exhaust|refus|trunc/.test(k))
			other.push([ count(n), humanCounter(k) ]);
	});
	var traffic = _('Since start: %s SIP messages received, %s forwarded; %s media packets relayed.')
		.replace('%s', count(c['sip.received'])).replace('%s', count(c['sip.forwarded']))
		.replace('%s', count(c['rtp.sent']));
	return [
		E('h3', {}, [ _('Problems since start') ]),
		E('p', {}, [ traffic ]),
		E('h4', {}, [ _('Failed registrations') ]),
		table([ _('Count'), _('What it means') ], regs, _('None.')),
		E('h4', {}, [ _('Refused or dropped traffic') ]),
		table([ _('Count'), _('What it means') ], other, _('None.'))
	];
}

var PUBLIC_FROM = {
	stun: _('learned from the STUN server'),
	host_outbound: _('set as host_outbound'),
	'interface': _('the WAN interface\'s address')
};

// The address the Internet sees in calls and registrations, and where it comes from.
function publicSection(ctx) {
	var p = ctx.st['public'];
	if (!p || typeof(p) !== 'object' || !p.address)
		return [];
	var from = PUBLIC_FROM[p.source], rest = from ? ' (' + from + ')' : '';
	if (+p.last_answer_unix > 0)
		rest += '; ' + _('last STUN answer %s ago').replace('%s', duration(taken(ctx.st) - p.last_answer_unix));
	return [ E('h3', {}, [ _('Internet side') ]),
		E('p', {}, [ _('Public address:') + ' ', val(p.address), rest ]) ];
}

// SIP over TCP connections: only where there are some (the snapshot lists them only then).
function tcpSection(ctx) {
	var rows = list(ctx.st.tcp).map(function(t) {
		return [ val(t.peer), t.role === 'opened' ? _('the router') : _('the other side'),
			t.connecting ? _('connecting') : duration(t.idle_s), bytes(t.queued) ];
	});
	return rows.length ? [ E('h3', {}, [ _('SIP over TCP connections') ]),
		table([ _('Other side'), _('Opened by'), _('Idle for'), _('Waiting to be sent') ], rows, '') ] : [];
}


// plugin_blacklist: only when the snapshot carries entries.
function blacklistSection(ctx) {
	var entries = list(ctx.st.blacklist);
	if (!entries.length)
		return [];
	var rows = entries.map(function(b) {
		return [
			val(b.address),
			b.kind === 'manual' ? _('by hand') : plural(+b.failures || 0, _('failed registration'), _('failed registrations')),
			b.blocked ? _('blocked') : _('counting'),
			b.expires_in_s == null ? _('never') : duration(+b.expires_in_s || 0),
			count(b.dropped)
		];
	});
	return [
		E('h3', {}, [ _('Blacklist') ]),
		table([ _('Address'), _('Why'), _('State'), _('Lapses in'), _('Packets dropped') ], rows, _('Nobody is blocked.'))
	];
}

var SECTIONS = [ publicSection, phonesSection, callsSection, tcpSection, blacklistSection, problemsSection ];

function renderStatus(svc, text, signum) {
	var st = parse(text);
	var ctx = { running: running(svc), text: text, st: st, signum: signum };
	var nodes = serviceSection(ctx);
	if (st)
		SECTIONS.forEach(function(section) { nodes = nodes.concat(section(ctx)); });
	return nodes;
}

// --- loading ---

// SIGUSR1's number differs by architecture (16 on MIPS, 10 on ARM, x86, PowerPC, RISC-V);
// the wrong one would kill the proxy, so it is sent only when the router's musl loader in
// /lib names an architecture this page knows.
var signumPromise = null;
function sigusr1() {
	if (!signumPromise)
		signumPromise = L.resolveDefault(fs.list('/lib'), []).then(function(entries) {
			var loaders = (entries || []).map(function(e) { return e.name; }).filter(function(n) {
				return /^ld-musl-/.test(n);
			});
			if (loaders.length !== 1)
				return null;
			if (/^ld-musl-mips/.test(loaders[0]))
				return 16;
			if (/^ld-musl-(arm|aarch64|x86_64|i386|powerpc|riscv)/.test(loaders[0]))
				return 10;
			return null;
		});
	return signumPromise;
}

function readStatus() {
	return L.resolveDefault(fs.read_direct(STATUS_FILE), null);
}

var lastTaken = null;
function load() {
	return Promise.all([
		L.resolveDefault(callServiceList('siproxd-rs'), {}),
		readStatus(),
		sigusr1()
	]).then(function(r) {
		var st = parse(r[1]);
		var unchanged = !st || lastTaken === null || taken(st) === lastTaken;
		if (!running(r[0]) || r[2] == null || !unchanged)
			return r;
		// Ask for a fresh snapshot; the proxy writes it within its next loop turn.
		return L.resolveDefault(callServiceSignal('siproxd-rs', r[2]), null).then(function() {
			return new Promise(function(resolve) { setTimeout(resolve, 400); });
		}).then(readStatus).then(function(text) {
			return [ r[0], text || r[1], r[2] ];
		});
	}).then(function(r) {
		var st = parse(r[1]);
		lastTaken = st ? taken(st) : null;
		return r;
	});
}

return view.extend({
	load: load,

	render: function(data) {
		var box = E('div', {
			'id': 'siproxd-rs-status',
			'style': 'overflow-wrap:anywhere;word-break:break-word;max-width:100%'
		}, renderStatus(data[0], data[1], data[2]));
		poll.add(function() {
			return load().then(function(d) {
				dom.content(box, renderStatus(d[0], d[1], d[2]));
			});
		}, 5);
		return E([], [ E('h2', {}, [ _('SIP Proxy Status') ]), box ]);
	},

	handleSave: null,
	handleSaveApply: null,
	handleReset: null
});
