'use strict';
'require view';
'require form';
'require tools.widgets as widgets';

// The main options of /etc/config/siproxd (names as in the siproxd package); anything else
// can still be set with uci and is passed through by the -u reader.
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
		s.tab('log', _('Logging'));

		o = s.taboption('general', widgets.NetworkSelect, 'interface_inbound', _('Inbound network'),
			_('Network the phones are on.'));
		o.nocreate = true;
		o.default = 'lan';

		o = s.taboption('general', widgets.NetworkSelect, 'interface_outbound', _('Outbound network'),
			_('Network towards the SIP provider.'));
		o.nocreate = true;
		o.default = 'wan';

		o = s.taboption('general', form.Value, 'sip_listen_port', _('SIP port'));
		o.datatype = 'port';
		o.placeholder = '5060';

		o = s.taboption('general', form.Value, 'autosave_registrations',
			_('Save registrations every (s)'));
		o.datatype = 'uinteger';
		o.placeholder = '300';

		o = s.taboption('rtp', form.Value, 'rtp_port_low', _('RTP ports from'));
		o.datatype = 'port';
		o.placeholder = '7070';

		o = s.taboption('rtp', form.Value, 'rtp_port_high', _('RTP ports to'),
			_('Two ports per call leg; open this range in the firewall.'));
		o.datatype = 'port';
		o.placeholder = '7089';

		o = s.taboption('rtp', form.Value, 'rtp_timeout', _('RTP timeout (s)'));
		o.datatype = 'uinteger';
		o.placeholder = '300';

		o = s.taboption('access', form.Value, 'hosts_allow_reg', _('May register'),
			_('Comma-separated networks, e.g. 192.168.1.0/24. Empty: everyone.'));
		o = s.taboption('access', form.Value, 'hosts_allow_sip', _('May send SIP'),
			_('Comma-separated networks. Empty: everyone.'));
		o = s.taboption('access', form.Value, 'hosts_deny_sip', _('Denied SIP'),
			_('Comma-separated networks.'));

		o = s.taboption('log', form.ListValue, 'silence_log', _('Syslog verbosity'));
		o.value('0', _('0: everything'));
		o.value('1', _('1: no debug'));
		o.value('2', _('2: warnings and errors'));
		o.value('3', _('3: errors only'));
		o.value('4', _('4: nothing'));
		o.default = '1';

		o = s.taboption('log', form.Value, 'debug_level', _('Debug classes'),
			_('Bit mask, e.g. 0x00000100 for configuration, -1 for all.'));
		o.placeholder = '0';

		o = s.taboption('log', form.DynamicList, 'load_plugin', _('Plugins'),
			_('Built-in plugins by their siproxd names, e.g. plugin_logcall.so.'));

		return m.render();
	}
});
