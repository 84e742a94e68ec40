// luci-check.js — loads the LuCI views of openwrt/luci-app-siproxd-rs the way LuCI does
// (the file body as a function whose 'require' names are arguments) against small stubs,
// and checks what they build: the config form's UCI options and the status page's
// rendering of a status.json snapshot. Run: node tests/openwrt/luci-check.js
'use strict';
const fs = require('fs');
const path = require('path');
const assert = require('assert');

const dir = path.join(__dirname, '../../openwrt/luci-app-siproxd-rs/htdocs/luci-static/resources/view/siproxd-rs');

function node(tag, attrs, children) {
	const n = { tag, attrs: attrs || {}, children: [] };
	n.appendChild = (c) => n.children.push(c);
	for (const c of [].concat(children || [])) n.appendChild(c);
	return n;
}
function E(tag, attrs, children) {
	if (Array.isArray(tag)) return node('fragment', {}, attrs);
	return node(tag, attrs, children);
}
function text(n) {
	if (n == null) return '';
	if (typeof n !== 'object') return String(n);
	return n.children.map(text).join(' ');
}

function load(file, deps) {
	const src = fs.readFileSync(path.join(dir, file), 'utf8');
	const requires = [...src.matchAll(/^'require ([\w.]+)(?: as (\w+))?';$/gm)].map((m) => m[2] || m[1]);
	const names = requires.concat(['E', '_', 'L']);
	const L = { resolveDefault: (p, d) => Promise.resolve(p).catch(() => d) };
	const args = names.map((n) => (n === 'E' ? E : n === '_' ? (s) => s : n === 'L' ? L : deps[n]));
	names.forEach((n, i) => assert.ok(args[i] !== undefined, `${file}: no stub for require ${n}`));
	return new Function(...names, src)(...args);
}

const view = { extend: (o) => o };

// --- config.js: the form must use the siproxd UCI option names ---
const options = [];
class Section {
	tab() {}
	taboption(tab, cls, name) {
		const o = { name, values: [], value(v) { this.values.push(v); } };
		options.push(o);
		return o;
	}
}
const form = {
	Map: class { constructor(config) { this.config = config; } section(cls, type) { this.type = type; return new Section(); } render() { return this; } },
	TypedSection: 'TypedSection', Value: 'Value', ListValue: 'ListValue', DynamicList: 'DynamicList'
};
const cfg = load('config.js', { view, form, 'tools.widgets': {}, widgets: { NetworkSelect: 'NetworkSelect' } }).render();
assert.strictEqual(cfg.config, 'siproxd', 'form edits /etc/config/siproxd');
assert.strictEqual(cfg.type, 'siproxd', 'form edits sections of type siproxd');
const names = options.map((o) => o.name);
for (const n of ['interface_inbound', 'interface_outbound', 'sip_listen_port', 'rtp_port_low', 'rtp_port_high',
	'rtp_timeout', 'hosts_allow_reg', 'hosts_allow_sip', 'silence_log', 'debug_level', 'load_plugin'])
	assert.ok(names.includes(n), `config form has option ${n}`);
assert.deepStrictEqual(options.find((o) => o.name === 'silence_log').values, ['0', '1', '2', '3', '4']);

// --- status.js: service state + generic rendering of the snapshot ---
let polled = 0;
const snapshot = JSON.stringify({
	uptime: 4242,
	registrations: [{ aor: 'sip:alice@example.org', contact: 'sip:alice@192.168.1.20:5060', expires: 600 }],
	streams: [],
	counters: { dropped_acl: 3 }
});
const deps = {
	view, poll: { add: () => polled++ }, dom: { content() {} },
	fs: { read_direct: () => Promise.resolve(snapshot) },
	rpc: { declare: () => () => Promise.resolve({ instances: { instance1: { running: true } } }) }
};
const status = load('status.js', deps);
status.load().then((data) => {
	const page = text(status.render(data));
	assert.ok(page.includes('siproxd-rs is running.'), 'running state shown');
	for (const s of ['uptime', '4242', 'sip:alice@example.org', '192.168.1.20', 'dropped_acl', '3', 'None'])
		assert.ok(page.includes(s), `status page shows ${s}`);
	assert.strictEqual(polled, 1, 'status page polls');
	const empty = text(status.render([{}, null]));
	assert.ok(empty.includes('not running') && empty.includes('No status snapshot yet'), 'no snapshot, not running');
	const bad = text(status.render([{}, '{oops']));
	assert.ok(bad.includes('could not be read as JSON'), 'corrupt snapshot reported');
	console.log('luci-check: ok');
}).catch((e) => { console.error(e); process.exit(1); });
