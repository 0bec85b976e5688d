// report.js — the analyst's view (/report; docs/WEB.md): GET /v1/report for a context (or every
// context under a prefix, course/*), a window and a kind of runs (the learners' by default, as
// trmx report: evaluations apart), drawn as inline SVG charts made here (accuracy with 95% intervals per version, accuracy
// over time, the steps histogram, calibration, canary vs champion), and any of the report's CSV
// tables downloaded (GET /v1/report?format=csv&table=...).
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
	const NS = 'http://www.w3.org/2000/svg';
	const KEY = 'trmx-report-token';
	let token = store.get(KEY) || store.get('trmx-admin-token');

	function showError(t) { $('error').textContent = t || ''; $('error').hidden = !t; }
	const pct = (x) => (x == null ? '–' : (100 * x).toFixed(1) + '%');
	const pct0 = (x) => Math.round(100 * x) + '%'; // axis ticks
	async function errorText(res) {
		try { const j = await res.json(); return (j.error && j.error.message) || 'HTTP ' + res.status; }
		catch (e) { return 'HTTP ' + res.status; }
	}
	async function get(path) {
		const res = await fetch(path, { headers: token ? { Authorization: 'Bearer ' + token } : {}, cache: 'no-store' });
		if (res.status === 401) {
			$('token-form').hidden = false;
			$('filter').hidden = true;
			if (token) showError(await errorText(res));
			throw new Error('a token is needed');
		}
		if (!res.ok) throw new Error(await errorText(res));
		return res;
	}
	$('token-form').addEventListener('submit', (ev) => {
		ev.preventDefault();
		token = $('token-input').value.trim();
		store.set(KEY, token);
		$('token-form').hidden = true;
		showError('');
		start();
	});

	function query(extra) {
		const q = new URLSearchParams();
		if ($('context').value) q.set('context', $('context').value);
		if ($('kind').value && $('kind').value !== 'run') q.set('kind', $('kind').value);
		if ($('since').value) q.set('since', $('since').value);
		for (const k in extra || {}) q.set(k, extra[k]);
		return q.toString();
	}

	// ---- SVG ---------------------------------------------------------------------------------

	function svg(tag, attrs, text) {
		const e = document.createElementNS(NS, tag);
		for (const k in attrs) e.setAttribute(k, attrs[k]);
		if (text != null) e.textContent = text;
		return e;
	}
	// A chart of W x H with plot margins; returns [svg, x(v), y(v), plot box].
	function frame(fig, title, w, h, xr, yr, opts) {
		const m = { l: 50, r: 22, t: 12, b: 38 };
		const s = svg('svg', { class: 'chart', viewBox: '0 0 ' + w + ' ' + h, role: 'img', 'aria-label': title });
		s.append(svg('title', {}, title));
		const x = (v) => m.l + (v - xr[0]) / (xr[1] - xr[0] || 1) * (w - m.l - m.r);
		const y = (v) => h - m.b - (v - yr[0]) / (yr[1] - yr[0] || 1) * (h - m.t - m.b);
		(opts.yticks || []).forEach((t) => {
			s.append(svg('line', { class: 'gridline', x1: m.l, x2: w - m.r, y1: y(t), y2: y(t) }));
			s.append(svg('text', { x: m.l - 6, y: y(t) + 4, 'text-anchor': 'end' }, opts.yfmt ? opts.yfmt(t) : t));
		});
		(opts.xticks || []).forEach((t) => s.append(svg('text', { x: x(t.v), y: h - m.b + 16, 'text-anchor': t.anchor || 'middle' }, t.label)));
		s.append(svg('line', { class: 'axis', x1: m.l, x2: w - m.r, y1: h - m.b, y2: h - m.b }));
		s.append(svg('line', { class: 'axis', x1: m.l, x2: m.l, y1: m.t, y2: h - m.b }));
		if (opts.xlabel) s.append(svg('text', { x: (m.l + w - m.r) / 2, y: h - 4, 'text-anchor': 'middle' }, opts.xlabel));
		fig.querySelectorAll('svg, .legend, p').forEach((e) => e.remove());
		fig.append(s);
		return [s, x, y];
	}
	function legend(fig, names) {
		const d = document.createElement('div');
		d.className = 'legend';
		names.forEach((n, i) => {
			const sp = document.createElement('span');
			const sw = document.createElement('span');
			sw.className = 'swatch c' + (i % 6);
			sp.append(sw, n);
			d.append(sp);
		});
		fig.append(d);
	}
	function empty(fig, text) {
		fig.querySelectorAll('svg, .legend, p').forEach((e) => e.remove());
		const p = document.createElement('p');
		p.className = 'muted';
		p.textContent = text;
		fig.append(p);
	}
	function tip(e, text) { e.append(svg('title', {}, text)); return e; }
	const tenths = [0, 0.25, 0.5, 0.75, 1];
	const vname = (v) => v.module + ' ' + v.version;

	function chartAccuracy(rep) {
		const fig = $('chart-accuracy'), vs = rep.versions || [];
		if (!vs.length) return empty(fig, 'No runs in this window.');
		const w = 400, h = 60 + 44 * vs.length;
		const [s, x] = frame(fig, 'accuracy per version with 95% intervals', w, h, [0, 1], [0, vs.length], { xticks: tenths.map((t) => ({ v: t, label: pct0(t) })), xlabel: 'accuracy' });
		vs.forEach((v, i) => {
			const cy = 10 + 44 * i + 22;
			s.append(svg('text', { x: 50, y: cy - 10 }, vname(v) + ' · ' + v.judged + ' judged'));
			if (v.accuracy == null) return;
			s.append(svg('line', { class: 'interval c' + (i % 6), x1: x(v.accuracy_low), x2: x(v.accuracy_high), y1: cy + 4, y2: cy + 4 }));
			s.append(tip(svg('circle', { class: 'c' + (i % 6), cx: x(v.accuracy), cy: cy + 4, r: 5 }),
				vname(v) + ': ' + pct(v.accuracy) + ' [' + pct(v.accuracy_low) + ', ' + pct(v.accuracy_high) + ']'));
		});
	}

	function chartTime(rep) {
		const fig = $('chart-time'), vs = (rep.versions || []).filter((v) => (v.accuracy_over_time || []).length);
		if (!vs.length) return empty(fig, 'No runs in this window.');
		const buckets = [...new Set([].concat(...vs.map((v) => v.accuracy_over_time.map((p) => p.bucket))))].sort();
		const [s, x, y] = frame(fig, 'accuracy over time per version', 400, 260, buckets.length > 1 ? [0, buckets.length - 1] : [-1, 1], [0, 1], {
			yticks: tenths, yfmt: pct0,
			xticks: buckets.length > 1 ? [{ v: 0, label: buckets[0], anchor: 'start' }, { v: buckets.length - 1, label: buckets[buckets.length - 1], anchor: 'end' }]
				: [{ v: 0, label: buckets[0] }],
		});
		vs.forEach((v, i) => {
			const pts = v.accuracy_over_time.filter((p) => p.accuracy != null).map((p) => [x(buckets.indexOf(p.bucket)), y(p.accuracy), p]);
			if (pts.length > 1) s.append(svg('polyline', { class: 'c' + (i % 6), points: pts.map((p) => p[0] + ',' + p[1]).join(' ') }));
			pts.forEach((p) => s.append(tip(svg('circle', { class: 'c' + (i % 6), cx: p[0], cy: p[1], r: 3.5 }), vname(v) + ' ' + p[2].bucket + ': ' + pct(p[2].accuracy) + ' of ' + p[2].judged)));
		});
		legend(fig, vs.map(vname));
	}

	function chartSteps(rep) {
		const fig = $('chart-steps'), vs = (rep.versions || []).filter((v) => (v.steps_histogram || []).length);
		if (!vs.length) return empty(fig, 'No runs with a step count.');
		const smax = Math.max(...vs.map((v) => v.steps_histogram.length - 1));
		const share = vs.map((v) => { const t = v.steps_histogram.reduce((a, b) => a + b, 0) || 1; return v.steps_histogram.map((k) => k / t); });
		const top = Math.max(0.01, ...[].concat(...share));
		const ticks = [];
		for (let k = 1; k <= smax; k += Math.max(1, Math.ceil(smax / 12))) ticks.push({ v: k, label: String(k) });
		const [s, x, y] = frame(fig, 'share of runs by ACT steps used, per version', 400, 260, [0.5, smax + 0.5], [0, top], {
			yticks: [0, top / 2, top], yfmt: pct0, xticks: ticks, xlabel: 'ACT steps',
		});
		const bw = (x(1.5) - x(0.5)) * 0.8 / vs.length;
		vs.forEach((v, i) => share[i].forEach((f, k) => {
			if (!k || !f) return;
			s.append(tip(svg('rect', { class: 'c' + (i % 6), x: x(k - 0.4) + i * bw, y: y(f), width: Math.max(1, bw - 1), height: y(0) - y(f) }),
				vname(v) + ': ' + v.steps_histogram[k] + ' runs used ' + k + ' steps'));
		}));
		legend(fig, vs.map(vname));
	}

	function chartCalibration(rep) {
		const fig = $('chart-calibration'), vs = rep.versions || [];
		if (!vs.length) return empty(fig, 'No runs in this window.');
		const [s, x, y] = frame(fig, 'calibration: mean halt confidence against accuracy per bin', 400, 300, [0, 1], [0, 1], {
			yticks: tenths, yfmt: pct0, xticks: tenths.map((t) => ({ v: t, label: pct0(t) })), xlabel: 'halt confidence',
		});
		s.append(svg('line', { class: 'ideal', x1: x(0), y1: y(0), x2: x(1), y2: y(1) }));
		vs.forEach((v, i) => {
			const pts = (v.calibration || []).filter((b) => b.judged && b.accuracy != null && b.mean_confidence != null);
			if (pts.length > 1) s.append(svg('polyline', { class: 'c' + (i % 6), points: pts.map((b) => x(b.mean_confidence) + ',' + y(b.accuracy)).join(' ') }));
			pts.forEach((b) => s.append(tip(svg('circle', { class: 'c' + (i % 6), cx: x(b.mean_confidence), cy: y(b.accuracy), r: 2 + Math.min(6, Math.sqrt(b.judged)) }),
				vname(v) + ': confidence ' + pct(b.mean_confidence) + ', accuracy ' + pct(b.accuracy) + ' of ' + b.judged)));
		});
		legend(fig, vs.map((v) => vname(v) + (v.ece != null ? ' (ECE ' + v.ece.toFixed(3) + ')' : '')));
	}

	function chartCanary(rep) {
		const fig = $('chart-canary'), ks = rep.canaries || [];
		if (!ks.length) return empty(fig, 'No canary ran in this window (the console starts one: a canary with a share).');
		const h = 50 + 90 * ks.length;
		const [s, x] = frame(fig, 'canary against champion, 95% intervals', 400, h, [0, 1], [0, 1], { xticks: tenths.map((t) => ({ v: t, label: pct0(t) })), xlabel: 'accuracy' });
		ks.forEach((k, i) => {
			const top = 10 + 90 * i;
			s.append(svg('text', { x: 50, y: top + 10, class: 'verdict', 'data-verdict': k.verdict }, k.context + ': ' + k.verdict +
				(k.verdict === 'not yet known' && k.runs_needed != null ? ' (about ' + k.runs_needed + ' more judged runs)' : '')));
			[['champion', k.champion, 0], ['canary', k.canary, 1]].forEach(([name, a, j]) => {
				const cy = top + 34 + 26 * j;
				s.append(svg('text', { x: 50, y: cy - 4 }, name + ': ' + (a.module || '?') + ' ' + (a.version || '') + ' · ' + a.judged + ' judged'));
				if (a.accuracy == null) return;
				s.append(svg('line', { class: 'interval c' + j, x1: x(a.accuracy_low), x2: x(a.accuracy_high), y1: cy + 6, y2: cy + 6 }));
				s.append(svg('circle', { class: 'c' + j, cx: x(a.accuracy), cy: cy + 6, r: 4.5 }));
			});
		});
		legend(fig, ['champion', 'canary']);
	}

	function table(rep) {
		const tb = $('groups').tBodies[0];
		tb.textContent = '';
		(rep.groups || []).forEach((g) => {
			const tr = document.createElement('tr');
			[g.context || '(none)', g.module, g.version, g.runs, g.errors, g.judged,
				g.judged ? pct(g.accuracy) + ' [' + pct(g.accuracy_low) + ', ' + pct(g.accuracy_high) + ']' : '–',
				g.mean_steps == null ? '–' : g.mean_steps.toFixed(2),
				g.latency_p50_ms == null ? '–' : g.latency_p50_ms.toFixed(1) + ' / ' + g.latency_p95_ms.toFixed(1) + ' ms', g.corrections]
				.forEach((v) => { const td = document.createElement('td'); td.textContent = v; tr.append(td); });
			tb.append(tr);
		});
		$('groups-card').hidden = false;
	}

	async function show() {
		showError('');
		let rep;
		try { rep = await (await get('/v1/report?' + query())).json(); }
		catch (e) { if ($('token-form').hidden) showError('The report cannot be read: ' + e.message); return; }
		const kindName = { run: "the learners' runs", eval: 'evaluations', all: 'all runs' }[rep.kinds] || 'runs of kind ' + rep.kinds;
		const errors = (rep.groups || []).reduce((a, g) => a + (g.errors || 0), 0);
		$('summary').textContent = (rep.context ? (rep.context.endsWith('*') ? 'Every context under ' + rep.context.slice(0, -1) : rep.context) : 'Every context') +
			' (' + kindName + '): ' + rep.runs + ' runs, ' + errors + ' errors, ' + rep.learners + ' learners, ' +
			rep.judged + ' judged, ' + rep.correct + ' correct' + (rep.since ? ' since ' + rep.since : '') + ' (report of ' + rep.generated_at + ')';
		$('charts').hidden = false;
		chartAccuracy(rep);
		chartTime(rep);
		chartSteps(rep);
		chartCalibration(rep);
		chartCanary(rep);
		table(rep);
		history.replaceState(null, '', '/report?' + query());
	}

	$('filter').addEventListener('submit', (ev) => { ev.preventDefault(); show(); });
	$('csv').addEventListener('click', async () => {
		showError('');
		try {
			const blob = await (await get('/v1/report?' + query({ format: 'csv', table: $('table').value }))).blob();
			const a = document.createElement('a');
			a.href = URL.createObjectURL(blob);
			a.download = 'trmx-report-' + ($('context').value || 'all').replace(/[^A-Za-z0-9_-]+/g, '-') + '-' + $('table').value + '.csv';
			document.body.append(a);
			a.click();
			a.remove();
			setTimeout(() => URL.revokeObjectURL(a.href), 10000);
		} catch (e) { showError('The CSV cannot be read: ' + e.message); }
	});

	async function start() {
		const q = new URLSearchParams(location.search);
		let ctxs;
		try { ctxs = await (await get('/v1/contexts')).json(); }
		catch (e) { if ($('token-form').hidden) showError('The server cannot be read: ' + e.message); return; }
		const sel = $('context');
		sel.replaceChildren(sel.options[0]);
		// every context under a prefix (course/*, as trmx report --context 'course/*'), then each context
		const prefixes = [...new Set(ctxs.contexts.map((c) => c.context).filter((c) => c.includes('/')).map((c) => c.slice(0, c.lastIndexOf('/') + 1)))].sort();
		prefixes.forEach((p) => { const o = document.createElement('option'); o.value = p + '*'; o.textContent = p + '* (every context under ' + p + ')'; sel.append(o); });
		ctxs.contexts.forEach((c) => { const o = document.createElement('option'); o.value = o.textContent = c.context; sel.append(o); });
		if (q.get('context')) {
			if (![...sel.options].some((o) => o.value === q.get('context'))) { const o = document.createElement('option'); o.value = o.textContent = q.get('context'); sel.append(o); }
			sel.value = q.get('context');
		}
		if (q.has('since')) $('since').value = q.get('since');
		if (q.has('kind') && [...$('kind').options].some((o) => o.value === q.get('kind'))) $('kind').value = q.get('kind');
		$('filter').hidden = false;
		show();
	}
	start();
})();
