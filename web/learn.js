// learn.js — the learner's page (/learn/{context}; docs/WEB.md): a grid for the context's task
// (Sudoku 4x4, 6x6, 9x9 or a maze; raw text for other tasks), "Solve" streams every ACT step of
// the model as Server-Sent Events (fetch and a stream reader: EventSource cannot POST) and
// redraws the grid at each, then shows the checker's verdict with the cells at fault, and sends
// the learner's feedback. Keyboard: arrow keys move, digits (or #, S, G, o, space in a maze) type.
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
	const meta = (name) => { const m = document.querySelector('meta[name="' + name + '"]'); return m ? m.content : null; };
	const context = meta('trmx-context') || '';
	const STEP_MS = 150; // each step stays on screen at least this long, so the refinement is seen
	const MAZE_NAMES = { '#': 'wall', ' ': 'open', 'S': 'start', 'G': 'goal', 'o': 'path' };

	// The token: a session from the launch, else #token=... (kept out of the server's logs: a
	// fragment is never sent), else one typed into the form, else none (a server without tokens).
	let token = meta('trmx-session');
	if (!token) {
		const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
		if (m) {
			token = decodeURIComponent(m[1]);
			store.set('trmx-token', token);
			history.replaceState(null, '', location.pathname + location.search);
		} else {
			token = store.get('trmx-token');
		}
	}

	const st = {
		task: null, n: 0, canvas: 0, bh: 0, bw: 0,
		puzzle: [], shown: [], given: [], faults: new Set(), changed: new Set(),
		mode: 'edit', run: null, busy: false,
	};
	let cells = [];

	function ctxPath(c) { return c.split('/').map(encodeURIComponent).join('/'); }
	function say(text) { $('live').textContent = text; }
	function showError(text) { const e = $('error'); e.textContent = text; e.hidden = !text; }
	function headers(extra) {
		const h = Object.assign({}, extra || {});
		if (token) h.Authorization = 'Bearer ' + token;
		return h;
	}
	async function errorText(res) {
		try { const j = await res.json(); return (j.error && j.error.message) || ('HTTP ' + res.status); }
		catch (e) { return 'HTTP ' + res.status; }
	}
	async function api(method, path, body) {
		const init = { method: method, headers: headers(body === undefined ? {} : { 'Content-Type': 'application/json' }), cache: 'no-store' };
		if (body !== undefined) init.body = JSON.stringify(body);
		const res = await fetch(path, init);
		if (res.status === 401) { askToken(await errorText(res)); throw new Error('a token is needed'); }
		if (!res.ok) throw new Error(await errorText(res));
		return res.json();
	}
	function askToken(why) {
		if (meta('trmx-session')) { showError(why + ' — launch the activity again from your course.'); return; }
		$('token-form').hidden = false;
		$('board').hidden = true;
		if (token) showError(why);
		$('token-input').focus();
	}
	$('token-form').addEventListener('submit', (ev) => {
		ev.preventDefault();
		token = $('token-input').value.trim();
		store.set('trmx-token', token);
		$('token-form').hidden = true;
		showError('');
		start();
	});

	// ---- The grid --------------------------------------------------------------------------

	function params(text) {
		const o = {};
		(text || '').split(/[,\s]+/).forEach((kv) => { const i = kv.indexOf('='); if (i > 0) o[kv.slice(0, i)] = kv.slice(i + 1); });
		return o;
	}
	function blank() { return st.task === 'maze' ? ' ' : '.'; }

	function build() {
		const g = $('grid');
		g.textContent = '';
		cells = [];
		const n = st.n;
		g.style.setProperty('--n', n); // CSS variables are set through the CSSOM, which CSP allows
		g.className = 'grid ' + (st.task === 'maze' ? 'maze' : 'sudoku') + ' n' + n;
		g.setAttribute('aria-label', st.task === 'maze' ? 'maze, ' + n + ' by ' + n : 'Sudoku, ' + n + ' by ' + n);
		for (let r = 0; r < n; r++) {
			const row = document.createElement('div');
			row.setAttribute('role', 'row');
			row.className = 'grid-row';
			for (let c = 0; c < n; c++) {
				const cell = document.createElement('input');
				cell.type = 'text';
				cell.setAttribute('role', 'gridcell');
				cell.autocomplete = 'off';
				cell.spellcheck = false;
				cell.maxLength = 1;
				cell.inputMode = st.task === 'maze' ? 'text' : 'numeric';
				cell.dataset.i = r * n + c;
				cell.tabIndex = r === 0 && c === 0 ? 0 : -1; // one tab stop: arrows move inside
				if (st.task !== 'maze') {
					if ((c + 1) % st.bw === 0 && c + 1 < n) cell.classList.add('box-right');
					if ((r + 1) % st.bh === 0 && r + 1 < n) cell.classList.add('box-bottom');
				}
				row.appendChild(cell);
				cells.push(cell);
			}
			g.appendChild(row);
		}
	}

	function draw() {
		const n = st.n;
		for (let i = 0; i < cells.length; i++) {
			const cell = cells[i], v = st.shown[i];
			const maze = st.task === 'maze';
			cell.value = maze ? (v === ' ' ? '' : v) : (v === '.' ? '' : v);
			cell.classList.toggle('given', st.given[i]);
			cell.classList.toggle('answer', st.mode !== 'edit' && !st.given[i] && v !== blank());
			cell.classList.toggle('changed', st.changed.has(i));
			cell.classList.toggle('fault', st.faults.has(i));
			if (maze) for (const k in MAZE_NAMES) cell.classList.toggle('c-' + MAZE_NAMES[k], v === k);
			cell.readOnly = !editable(i);
			let label = 'row ' + (Math.floor(i / n) + 1) + ', column ' + (i % n + 1);
			if (maze) label += ', ' + (MAZE_NAMES[v] || v);
			else if (v === '.') label += ', empty';
			if (st.given[i] && !maze) label += ', given';
			if (st.changed.has(i)) label += ', changed';
			if (st.faults.has(i)) label += ', marked wrong by the checker';
			cell.setAttribute('aria-label', label);
			if (st.faults.has(i)) cell.setAttribute('aria-invalid', 'true'); else cell.removeAttribute('aria-invalid');
		}
		$('grid').dataset.mode = st.mode;
	}

	function editable(i) {
		if (st.busy) return false;
		if (st.mode === 'edit') return true;
		if (st.mode === 'correct') return st.task === 'maze' ? st.puzzle[i] === ' ' : !st.given[i];
		return false;
	}

	function setCell(i, v) {
		if (!editable(i)) return;
		if (st.task === 'maze' && st.mode === 'edit' && (v === 'S' || v === 'G'))
			st.shown.forEach((x, k) => { if (x === v) st.shown[k] = ' '; }); // one start, one goal
		st.shown[i] = v;
		if (st.mode === 'edit') { st.puzzle[i] = v; st.given[i] = st.task !== 'maze' && v !== '.'; }
		st.faults.delete(i);
		draw();
	}

	function focusCell(i) {
		if (i < 0 || i >= cells.length) return;
		cells.forEach((c) => { c.tabIndex = -1; });
		cells[i].tabIndex = 0;
		cells[i].focus();
		cells[i].select();
	}

	// The character a key types in this mode, null for none, undefined for a key not ours.
	function keyValue(key) {
		if (st.task === 'maze') {
			if (st.mode === 'correct') {
				if (key === 'o' || key === 'O') return 'o';
				if (key === ' ' || key === '.' || key === 'Backspace' || key === 'Delete') return ' ';
				return key.length === 1 ? null : undefined;
			}
			if (key === '#' || key === 'w' || key === 'W') return '#';
			if (key === ' ' || key === '.' || key === 'Backspace' || key === 'Delete') return ' ';
			if (key === 's' || key === 'S') return 'S';
			if (key === 'g' || key === 'G') return 'G';
			return key.length === 1 ? null : undefined;
		}
		if (/^[1-9]$/.test(key) && Number(key) <= st.n) return key;
		if (key === '.' || key === '0' || key === ' ' || key === 'Backspace' || key === 'Delete') return '.';
		return key.length === 1 ? null : undefined;
	}

	$('grid').addEventListener('keydown', (ev) => {
		const cell = ev.target;
		if (!cell.dataset || cell.dataset.i === undefined || ev.ctrlKey || ev.metaKey || ev.altKey) return;
		const i = Number(cell.dataset.i), n = st.n, r = Math.floor(i / n), c = i % n;
		const moves = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0] };
		if (moves[ev.key]) {
			ev.preventDefault();
			const nr = r + moves[ev.key][0], nc = c + moves[ev.key][1];
			if (nr >= 0 && nr < n && nc >= 0 && nc < n) focusCell(nr * n + nc);
			return;
		}
		if (ev.key === 'Home') { ev.preventDefault(); focusCell(r * n); return; }
		if (ev.key === 'End') { ev.preventDefault(); focusCell(r * n + n - 1); return; }
		const v = keyValue(ev.key);
		if (v === undefined) return; // Tab, Enter...: the browser's
		ev.preventDefault();
		if (v === null || !editable(i)) return;
		setCell(i, v);
		// typing moves on, so a puzzle can be typed in reading order
		if (ev.key !== 'Backspace' && ev.key !== 'Delete' && i + 1 < cells.length) focusCell(i + 1);
	});
	$('grid').addEventListener('input', (ev) => { // a soft keyboard that sends no key events
		const cell = ev.target, i = Number(cell.dataset.i);
		const ch = cell.value.slice(-1);
		const v = ch ? keyValue(ch) : blank();
		if (v !== undefined && v !== null) setCell(i, v); else draw();
	});
	$('grid').addEventListener('click', (ev) => { // a click in a maze toggles a wall (or the path)
		const cell = ev.target;
		if (st.task !== 'maze' || !cell.dataset || cell.dataset.i === undefined) return;
		const i = Number(cell.dataset.i);
		if (!editable(i)) return;
		const v = st.shown[i];
		if (st.mode === 'correct') setCell(i, v === 'o' ? ' ' : 'o');
		else if (v === '#' || v === ' ') setCell(i, v === '#' ? ' ' : '#');
	});

	function puzzleText() { return st.puzzle.join(''); }
	function shownText() { return st.shown.join(''); }

	function load(text) {
		const n = st.n, chars = Array.from(text);
		if (st.task === 'maze') {
			const t = chars.map((ch) => (ch === '.' ? ' ' : ch === 'o' ? ' ' : ch));
			if (t.length !== n * n || t.some((ch) => !(ch in MAZE_NAMES))) return false;
			st.puzzle = t;
		} else {
			const t = chars.map((ch) => (ch === '0' ? '.' : ch));
			if (t.length !== n * n || t.some((ch) => ch !== '.' && !(Number(ch) >= 1 && Number(ch) <= n))) return false;
			st.puzzle = t;
		}
		editMode();
		return true;
	}

	function editMode() {
		st.mode = 'edit';
		st.shown = st.puzzle.slice();
		st.given = st.puzzle.map((v) => st.task !== 'maze' && v !== '.');
		st.faults = new Set();
		st.changed = new Set();
		$('edit').hidden = true;
		$('verdict').hidden = true;
		draw();
	}

	// ---- New puzzles, made here -------------------------------------------------------------

	function shuffle(a) {
		for (let i = a.length - 1; i > 0; i--) { const j = Math.floor(Math.random() * (i + 1)); [a[i], a[j]] = [a[j], a[i]]; }
		return a;
	}
	function range(k) { return Array.from({ length: k }, (_, i) => i); }
	function newSudoku() {
		const n = st.n, bh = st.bh, bw = st.bw;
		// a solved grid by the usual pattern, then digits, rows in bands, bands, columns in
		// stacks and stacks shuffled: still solved
		const digits = shuffle(range(n).map((d) => d + 1));
		const rows = [].concat(...shuffle(range(n / bh)).map((b) => shuffle(range(bh)).map((r) => b * bh + r)));
		const cols = [].concat(...shuffle(range(n / bw)).map((b) => shuffle(range(bw)).map((c) => b * bw + c)));
		const out = [];
		for (let r = 0; r < n; r++)
			for (let c = 0; c < n; c++) {
				const rr = rows[r], cc = cols[c];
				out.push(String(digits[(bw * (rr % bh) + Math.floor(rr / bh) + cc) % n]));
			}
		const keep = Math.ceil(n * n * (n === 4 ? 0.45 : 0.5));
		shuffle(range(n * n)).slice(keep).forEach((i) => { out[i] = '.'; });
		return out.join('');
	}
	function newMaze() {
		const n = st.n, g = Array(n * n).fill('#');
		const open = (r, c) => { g[r * n + c] = ' '; };
		const seen = new Set(), stack = [[0, 0]];
		open(0, 0);
		seen.add(0);
		while (stack.length) { // a random spanning tree over the cells of even row and column
			const [r, c] = stack[stack.length - 1];
			const next = shuffle([[0, 2], [0, -2], [2, 0], [-2, 0]]).map(([dr, dc]) => [r + dr, c + dc, r + dr / 2, c + dc / 2])
				.filter(([a, b]) => a >= 0 && b >= 0 && a < n && b < n && !seen.has(a * n + b));
			if (!next.length) { stack.pop(); continue; }
			const [a, b, wr, wc] = next[0];
			open(wr, wc);
			open(a, b);
			seen.add(a * n + b);
			stack.push([a, b]);
		}
		const passages = range(n * n).filter((i) => g[i] === ' ');
		const s = passages[Math.floor(Math.random() * passages.length)];
		const dist = new Map([[s, 0]]), q = [s];
		while (q.length) { // the goal: a cell as far from the start as there is
			const i = q.shift(), r = Math.floor(i / n), c = i % n;
			[[r - 1, c], [r + 1, c], [r, c - 1], [r, c + 1]].forEach(([a, b]) => {
				const k = a * n + b;
				if (a >= 0 && b >= 0 && a < n && b < n && g[k] === ' ' && !dist.has(k)) { dist.set(k, dist.get(i) + 1); q.push(k); }
			});
		}
		let goal = s;
		dist.forEach((d, k) => { if (d > dist.get(goal)) goal = k; });
		g[s] = 'S';
		g[goal] = 'G';
		return g.join('');
	}

	// ---- Solving -----------------------------------------------------------------------------

	const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
	let chain = Promise.resolve();
	function later(fn) { chain = chain.then(fn); return chain; }

	function answerChars(text) {
		if (text == null) return null;
		const a = Array.from(text);
		return a.length === st.n * st.n ? a : null;
	}

	function drawStep(ev) {
		const a = answerChars(ev.answer);
		st.changed = new Set();
		if (a) {
			a.forEach((v, i) => { if (v !== st.shown[i]) st.changed.add(i); });
			st.shown = a;
		}
		draw();
		$('grid').dataset.step = ev.step;
		const pct = Math.round(ev.halt_confidence * 100);
		$('step-text').textContent = 'Step ' + ev.step + ' · halt confidence ' + pct + '%';
		$('confidence').value = ev.halt_confidence;
		const li = document.createElement('li');
		li.textContent = 'Step ' + ev.step + ': ' + st.changed.size + ' cell' + (st.changed.size === 1 ? '' : 's') +
			' changed, halt confidence ' + pct + '%' + (a ? '' : ' (no grid to show)');
		$('step-log').appendChild(li);
		say('Step ' + ev.step + ', ' + st.changed.size + ' cells changed, halt confidence ' + pct + ' percent');
		return sleep(STEP_MS);
	}

	function showResult(res) {
		const run = res.runs && res.runs[0];
		st.run = run;
		const box = $('verdict');
		box.hidden = false;
		box.dataset.module = res.module;
		box.dataset.version = res.version;
		box.dataset.runId = run ? run.run_id : '';
		box.className = 'card';
		$('feedback-status').textContent = '';
		delete $('feedback-status').dataset.recorded;
		if (!run || run.status === 'error') {
			box.dataset.verdict = 'error';
			$('verdict-title').textContent = 'The puzzle did not run';
			$('verdict-text').textContent = run ? run.error : 'no run';
			$('feedback').hidden = true;
			say('The puzzle did not run: ' + (run ? run.error : ''));
			return;
		}
		const a = answerChars(run.answer);
		if (a) st.shown = a;
		st.changed = new Set();
		st.faults = new Set();
		(run.cells || []).forEach((p) => { // sequence positions, on the task's canvas
			const r = Math.floor(p / st.canvas), c = p % st.canvas;
			if (r < st.n && c < st.n) st.faults.add(r * st.n + c);
		});
		draw();
		box.dataset.verdict = run.verdict;
		box.classList.add('v-' + run.verdict);
		const words = { valid: 'The checker says: valid', invalid: 'The checker says: not valid', unknown: 'The checker cannot tell' };
		$('verdict-title').textContent = words[run.verdict] || run.verdict;
		$('verdict-text').textContent = (run.message || '') + (st.faults.size ? ' (' + st.faults.size + ' cell' + (st.faults.size === 1 ? '' : 's') + ' marked on the grid)' : '');
		$('verdict-meta').textContent = res.module + ' ' + res.version + (res.arm === 'canary' ? ' (canary)' : '') + ' · ' + run.steps +
			' step' + (run.steps === 1 ? '' : 's') + ' (' + run.status + ') · halt confidence ' + Math.round(run.halt_confidence * 100) + '% · run ' + run.run_id;
		if (!a && run.answer != null) $('verdict-meta').textContent += ' · answer: ' + run.answer;
		$('feedback').hidden = false;
		['fb-right', 'fb-wrong', 'fb-correct', 'fb-send'].forEach((id) => { $(id).disabled = false; });
		$('fb-send').hidden = true;
		say($('verdict-title').textContent + '. ' + (run.message || '') + (st.faults.size ? ' ' + st.faults.size + ' cells are marked.' : ''));
	}

	async function solve() {
		if (st.busy) return;
		showError('');
		const body = { puzzle: st.task ? (cells.length ? puzzleText() : $('raw').value) : $('raw').value };
		if ($('fixed').checked) {
			const k = parseInt($('steps').value, 10);
			if (!(k >= 1 && k <= 1024)) { showError('The number of steps is from 1 to 1024.'); return; }
			body.halt = 'fixed';
			body.max_steps = k;
		}
		st.busy = true;
		st.mode = 'answer';
		st.shown = st.puzzle.slice();
		st.faults = new Set();
		st.changed = new Set();
		draw();
		$('solve').disabled = true;
		$('verdict').hidden = true;
		$('progress').hidden = false;
		$('step-log').textContent = '';
		$('step-text').textContent = 'Waiting for the model…';
		$('confidence').value = 0;
		delete $('grid').dataset.step;
		say('Solving');
		try {
			const res = await fetch('/v1/contexts/' + ctxPath(context) + '/solve', {
				method: 'POST', cache: 'no-store',
				headers: headers({ 'Content-Type': 'application/json', Accept: 'text/event-stream' }),
				body: JSON.stringify(body),
			});
			if (res.status === 401) { askToken(await errorText(res)); throw new Error('a token is needed'); }
			if (!res.ok) throw new Error(await errorText(res));
			const reader = res.body.getReader(), dec = new TextDecoder();
			let buf = '', result = null;
			const handle = (block) => {
				let name = 'message', data = '';
				block.split('\n').forEach((line) => {
					if (line.startsWith('event:')) name = line.slice(6).trim();
					else if (line.startsWith('data:')) data += line.slice(5).trim();
				});
				if (!data) return; // a keepalive comment
				const d = JSON.parse(data);
				if (name === 'step' && d.row === 0) later(() => drawStep(d));
				else if (name === 'result') { result = d; later(() => showResult(d)); }
				else if (name === 'error') throw new Error(d.error ? d.error.message : 'the solve failed');
			};
			for (;;) {
				const { value, done } = await reader.read();
				if (done) break;
				buf += dec.decode(value, { stream: true }).replace(/\r/g, '');
				let k;
				while ((k = buf.indexOf('\n\n')) >= 0) { handle(buf.slice(0, k)); buf = buf.slice(k + 2); }
			}
			if (!result) throw new Error('the stream ended without a result');
			await chain;
		} catch (e) {
			await chain;
			showError('Solving failed: ' + e.message);
			say('Solving failed');
		} finally {
			st.busy = false;
			$('solve').disabled = false;
			$('edit').hidden = false;
			draw();
		}
	}

	async function feedback(verdict, expected) {
		if (!st.run) return;
		const body = { verdict: verdict };
		if (expected) body.expected = expected;
		['fb-right', 'fb-wrong', 'fb-correct', 'fb-send'].forEach((id) => { $(id).disabled = true; });
		try {
			const r = await api('POST', '/v1/runs/' + encodeURIComponent(st.run.run_id) + '/feedback', body);
			$('feedback-status').textContent = r.recorded ? 'Thank you: your feedback is recorded.' : 'This feedback was recorded before.';
			$('feedback-status').dataset.recorded = 'yes';
			say($('feedback-status').textContent);
			if (st.mode === 'correct') { st.mode = 'answer'; $('fb-send').hidden = true; draw(); }
		} catch (e) {
			$('feedback-status').textContent = 'The feedback was not recorded: ' + e.message;
			['fb-right', 'fb-wrong', 'fb-correct', 'fb-send'].forEach((id) => { $(id).disabled = false; });
		}
	}

	$('solve').addEventListener('click', solve);
	$('edit').addEventListener('click', () => { editMode(); focusCell(0); });
	$('clear').addEventListener('click', () => { st.puzzle = Array(st.n * st.n).fill(blank()); editMode(); focusCell(0); });
	$('new').addEventListener('click', () => { load(st.task === 'maze' ? newMaze() : newSudoku()); focusCell(0); });
	$('load').addEventListener('click', () => {
		if (!load($('paste').value.replace(/\n$/, ''))) showError('That is not a ' + st.n + 'x' + st.n + ' ' + st.task + ' in one line (' + st.n * st.n + ' characters).');
		else showError('');
	});
	$('fb-right').addEventListener('click', () => feedback('correct'));
	$('fb-wrong').addEventListener('click', () => feedback('incorrect'));
	$('fb-correct').addEventListener('click', () => {
		st.mode = 'correct';
		st.faults = new Set();
		draw();
		$('fb-send').hidden = false;
		$('feedback-status').textContent = st.task === 'maze'
			? 'Mark the path with o (or a click), clear a cell with space, then send.'
			: 'Type the right digits into the grid, then send.';
		const first = cells.findIndex((c, i) => editable(i));
		if (first >= 0) focusCell(first);
	});
	$('fb-send').addEventListener('click', () => feedback('incorrect', shownText()));

	// ---- Start -------------------------------------------------------------------------------

	async function start() {
		let c;
		try {
			c = await api('GET', '/v1/contexts/' + ctxPath(context));
		} catch (e) {
			if (!$('token-form').hidden) return;
			showError('This course item cannot be read: ' + e.message);
			return;
		}
		const sv = c.serving || {};
		if (sv.error) { showError('This course item serves nothing now: ' + sv.error); return; }
		$('serving').textContent = 'Solved by ' + sv.module + ' ' + sv.version + (sv.alias ? ' (' + sv.alias + ')' : '') + ', a ' + sv.task + ' model';
		const p = params(sv.task_params);
		st.task = sv.task;
		st.n = parseInt(p.size, 10) || (sv.task === 'maze' ? 30 : 9);
		st.canvas = sv.task === 'maze' ? (parseInt(p.canvas, 10) || st.n) : st.n;
		if (sv.task === 'sudoku') {
			st.bh = st.n === 6 ? 2 : Math.round(Math.sqrt(st.n));
			st.bw = st.n / st.bh;
			$('board-help').textContent = 'Type the givens: digits 1 to ' + st.n + ', a dot or 0 for an empty cell; the arrow keys move between cells.';
		} else if (sv.task === 'maze') {
			$('board-help').textContent = 'Draw the maze: # (or a click) for a wall, space for an open cell, S for the start, G for the goal; the arrow keys move between cells.';
		} else {
			st.task = null;
			$('grid').hidden = true;
			$('raw').hidden = false;
			['new', 'clear'].forEach((id) => { $(id).hidden = true; });
			$('board-help').textContent = 'Type the puzzle as the ' + sv.task + ' task reads it (docs/TASKS.md).';
			$('board').hidden = false;
			return;
		}
		build();
		st.puzzle = Array(st.n * st.n).fill(blank());
		editMode();
		$('board').hidden = false;
	}
	start();
})();
