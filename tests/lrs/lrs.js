// lrs.js — a learning record store stand-in for tests/http/lrs.sh: the statements resource of
// xAPI 1.0.3 (POST, the part trmx uses), on loopback, strict where trmx could go wrong.
//   node tests/lrs/lrs.js NODE_MODULES STORE [--port N] [--port-file F] [--auth USER:PASS]
//                         [--fail N] [--retry-after S]
// - every request must carry X-Experience-API-Version: 1.0.3 (400 otherwise) and, with --auth,
//   HTTP Basic credentials (401 otherwise);
// - POST .../statements takes a statement or an array; EVERY statement is checked with the npm
//   package xapi-validation (400 and counted as invalid when it refuses one: the test fails);
// - statements are kept by id in STORE (JSON lines, appended before the answer), so a stand-in
//   killed and started again on the same STORE holds what it had; a batch is taken whole or not
//   at all;
// - an id it holds with the same content is a duplicate (counted, not stored again); with other
//   content the batch is refused with 409 Conflict, as xAPI says;
// - --fail N: the first N POSTs answer 500 (with Retry-After when --retry-after is given);
// - --die-after-store N: the Nth POST that stores statements stores them, then the process kills
//   itself before answering (the client never hears yes and must send the same batch again);
// - who did what (schemas/xapi.md): a run's statement (an Activity object) taken is counted in
//   in "runs" when the module version that answered is in context.team and the learner is not
//   given its work (no result.success, score or response), in "miscredited" otherwise (of the
//   statements held);
// - GET /_state: {"count", "ids", "duplicates", "invalid", "conflicts", "posts", "failed",
//   "refused_auth", "refused_version", "stored_lines", "runs", "miscredited"}.
// Prints "listening PORT" once it listens (port 0 or none: an ephemeral one).
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');

const args = process.argv.slice(2);
if (args.length < 2) {
  console.error('usage: lrs.js NODE_MODULES STORE [--port N] [--port-file F] [--auth U:P] [--fail N] [--retry-after S]');
  process.exit(2);
}
const validate = require(path.join(path.resolve(args[0]), 'xapi-validation')).default;
const store = args[1];
const opt = {};
for (let i = 2; i < args.length; i += 2) opt[args[i].replace(/^--/, '')] = args[i + 1];
const port = Number(opt.port || 0);
let failLeft = Number(opt.fail || 0);
let dieAfter = Number(opt['die-after-store'] || 0);

// A stable text of a statement: keys sorted at every level, so "the same content" does not depend
// on the order of keys.
function canonical(v) {
  if (Array.isArray(v)) return '[' + v.map(canonical).join(',') + ']';
  if (v && typeof v === 'object')
    return '{' + Object.keys(v).sort().map((k) => JSON.stringify(k) + ':' + canonical(v[k])).join(',') + '}';
  return JSON.stringify(v);
}

const held = new Map(); // id -> canonical text
let storedLines = 0;
if (fs.existsSync(store)) {
  for (const line of fs.readFileSync(store, 'utf8').split('\n')) {
    if (!line) continue;
    let st;
    try {
      st = JSON.parse(line);
    } catch (e) {
      continue; // a line cut by a kill in the middle of a write: its batch was never answered
    }
    storedLines++;
    held.set(st.id, canonical(st));
  }
}
const state = { duplicates: 0, invalid: 0, conflicts: 0, posts: 0, failed: 0, refused_auth: 0, refused_version: 0 };
// A run's statement that says who did what: the learner requested, the module (context.team) answered.
function whoDidWhat(st) {
  const r = st.result || {}, team = (st.context || {}).team || {}, acc = team.account || {};
  return /\/xapi\/verbs\/requested-solution$/.test((st.verb || {}).id || '') && !('success' in r) && !('score' in r) &&
    !('response' in r) && team.objectType === 'Group' && /\/modules$/.test(acc.homePage || '') && /@/.test(acc.name || '');
}
const expectAuth = opt.auth ? 'Basic ' + Buffer.from(opt.auth).toString('base64') : null;

function answer(res, status, body, headers) {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, Object.assign({ 'Content-Type': 'application/json', 'X-Experience-API-Version': '1.0.3' }, headers || {}));
  res.end(text);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const url = req.url.split('?')[0];
    if (req.method === 'GET' && url === '/_state') {
      let runs = 0, miscredited = 0;
      for (const text of held.values()) {
        const st = JSON.parse(text);
        if (st.object && (st.object.objectType || 'Activity') === 'Activity') whoDidWhat(st) ? runs++ : miscredited++;
      }
      return answer(res, 200, Object.assign({ count: held.size, ids: [...held.keys()], stored_lines: storedLines, runs, miscredited }, state));
    }
    if (req.headers['x-experience-api-version'] !== '1.0.3') {
      state.refused_version++;
      return answer(res, 400, { message: 'X-Experience-API-Version 1.0.3 is required' });
    }
    if (expectAuth && req.headers.authorization !== expectAuth) {
      state.refused_auth++;
      return answer(res, 401, { message: 'wrong or missing credentials' }, { 'WWW-Authenticate': 'Basic realm="lrs"' });
    }
    if (!url.endsWith('/statements')) return answer(res, 404, { message: 'no resource ' + url });
    if (req.method !== 'POST') return answer(res, 405, { message: 'only POST here' });
    state.posts++;
    if (failLeft > 0) {
      failLeft--;
      state.failed++;
      return answer(res, 500, { message: 'failing on purpose' }, opt['retry-after'] ? { 'Retry-After': opt['retry-after'] } : {});
    }
    if (!/^application\/json/.test(req.headers['content-type'] || ''))
      return answer(res, 400, { message: 'Content-Type must be application/json' });
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch (e) {
      state.invalid++;
      return answer(res, 400, { message: 'not JSON: ' + e.message });
    }
    const list = Array.isArray(body) ? body : [body];
    const fresh = [];
    const seen = new Map();
    for (const st of list) {
      let warnings;
      try {
        warnings = validate(st);
      } catch (e) {
        warnings = [{ path: [], name: String(e) }];
      }
      if (warnings.length || typeof st.id !== 'string') {
        state.invalid++;
        const why = warnings.map((w) => `${(w.path || []).join('.')}: ${w.name}`).join('; ') || 'no id';
        console.error(`invalid statement ${st && st.id}: ${why}`);
        return answer(res, 400, { message: `statement ${st && st.id} is invalid: ${why}` });
      }
      const text = canonical(st);
      const had = held.has(st.id) ? held.get(st.id) : seen.get(st.id);
      if (had !== undefined) {
        if (had !== text) {
          state.conflicts++;
          return answer(res, 409, { message: `statement ${st.id} is held with other content` });
        }
        state.duplicates++;
        continue;
      }
      seen.set(st.id, text);
      fresh.push(st);
    }
    if (fresh.length) {
      fs.appendFileSync(store, fresh.map((s) => JSON.stringify(s) + '\n').join(''));
      storedLines += fresh.length;
      for (const st of fresh) held.set(st.id, canonical(st));
      if (dieAfter > 0 && --dieAfter === 0) process.kill(process.pid, 'SIGKILL');
    }
    answer(res, 200, list.map((s) => s.id));
  });
});
server.listen(port, '127.0.0.1', () => {
  const p = server.address().port;
  if (opt['port-file']) fs.writeFileSync(opt['port-file'] + '.tmp', String(p)), fs.renameSync(opt['port-file'] + '.tmp', opt['port-file']);
  console.log('listening ' + p);
});
server.on('error', (e) => {
  console.error('lrs.js: ' + e.message);
  process.exit(1);
});
