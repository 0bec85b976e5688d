// console.js — the course creator's console (/console; docs/WEB.md): the contexts with what each
// serves, its live accuracy and its canary's verdict (GET /v1/contexts, /v1/report), binding,
// canaries, rollback, quarantine, installing an uploaded package, and the history. Every change
// goes through the admin routes with the admin token, which stays in this tab's sessionStorage.
'use strict';
(function () {
	// sessionStorage, when the browser allows it (a third-party frame may be refused it: then the
	// token lives as long as the page)
	const store = {
		get(k) { try { return sessionStorage.getItem(k); } catch (e) { return null; } },
		set(k, v) { try { sessionStorage.setItem(k, v); } catch (e) { /* this page only */ } },
		del(k) { try { sessionStorage.removeItem(k); } catch (e) { /* nothing kept */ } },
	};
	const $ = (id) => document.getElementById(id);
	const KEY = 'trmx-admin-token';
	let token = store.get(KEY);

	function el(tag, attrs, ...kids) {
		const e = document.createElement(tag);
		for (const k in attrs || {}) {
			if (k === 'class') e.className = attrs[k];
			else if (k.startsWith('on')) e.addEventListener(k.slice(2), attrs[k]);
			else if (k === 'text') e.textContent = attrs[k];
			else e.setAttribute(k, attrs[k]);
		}
		kids.forEach((c) => e.append(c instanceof Node ? c : document.createTextNode(c == null ? '' : String(c))));
		return e;
	}
	function showError(t) { $('error').textContent = t || ''; $('error').hidden = !t; }
	function status(t) { $('status').textContent = t || ''; }
	const pct = (x) => (x == null ? '–' : (100 * x).toFixed(1) + '%');
	const ctxPath = (c) => c.split('/').map(encodeURIComponent).join('/');

	async function errorText(res) {
		try { const j = await res.json(); return (j.error && j.error.message) || 'HTTP ' + res.status; }
		catch (e) { return 'HTTP ' + res.status; }
	}
	async function api(method, path, body, raw) {
		const h = {};
		if (token) h.Authorization = 'Bearer ' + token;
		const init = { method: method, headers: h, cache: 'no-store' };
		if (raw) { h['Content-Type'] = 'application/octet-stream'; init.body = raw; }
		else if (body !== undefined) { h['Content-Type'] = 'application/json'; init.body = JSON.stringify(body); }
		const res = await fetch(path, init);
		if (res.status === 401) { signIn(await errorText(res)); throw new Error('an admin token is needed'); }
		if (!res.ok) throw new Error(await errorText(res));
		return res.json();
	}

	function signIn(why) {
		$('app').hidden = true;
		$('token-form').hidden = false;
		$('signout').hidden = true;
		if (token) showError(why);
		$('token-input').focus();
	}
	$('token-form').addEventListener('submit', (ev) => {
		ev.preventDefault();
		token = $('token-input').value.trim();
		store.set(KEY, token);
		$('token-input').value = '';
		showError('');
		refresh();
	});
	$('signout').addEventListener('click', () => { store.del(KEY); token = null; signIn(''); });

	// A change through an admin route, then everything read again.
	async function change(what, path, body) {
		showError('');
		status(what + '…');
		try {
			await api('POST', path, body);
			status(what + ': done.');
			await refresh();
		} catch (e) {
			status('');
			showError(what + ' failed: ' + e.message);
		}
	}

	function servingText(sv) {
		if (!sv) return '–';
		if (sv.error) return sv.error;
		return sv.module + ' ' + sv.version + (sv.alias ? ' (' + sv.alias + ')' : '');
	}

	async function contextRow(c) {
		let rep = null;
		try { rep = await api('GET', '/v1/report?context=' + encodeURIComponent(c.context) + '&since=7d'); } catch (e) { /* shown as unknown */ }
		const sv = c.serving || {};
		let acc = '–';
		if (rep) {
			const g = (rep.groups || []).find((x) => x.module === sv.module && x.version === sv.version);
			acc = g && g.judged ? pct(g.accuracy) + ' [' + pct(g.accuracy_low) + ', ' + pct(g.accuracy_high) + '] of ' + g.judged + ' judged'
				: 'no judged runs of ' + (sv.version || 'it') + ' yet';
			if (g && g.judged) acc = sv.version + ': ' + acc;
		}
		let verdict = '–';
		const k = rep && (rep.canaries || []).find((x) => x.context === c.context);
		if (k) {
			const cls = k.verdict === 'better' ? 'better' : k.verdict === 'worse' ? 'worse' : 'unknown';
			verdict = el('span', {}, el('span', { class: 'tag ' + cls, 'data-verdict': k.verdict, text: k.verdict }),
				' ' + (k.canary.module || '') + ' ' + (k.canary.version || '') + ' ' + pct(k.canary.accuracy) + ' vs ' + pct(k.champion.accuracy) +
				(k.verdict === 'not yet known' && k.runs_needed != null ? ' · about ' + k.runs_needed + ' more judged runs' : ''));
		} else if (c.canary) {
			verdict = el('span', { class: 'tag unknown', 'data-verdict': 'not yet known', text: 'not yet known' });
		}
		const actions = el('div', { class: 'row' },
			el('button', { type: 'button', class: 'small', onclick: () => prefill(c.context, c.target), text: 'Change' }),
			el('button', { type: 'button', class: 'small', onclick: () => change('Rolling back ' + c.context, '/v1/admin/rollback', { context: c.context }), text: 'Roll back' }),
			el('button', {
				type: 'button', class: 'small', text: 'Quarantine what it serves',
				onclick: () => quarantine(sv.module, sv.version, true),
			}));
		actions.lastChild.disabled = !sv.module;
		return el('tr', { 'data-context': c.context },
			el('th', { scope: 'row' }, el('a', { href: '/learn/' + ctxPath(c.context), text: c.context })),
			el('td', { text: c.target }),
			el('td', { class: 'serving', text: servingText(sv) }),
			el('td', { text: c.canary ? c.canary + ' · ' + pct(c.share) + ' of learners' + (c.canary_serving ? ' → ' + servingText(c.canary_serving) : '') : '–' }),
			el('td', { class: 'accuracy', text: acc }),
			el('td', { class: 'canary-verdict' }, verdict),
			el('td', {}, actions));
	}

	function prefill(context, target) {
		$('bind-context').value = context || '';
		$('bind-target').value = target || '';
		$('bind-canary').value = '';
		$('bind-target').focus();
	}

	async function quarantine(module, version, on) {
		let reason = null;
		if (on) {
			reason = window.prompt('Quarantine ' + module + ' ' + version + ': nothing will dispatch to it. Why?', '');
			if (reason === null) return;
		}
		const body = { module: module, version: version, release: !on };
		if (reason) body.reason = reason;
		await change((on ? 'Quarantining ' : 'Releasing ') + module + ' ' + version, '/v1/admin/quarantine', body);
	}

	$('bind-form').addEventListener('submit', (ev) => {
		ev.preventDefault();
		const body = { context: $('bind-context').value.trim(), target: $('bind-target').value.trim() };
		const canary = $('bind-canary').value.trim();
		if (canary) {
			body.canary = canary;
			body.share = $('bind-share').value + '%';
		}
		change('Binding ' + body.context + ' to ' + body.target + (canary ? ' with canary ' + canary : ''), '/v1/admin/bind', body);
	});

	$('install-form').addEventListener('submit', async (ev) => {
		ev.preventDefault();
		const f = $('install-file').files[0];
		if (!f) return;
		const out = $('install-out');
		out.textContent = '';
		showError('');
		status('Uploading ' + f.name + ' (' + f.size + ' bytes), verifying and self-testing…');
		try {
			const r = await api('POST', '/v1/admin/install', undefined, f);
			const mods = await api('GET', '/v1/modules');
			const m = (mods.modules || []).find((x) => x.module === r.module && x.version === r.version) || {};
			status(r.already ? 'This very package was installed before: nothing changed.' : 'Installed ' + r.module + ' ' + r.version + '.');
			out.append(
				el('h3', { text: r.module + ' ' + r.version + (r.already ? ' (already installed)' : ' installed') }),
				el('table', { class: 'data', id: 'install-result' }, el('tbody', {},
					el('tr', {}, el('th', { scope: 'row', text: 'Manifest' }), el('td', { text: (m.description || '') + ' · engine ' + (m.engine || '?') + ' · task ' + (m.task || '?') + ' ' + (m.task_params || '') })),
					el('tr', {}, el('th', { scope: 'row', text: 'Signature' }), el('td', { text: m.signature || 'unknown' })),
					el('tr', {}, el('th', { scope: 'row', text: 'Self-test' }), el('td', {
						text: r.examples_solved + ' of ' + r.examples_labelled + ' labelled examples solved exactly (' + r.examples + ' run), token accuracy ' + pct(r.token_accuracy),
					})),
					el('tr', {}, el('th', { scope: 'row', text: 'Digest' }), el('td', { text: r.digest })),
					el('tr', {}, el('th', { scope: 'row', text: 'Database' }), el('td', { text: (r.db_created ? 'made from schema.sql' : 'kept') + ', schema version ' + r.schema_version + ', ' + r.migrations_applied + ' migrations' })))),
				el('div', { class: 'row' }, el('button', { type: 'button', onclick: () => prefill('', r.module + '@' + r.version), text: 'Bind a context to it' })));
			await refresh();
		} catch (e) {
			status('');
			showError('The package was not installed: ' + e.message);
		}
	});

	async function refresh() {
		let ctxs, mods, hist;
		try {
			[ctxs, mods, hist] = await Promise.all([api('GET', '/v1/contexts'), api('GET', '/v1/modules'), api('GET', '/v1/history?limit=50')]);
		} catch (e) {
			if ($('token-form').hidden) showError('The console cannot read the server: ' + e.message);
			return;
		}
		$('token-form').hidden = true;
		$('app').hidden = false;
		$('signout').hidden = !token;
		const rows = await Promise.all(ctxs.contexts.map(contextRow));
		const tb = $('contexts').tBodies[0];
		tb.replaceChildren(...rows);
		if (!rows.length) tb.append(el('tr', {}, el('td', { colspan: 7, text: 'No context is bound yet: bind one below.' })));
		$('context-list').replaceChildren(...ctxs.contexts.map((c) => el('option', { value: c.context })));
		const targets = [];
		mods.modules.forEach((m) => { targets.push(m.module + '@' + m.version); m.aliases.forEach((a) => targets.push(m.module + '@' + a)); });
		$('target-list').replaceChildren(...[...new Set(targets)].map((t) => el('option', { value: t })));
		$('modules').tBodies[0].replaceChildren(...mods.modules.map((m) => el('tr', { 'data-target': m.module + '@' + m.version },
			el('th', { scope: 'row', text: m.module }), el('td', { text: m.version }), el('td', { text: m.aliases.join(', ') || '–' }),
			el('td', { text: m.engine + ' · ' + m.task + ' ' + m.task_params }), el('td', { text: m.signature }),
			el('td', { text: m.examples_solved + ' of ' + m.examples + ' examples' }),
			el('td', {}, m.quarantined ? el('span', { class: 'tag quarantined', text: 'quarantined' }) : 'active'),
			el('td', {}, el('div', { class: 'row' },
				el('button', { type: 'button', class: 'small', onclick: () => prefill($('bind-context').value, m.module + '@' + m.version), text: 'Bind…' }),
				el('button', { type: 'button', class: 'small', onclick: () => quarantine(m.module, m.version, !m.quarantined), text: m.quarantined ? 'Release' : 'Quarantine' }))))));
		$('history').tBodies[0].replaceChildren(...hist.history.slice().reverse().map((h) => el('tr', {},
			el('td', { text: h.at }), el('td', { text: h.actor }), el('td', { text: h.action }), el('td', { text: h.subject }),
			el('td', { text: h.old == null ? '–' : h.old }), el('td', { text: h.new == null ? '–' : h.new }), el('td', { class: 'wrap', text: h.detail == null ? '' : h.detail }))));
	}
	refresh();
})();
