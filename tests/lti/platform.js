// platform.js — an LTI 1.3 platform stand-in for tests/http/lti.sh (acceptance point 2 of issue 18),
// written with npm `jose`: RSA keys and a JWKS endpoint, an OIDC auth endpoint that signs id_tokens,
// an OAuth2 token endpoint that verifies the tool's client_assertion against the tool's /lti/jwks,
// and an AGS scores endpoint that checks the bearer token and records each score. It also plays
// the learner's browser: login, launch, the learner page, a solve and feedback with the session.
//
//   node platform.js WORKDIR NODE_MODULES
// Listens on 127.0.0.1 (an ephemeral port) and writes WORKDIR/platform.json ({"port", "issuer",
// "client_id", "deployment", ...}); the shell registers it with `trmx lti add-platform`, starts
// `trmx serve`, then writes the tool's URL to WORKDIR/tool.url, which this script waits for. It
// prints one line per check (ok - / not ok -) and exits 1 when one failed.
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');
const crypto = require('crypto');
const { pathToFileURL } = require('url');

const [work, nodeModules] = process.argv.slice(2);
if (!work || !nodeModules) {
	console.error('usage: node platform.js WORKDIR NODE_MODULES');
	process.exit(2);
}

const CLIENT = 'trmx-test-client';
const DEPLOYMENT = 'dep-1';
const CONTEXT = 'course/unit-1';
const PUZZLE = '1.3..4.22.4..3.1';
const AGS_LINEITEM = '/lineitems/1/lineitem';
const CLAIM = 'https://purl.imsglobal.org/spec/lti/claim/';
const CLAIM_DL = 'https://purl.imsglobal.org/spec/lti-dl/claim/';
const SCOPE_SCORE = 'https://purl.imsglobal.org/spec/lti-ags/scope/score';

let failed = 0;
const ok = (name) => console.log(`ok - ${name}`);
const nok = (name, ...detail) => {
	failed++;
	console.log(`not ok - ${name}`);
	for (const d of detail) console.log(String(d).slice(0, 1500).replace(/^/gm, '#   '));
};
const check = (name, cond, ...detail) => (cond ? ok(name) : nok(name, ...detail));

async function main() {
	const jose = await import(pathToFileURL(require.resolve('jose', { paths: [nodeModules] })).href);
	const KID = 'platform-key-1';
	const good = await jose.generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
	const wrong = await jose.generateKeyPair('RS256', { modulusLength: 2048 }); // signs under the same kid
	const publicJwk = { ...(await jose.exportJWK(good.publicKey)), kid: KID, alg: 'RS256', use: 'sig' };

	let ISSUER = '', TOOL = '', toolJwks = null;
	const tokens = new Map(); // access token -> expiry (ms)
	const jtis = new Set();
	const scores = []; // {body, token, contentType, url}
	let scoreAttempts = 0;
	const tokenRequests = []; // {ok, why}
	const logins = new Map(); // lti_message_hint (the case) -> the auth request's query
	let lastNonce = null;

	// the id_token of a case, for the auth request `q`
	async function idToken(kase, q) {
		const now = Math.floor(Date.now() / 1000);
		let claims = {
			iss: ISSUER, aud: CLIENT, sub: 'user-42', exp: now + 300, iat: now, nonce: q.get('nonce'),
			name: 'Alice Example',
			[CLAIM + 'deployment_id']: DEPLOYMENT,
			[CLAIM + 'version']: '1.3.0',
			[CLAIM + 'message_type']: 'LtiResourceLinkRequest',
			[CLAIM + 'resource_link']: { id: 'rl-1', title: 'Sudoku practice' },
			[CLAIM + 'target_link_uri']: TOOL + '/lti/launch',
			[CLAIM + 'custom']: { trmx_context: CONTEXT },
			[CLAIM + 'roles']: ['http://purl.imsglobal.org/vocab/lis/v2/membership#Learner'],
			[CLAIM + 'context']: { id: 'course-77', title: 'Logic 101' },
			'https://purl.imsglobal.org/spec/lti-ags/claim/endpoint': {
				scope: ['https://purl.imsglobal.org/spec/lti-ags/scope/lineitem', SCOPE_SCORE],
				lineitem: ISSUER + AGS_LINEITEM + '?type_id=1',
			},
		};
		let key = good.privateKey, alg = 'RS256';
		switch (kase.split(':')[0]) {
		case 'valid': break;
		case 'badsig': key = wrong.privateKey; break;
		case 'badaud': claims.aud = 'another-tool'; break;
		case 'expired': claims.exp = now - 3600; claims.iat = now - 4000; break;
		case 'replay': claims.nonce = lastNonce; break;
		case 'baddep': claims[CLAIM + 'deployment_id'] = 'dep-unknown'; break;
		case 'unbound': claims[CLAIM + 'custom'] = { trmx_context: 'nowhere/unit-9' }; break;
		case 'query':
			delete claims[CLAIM + 'custom'];
			claims[CLAIM + 'target_link_uri'] = TOOL + '/lti/launch?context=' + encodeURIComponent(CONTEXT);
			break;
		case 'picked': claims[CLAIM + 'custom'] = { trmx_context: kase.slice('picked:'.length) }; break;
		case 'none': {
			const b = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
			return b({ alg: 'none', typ: 'JWT' }) + '.' + b(claims) + '.';
		}
		case 'hs256': alg = 'HS256'; key = new TextEncoder().encode('a shared secret nobody agreed on'); break;
		case 'deeplink':
		case 'dllearner':
			delete claims[CLAIM + 'resource_link'];
			delete claims[CLAIM + 'custom'];
			delete claims['https://purl.imsglobal.org/spec/lti-ags/claim/endpoint'];
			claims[CLAIM + 'message_type'] = 'LtiDeepLinkingRequest';
			claims[CLAIM + 'roles'] = [kase === 'dllearner' ? 'http://purl.imsglobal.org/vocab/lis/v2/membership#Learner'
				: 'http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor'];
			claims[CLAIM_DL + 'deep_linking_settings'] = {
				deep_link_return_url: ISSUER + '/dl-return', accept_types: ['ltiResourceLink'],
				accept_presentation_document_targets: ['iframe', 'window'], data: 'dl-data-' + kase,
			};
			break;
		default: throw new Error('no case ' + kase);
		}
		return await new jose.SignJWT(claims).setProtectedHeader({ alg, kid: KID, typ: 'JWT' }).sign(key);
	}

	async function body(req) {
		const chunks = [];
		for await (const c of req) chunks.push(c);
		return Buffer.concat(chunks).toString('utf8');
	}
	const send = (res, status, obj, type = 'application/json') => {
		res.writeHead(status, { 'Content-Type': type });
		res.end(typeof obj === 'string' ? obj : JSON.stringify(obj));
	};

	const server = http.createServer(async (req, res) => {
		try {
			const u = new URL(req.url, ISSUER);
			if (req.method === 'GET' && u.pathname === '/jwks') return send(res, 200, { keys: [publicJwk] });
			if (req.method === 'GET' && u.pathname === '/auth') {
				// the OIDC authorization request the tool redirected the browser to
				const q = u.searchParams, want = {
					scope: 'openid', response_type: 'id_token', response_mode: 'form_post', prompt: 'none',
					client_id: CLIENT, redirect_uri: TOOL + '/lti/launch', login_hint: 'user-42',
				};
				for (const [k, v] of Object.entries(want))
					if (q.get(k) !== v) return send(res, 400, { error: 'invalid_request', why: `${k} is '${q.get(k)}', not '${v}'` });
				if (!q.get('state') || !q.get('nonce')) return send(res, 400, { error: 'invalid_request', why: 'no state or nonce' });
				const kase = q.get('lti_message_hint');
				logins.set(kase, q);
				const tok = await idToken(kase, q);
				if (kase === 'valid') lastNonce = q.get('nonce');
				// a real platform answers an auto-submitting form; the test's "browser" posts it itself
				return send(res, 200, { action: q.get('redirect_uri'), id_token: tok, state: q.get('state') });
			}
			if (req.method === 'POST' && u.pathname === '/token') {
				const f = new URLSearchParams(await body(req));
				const fail = (why) => {
					tokenRequests.push({ ok: false, why });
					send(res, 401, { error: 'invalid_client', error_description: why });
				};
				if (f.get('grant_type') !== 'client_credentials') return fail('grant_type ' + f.get('grant_type'));
				if (f.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer')
					return fail('client_assertion_type ' + f.get('client_assertion_type'));
				if (f.get('scope') !== SCOPE_SCORE) return fail('scope ' + f.get('scope'));
				try {
					const { payload, protectedHeader } = await jose.jwtVerify(f.get('client_assertion'), toolJwks, {
						issuer: CLIENT, subject: CLIENT, audience: ISSUER + '/token', algorithms: ['RS256'],
					});
					if (!payload.jti || jtis.has(payload.jti)) return fail('the jti is missing or used before');
					if (!protectedHeader.kid) return fail('no kid in the assertion header');
					jtis.add(payload.jti);
				} catch (e) {
					return fail('client_assertion: ' + e.message);
				}
				const t = crypto.randomBytes(24).toString('hex');
				tokens.set(t, Date.now() + 3600 * 1000);
				tokenRequests.push({ ok: true });
				return send(res, 200, { access_token: t, token_type: 'Bearer', expires_in: 3600, scope: SCOPE_SCORE });
			}
			if (req.method === 'POST' && u.pathname === AGS_LINEITEM + '/scores') {
				const auth = req.headers.authorization || '', t = auth.replace(/^Bearer /, '');
				const text = await body(req);
				if (!tokens.has(t) || tokens.get(t) < Date.now()) return send(res, 401, { error: 'invalid token' });
				// the first score finds the platform briefly down: the tool must try again later
				if (scoreAttempts++ === 0) return send(res, 503, { error: 'try again later' });
				let b;
				try { b = JSON.parse(text); } catch (e) { return send(res, 400, { error: 'not JSON' }); }
				scores.push({ body: b, contentType: req.headers['content-type'], query: u.search, token: t });
				return send(res, 200, {});
			}
			send(res, 404, { error: 'no route ' + u.pathname });
		} catch (e) {
			send(res, 500, { error: String(e && e.stack || e) });
		}
	});
	await new Promise((r) => server.listen(0, '127.0.0.1', r));
	const port = server.address().port;
	ISSUER = `http://127.0.0.1:${port}`;
	const info = {
		port, issuer: ISSUER, client_id: CLIENT, deployment: DEPLOYMENT,
		jwks: ISSUER + '/jwks', auth: ISSUER + '/auth', token: ISSUER + '/token',
	};
	fs.writeFileSync(path.join(work, 'platform.json.tmp'), JSON.stringify(info));
	fs.renameSync(path.join(work, 'platform.json.tmp'), path.join(work, 'platform.json'));

	// wait for the shell to register us and start the tool
	const urlFile = path.join(work, 'tool.url');
	for (let i = 0; i < 1200 && !fs.existsSync(urlFile); i++) await new Promise((r) => setTimeout(r, 50));
	if (!fs.existsSync(urlFile)) throw new Error('the tool did not start (no ' + urlFile + ' after 60 s)');
	TOOL = fs.readFileSync(urlFile, 'utf8').trim();
	toolJwks = jose.createRemoteJWKSet(new URL(TOOL + '/lti/jwks'));

	// ---- the browser's side -----------------------------------------------------------------
	async function launch(kase) {
		const q = new URLSearchParams({
			iss: ISSUER, login_hint: 'user-42', target_link_uri: TOOL + '/lti/launch', lti_message_hint: kase,
			client_id: CLIENT, lti_deployment_id: DEPLOYMENT,
		});
		const r1 = await fetch(TOOL + '/lti/login?' + q, { redirect: 'manual' });
		const loc = r1.headers.get('location') || '';
		if (r1.status !== 302 || !loc.startsWith(ISSUER + '/auth?'))
			return { error: `login: HTTP ${r1.status}, Location '${loc}': ${await r1.text()}` };
		const r2 = await fetch(loc);
		const a = await r2.json();
		if (r2.status !== 200) return { error: `auth: HTTP ${r2.status}: ${JSON.stringify(a)}` };
		const form = { id_token: a.id_token, state: a.state };
		const r3 = await post(a.action, form);
		return { ...r3, form, loc };
	}
	async function post(url, form) {
		const r = await fetch(url, { method: 'POST', body: new URLSearchParams(form), redirect: 'manual' });
		return { status: r.status, text: await r.text(), headers: r.headers };
	}
	const unescape = (t) => t.replace(/&#39;/g, "'").replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
	const reason = (html) => unescape(((html || '').match(/<p id="reason">([^<]*)<\/p>/) || [, ''])[1]);
	const isPage = (r) => /^text\/html/.test(r.headers.get('content-type') || '');

	// ---- a valid launch ----------------------------------------------------------------------
	const v = await launch('valid');
	const lq = new URL(v.loc || 'http://x/').searchParams;
	check('the login redirects to the platform with scope, response_type, response_mode, prompt, client_id, redirect_uri, login_hint, lti_message_hint, state and nonce',
		!v.error && lq.get('state') && lq.get('nonce') && lq.get('lti_message_hint') === 'valid', v.error || v.loc);
	const session = ((v.text || '').match(/trmxs_[A-Za-z0-9_-]{40,}/) || [])[0];
	check('a valid launch answers 200 with the learner page', v.status === 200 && isPage(v), `HTTP ${v.status}: ${(v.text || v.error || '').slice(0, 600)}`);
	check('the learner page is for the mapped context and carries a session token',
		(v.text || '').includes(CONTEXT) && !!session, (v.text || '').slice(0, 800));
	const csp = v.headers ? v.headers.get('content-security-policy') || '' : '';
	check("the learner page may be framed by the course (CSP frame-ancestors)", /frame-ancestors \*/.test(csp), csp);

	const verdicts = [];
	let runId = null;
	const solve = async (puzzle) => {
		const r = await fetch(`${TOOL}/v1/contexts/${CONTEXT}/solve`, {
			method: 'POST', headers: { Authorization: 'Bearer ' + session, 'Content-Type': 'application/json' },
			body: JSON.stringify({ puzzle, learner: 'someone-else' }),
		});
		const d = await r.json().catch(() => ({}));
		const run = (d.runs && d.runs[0]) || {};
		if (r.status === 200 && run.run_id) verdicts.push(run.verdict);
		return { status: r.status, d, run };
	};
	if (session) {
		const { status, d, run } = await solve(PUZZLE);
		runId = run.run_id;
		check('a solve with the session token through /v1/contexts/{ctx}/solve: 200 with a run', status === 200 && !!runId, JSON.stringify(d));
		// a puzzle whose answer cannot keep its givens: the checker says invalid, the score is 0
		const bad = await solve('11..............');
		check("a second solve, of a puzzle the checker must judge invalid: 200", bad.status === 200 && bad.run.verdict === 'invalid', JSON.stringify(bad.d));
		const f = await fetch(`${TOOL}/v1/runs/${runId}/feedback`, {
			method: 'POST', headers: { Authorization: 'Bearer ' + session, 'Content-Type': 'application/json' },
			body: JSON.stringify({ verdict: 'correct' }),
		});
		const fd = await f.json().catch(() => ({}));
		check('learner feedback with the session token: 201, recorded as learner feedback', f.status === 201 && fd.source === 'learner', `HTTP ${f.status}: ${JSON.stringify(fd)}`);
		const o = await fetch(`${TOOL}/v1/contexts/other/unit/solve`, {
			method: 'POST', headers: { Authorization: 'Bearer ' + session }, body: JSON.stringify({ puzzle: PUZZLE }),
		});
		check('the session token may not solve in another context: 403', o.status === 403, `HTTP ${o.status}`);
	} else {
		nok('a solve with the session token', 'no session token on the page');
	}

	// ---- refusals ----------------------------------------------------------------------------
	const again = await post(TOOL + '/lti/launch', v.form || {});
	check('the same launch posted again (its state used): 400 with a page saying so',
		again.status === 400 && isPage(again) && /state/.test(reason(again.text)), `HTTP ${again.status}: ${reason(again.text)}`);
	const refusals = [
		['badsig', 401, /signature/, 'a wrong signature'],
		['badaud', 401, /audience/, 'a wrong audience'],
		['expired', 401, /expired/, 'an expired token'],
		['replay', 401, /nonce was used before/, 'a replayed nonce'],
		['baddep', 403, /deployment 'dep-unknown'/, 'an unknown deployment'],
		['none', 401, /alg 'none'/, 'alg none'],
		['hs256', 401, /alg 'HS256'/, 'alg HS256'],
		['unbound', 404, /not bound/, 'a context that is not bound'],
		['dllearner', 403, /instructor/, 'a deep linking request from a learner'],
	];
	for (const [kase, status, re, what] of refusals) {
		const r = await launch(kase);
		const why = reason(r.text);
		check(`${what} is refused: HTTP ${status} with a page saying what was wrong ("${why.slice(0, 90)}")`,
			!r.error && r.status === status && isPage(r) && re.test(why), r.error || `HTTP ${r.status}: ${why || (r.text || '').slice(0, 300)}`);
		if (r.text && /trmxs_/.test(r.text)) nok(`${what}: the refusal carries no session`, r.text.slice(0, 300));
	}
	const q = await launch('query');
	check('a link naming its context in the target link URI (?context=) opens its learner page',
		q.status === 200 && (q.text || '').includes(CONTEXT), q.error || `HTTP ${q.status}: ${reason(q.text)}`);

	// ---- deep linking ------------------------------------------------------------------------
	async function deepLink(kase, choose) {
		const d = await launch(kase);
		const picker = ((d.text || '').match(/name="picker" value="([^"]+)"/) || [])[1];
		const choices = [...(d.text || '').matchAll(/name="choice" value="([^"]+)"/g)].map((m) => m[1]);
		check(`deep linking (${kase}): the picker lists the bound contexts and the module aliases`,
			d.status === 200 && picker && choices.includes('context:' + CONTEXT) && choices.some((c) => c.startsWith('alias:')),
			d.error || `HTTP ${d.status}: ${choices} ${(d.text || '').slice(0, 500)}`);
		if (!picker) return null;
		const choice = choose(choices);
		const base = new URL(TOOL + '/lti/launch'); // the form's action is relative to the launch URL
		const a = await post(new URL('deeplink', base).href, { picker, choice });
		const jwt = ((a.text || '').match(/name="JWT" value="([^"]+)"/) || [])[1];
		const action = ((a.text || '').match(/<form method="post" action="([^"]+)"/) || [])[1];
		check(`deep linking (${kase}): the answer is a form posting a JWT to the platform's deep_link_return_url`,
			a.status === 200 && jwt && action === ISSUER + '/dl-return', `HTTP ${a.status}: ${(a.text || '').slice(0, 500)}`);
		const acsp = a.headers.get('content-security-policy') || '';
		check(`deep linking (${kase}): the answer page's CSP lets the form go to the platform only`,
			acsp.includes('form-action ' + ISSUER) && !/script-src[^;]*unsafe-inline/.test(acsp), acsp);
		const again2 = await post(new URL('deeplink', base).href, { picker, choice });
		check(`deep linking (${kase}): the picker id works once`, again2.status === 400, `HTTP ${again2.status}`);
		if (!jwt) return null;
		try {
			const { payload, protectedHeader } = await jose.jwtVerify(jwt, toolJwks, { issuer: CLIENT, audience: ISSUER, algorithms: ['RS256'] });
			const items = payload[CLAIM_DL + 'content_items'] || [];
			const it = items[0] || {};
			check(`deep linking (${kase}): the JWT verifies against the tool's /lti/jwks (kid ${protectedHeader.kid}) and is an LtiDeepLinkingResponse`,
				payload[CLAIM + 'message_type'] === 'LtiDeepLinkingResponse' && payload[CLAIM + 'version'] === '1.3.0' &&
				payload[CLAIM + 'deployment_id'] === DEPLOYMENT && payload[CLAIM_DL + 'data'] === 'dl-data-' + kase &&
				typeof payload.nonce === 'string' && payload.exp > payload.iat, JSON.stringify(payload));
			check(`deep linking (${kase}): one ltiResourceLink to the tool's launch URL with its context and a line item`,
				items.length === 1 && it.type === 'ltiResourceLink' && it.url === TOOL + '/lti/launch' && it.custom &&
				typeof it.custom.trmx_context === 'string' && it.lineItem && it.lineItem.scoreMaximum === 1 &&
				it.lineItem.resourceId === it.custom.trmx_context && it.title, JSON.stringify(items));
			return it.custom && it.custom.trmx_context;
		} catch (e) {
			nok(`deep linking (${kase}): the JWT verifies against the tool's /lti/jwks`, e.message);
			return null;
		}
	}
	const picked = await deepLink('deeplink:context', () => 'context:' + CONTEXT);
	check('deep linking a context: the content item names the chosen context', picked === CONTEXT, picked);
	const viaAlias = await deepLink('deeplink:alias', (cs) => cs.find((c) => c.startsWith('alias:')));
	check('deep linking a module alias: the content item names a new context of this course', /^lti\/[0-9a-f]{12}\//.test(viaAlias || ''), viaAlias);
	if (viaAlias) {
		const l = await launch('picked:' + viaAlias);
		check('a launch of the picked alias\'s link opens the learner page of that context',
			l.status === 200 && (l.text || '').includes(viaAlias), l.error || `HTTP ${l.status}: ${reason(l.text)}`);
	}

	// ---- grade passback ----------------------------------------------------------------------
	for (let i = 0; i < 600 && scores.length < verdicts.length; i++) await new Promise((r) => setTimeout(r, 50));
	const s0 = scores[0];
	check('the score reaches the AGS endpoint (lineitem + /scores, its query kept) with the access token the token endpoint issued',
		!!s0 && scores.every((x) => x.query === '?type_id=1' && tokens.has(x.token)), `scores ${JSON.stringify(scores)}; token requests ${JSON.stringify(tokenRequests)}`);
	check("the token endpoint verified the tool's client_assertion (RS256, iss = sub = client id, aud = token URL) against /lti/jwks, once (the token is cached)",
		tokenRequests.length === 1 && tokenRequests[0].ok, JSON.stringify(tokenRequests));
	verdicts.forEach((verdict, i) => {
		const b = (scores[i] || {}).body || {}, want = verdict === 'valid' ? 1 : 0;
		check(`score ${i + 1} has the right value (scoreGiven ${want} for the checker's verdict '${verdict}', scoreMaximum 1) for the platform's user`,
			b.scoreGiven === want && b.scoreMaximum === 1 && b.userId === 'user-42', JSON.stringify(b));
	});
	if (s0)
		check('the score is Completed, FullyGraded, with an ISO 8601 timestamp, as application/vnd.ims.lis.v1.score+json',
			s0.body.activityProgress === 'Completed' && s0.body.gradingProgress === 'FullyGraded' && !isNaN(Date.parse(s0.body.timestamp)) &&
			/^application\/vnd\.ims\.lis\.v1\.score\+json/.test(s0.contentType), JSON.stringify(s0));
	check('the first score post, refused with 503, was tried again (back-off) before the next score of the user was sent',
		scoreAttempts === scores.length + 1, `${scoreAttempts} posts for ${scores.length} scores`);
	await new Promise((r) => setTimeout(r, 300));
	check('one score per solve (no duplicates)', verdicts.length === 2 && scores.length === 2, JSON.stringify(scores.map((x) => x.body)));
	server.close();
	return failed;
}

main().then((n) => process.exit(n ? 1 : 0), (e) => {
	console.log('not ok - the platform stand-in runs');
	console.log(String(e && e.stack || e).replace(/^/gm, '#   '));
	process.exit(1);
});
