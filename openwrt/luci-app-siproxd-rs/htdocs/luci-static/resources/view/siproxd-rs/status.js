'use strict';
'require view';
'require fs';
'require poll';
'require rpc';
'require dom';

// Status page: whether the service runs (procd) and the proxy's own snapshot in
// /var/run/siproxd-rs/status.json (written every status_interval seconds and on SIGUSR1).
// The snapshot is rendered generically (scalars as a list, arrays of objects as tables) so
// new fields show up without a change here.
var STATUS_FILE = '/var/run/siproxd-rs/status.json';

var callServiceList = rpc.declare({
	object: 'service',
	method: 'list',
	params: [ 'name' ],
	expect: { 'siproxd-rs': {} }
});

function running(svc) {
	var inst = (svc && svc.instances) || {};
	return Object.keys(inst).some(function(k) { return inst[k].running; });
}

function scalarTable(obj) {
	var rows = Object.keys(obj).filter(function(k) {
		return obj[k] === null || typeof(obj[k]) !== 'object';
	}).map(function(k) {
		return E('tr', { 'class': 'tr' }, [
			E('td', { 'class': 'td left', 'width': '33%' }, [ k ]),
			E('td', { 'class': 'td left' }, [ String(obj[k]) ])
		]);
	});
	return E('table', { 'class': 'table' }, rows);
}

function listTable(list) {
	var cols = [];
	list.forEach(function(row) {
		Object.keys(row || {}).forEach(function(k) {
			if (cols.indexOf(k) < 0)
				cols.push(k);
		});
	});
	var t = E('table', { 'class': 'table' }, [
		E('tr', { 'class': 'tr table-titles' }, cols.map(function(c) {
			return E('th', { 'class': 'th' }, [ c ]);
		}))
	]);
	list.forEach(function(row) {
		t.appendChild(E('tr', { 'class': 'tr' }, cols.map(function(c) {
			var v = row ? row[c] : null;
			return E('td', { 'class': 'td' }, [
				v == null ? '-' : (typeof(v) === 'object' ? JSON.stringify(v) : String(v))
			]);
		})));
	});
	if (!list.length)
		t.appendChild(E('tr', { 'class': 'tr placeholder' }, [
			E('td', { 'class': 'td' }, [ E('em', {}, [ _('None') ]) ])
		]));
	return t;
}

function renderStatus(svc, text) {
	var nodes = [
		E('p', {}, [ running(svc) ? _('siproxd-rs is running.') : _('siproxd-rs is not running.') ])
	];
	var st = null;
	if (text) {
		try { st = JSON.parse(text); } catch (e) { st = null; }
	}
	if (!st || typeof(st) !== 'object') {
		nodes.push(E('p', {}, [ E('em', {}, [
			text ? _('The status file could not be read as JSON.')
			     : _('No status snapshot yet (written every status_interval seconds).') ]) ]));
		return nodes;
	}
	nodes.push(E('h3', {}, [ _('Overview') ]), scalarTable(st));
	Object.keys(st).forEach(function(k) {
		var v = st[k];
		if (Array.isArray(v))
			nodes.push(E('h3', {}, [ k ]), listTable(v));
		else if (v && typeof(v) === 'object')
			nodes.push(E('h3', {}, [ k ]), scalarTable(v));
	});
	return nodes;
}

function load() {
	return Promise.all([
		L.resolveDefault(callServiceList('siproxd-rs'), {}),
		L.resolveDefault(fs.read_direct(STATUS_FILE), null)
	]);
}

return view.extend({
	load: load,

	render: function(data) {
		var box = E('div', { 'id': 'siproxd-rs-status' }, renderStatus(data[0], data[1]));
		poll.add(function() {
			return load().then(function(d) {
				dom.content(box, renderStatus(d[0], d[1]));
			});
		}, 5);
		return E([], [ E('h2', {}, [ _('SIP Proxy Status') ]), box ]);
	},

	handleSave: null,
	handleSaveApply: null,
	handleReset: null
});
