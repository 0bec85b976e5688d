// xapi_validate.js — check xAPI statements (JSON lines) with the independent validator of
// Learning Locker, the npm package `xapi-validation` (conformance-tested against xAPI 1.0.3),
// plus the rules it does not cover: unique statement ids, every StatementRef naming a statement
// of the same export, and who did what (a run is the learner asking, the module answering).
//   node tools/xapi_validate.js NODE_MODULES_DIR FILE.jsonl...
// Prints one line per file and every problem; exits 1 when any statement is refused.
'use strict';
const fs = require('fs');
const path = require('path');
const modules = path.resolve(process.argv[2]);
const validate = require(path.join(modules, 'xapi-validation')).default;
let bad = 0, total = 0;
for (const file of process.argv.slice(3)) {
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0);
  const ids = new Set(), refs = [];
  let n = 0;
  lines.forEach((line, i) => {
    let st;
    try {
      st = JSON.parse(line);
    } catch (e) {
      console.log(`${file}:${i + 1}: not JSON: ${e.message}`);
      bad++;
      return;
    }
    // validate() returns the list of problems (rulr warnings), empty when the statement is valid
    let warnings;
    try {
      warnings = validate(st);
    } catch (e) {
      warnings = [{ path: [], name: String(e) }];
    }
    if (warnings.length) {
      const why = warnings.map((w) => `${(w.path || []).join('.')}: ${w.name}${w.data !== undefined ? ' (' + JSON.stringify(w.data).slice(0, 120) + ')' : ''}`);
      if (bad < 20) console.log(`${file}:${i + 1}: refused by xapi-validation: ${why.join('; ')}`);
      bad++;
    }
    // who did what (schemas/xapi.md): a run's statement (an Activity object) is the learner
    // requesting a solution and the module version, in context.team, answering; the module's
    // answer is never the learner's success, score or response
    if (st.object && (st.object.objectType || 'Activity') === 'Activity') {
      const r = st.result || {}, team = (st.context || {}).team || {}, acc = team.account || {};
      const why = [];
      if (!/\/xapi\/verbs\/requested-solution$/.test((st.verb || {}).id || '')) why.push(`verb ${(st.verb || {}).id}`);
      if ('success' in r || 'score' in r || 'response' in r) why.push('result.success, score or response (the module\'s work) on the learner');
      if (team.objectType !== 'Group' || !/\/modules$/.test(acc.homePage || '') || !/@/.test(acc.name || '')) why.push('no module version in context.team');
      if (why.length) {
        if (bad < 20) console.log(`${file}:${i + 1}: a run's statement does not say who did what: ${why.join('; ')}`);
        bad++;
      }
    }
    if (ids.has(st.id)) {
      console.log(`${file}:${i + 1}: statement id ${st.id} repeated`);
      bad++;
    }
    ids.add(st.id);
    if (st.object && st.object.objectType === 'StatementRef') refs.push([i + 1, st.object.id]);
    n++;
  });
  for (const [line, id] of refs) {
    if (!ids.has(id)) {
      console.log(`${file}:${line}: StatementRef ${id} names no statement of the export`);
      bad++;
    }
  }
  total += n;
  console.log(`${file}: ${n} statements checked`);
}
console.log(`${total} statements, ${bad} refused`);
process.exit(bad ? 1 : 0);
