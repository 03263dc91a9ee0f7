// Versions and branches: ?version=N, /versions, ETag growth; branches made
// from a version, read and written with ?branch= while main stays as it was,
// listed, deleted; 409 without versioning, 404 from a missing version, 409
// for a duplicate.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { problem, startNode, status } from './lib/node.mjs';
import { client } from './lib/contract.mjs';

let node;
let api;
before(async () => {
  node = await startNode();
  api = client(node.base);
  status(await api.req('PUT', '/fs/v', { json: { attrs: { n: 'Int', s: 'String' }, opts: { versioning: true } } }), 201);
  status(await api.req('PUT', '/fs/flat', { json: { attrs: { n: 'Int' } } }), 201);
});
after(async () => { await node?.stop(); });

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

test('every write makes the next version; ETag grows with it', async () => {
  for (let i = 1; i <= 4; i++) {
    const r = await api.req('PUT', '/fs/v/x', { json: { attrs: { n: i, s: `v${i}` } } });
    status(r, i === 1 ? 201 : 200);
    assert.equal(r.headers.get('etag'), `"${i}"`);
    assert.equal(r.body.version, i);
  }
  const p = await api.req('PATCH', '/fs/v/x', { json: { attrs: { n: { $incr: 1 } } } });
  status(p, 200);
  assert.equal(p.headers.get('etag'), '"5"');
  const g = await api.req('GET', '/fs/v/x');
  assert.equal(g.headers.get('etag'), '"5"');
  assert.equal(g.body.attrs.n, 5);
  assert.equal(g.body.attrs.s, 'v4');
});

test('?version=N reads that version in a versioning space', async () => {
  for (let i = 1; i <= 4; i++) {
    const r = await api.req('GET', `/fs/v/x?version=${i}`);
    status(r, 200);
    assert.equal(r.body.version, i);
    assert.deepEqual(r.body.attrs, { n: i, s: `v${i}` });
    assert.equal(r.headers.get('etag'), `"${i}"`);
  }
  status(await api.req('GET', '/fs/v/x?version=5'), 200);
  const nm = await api.req('GET', '/fs/v/x?version=2', { headers: { 'If-None-Match': '"2"' } });
  status(nm, 304);
  problem(await api.req('GET', '/fs/v/x?version=6'), 404, 'version');
  problem(await api.req('GET', '/fs/v/x?version=0'), 400, 'version');
  problem(await api.req('GET', '/fs/v/x?version=abc'), 400, 'version');
  problem(await api.req('GET', '/fs/v/none?version=1'), 404, 'key');
});

test('/versions lists the history oldest first', async () => {
  const r = await api.req('GET', '/fs/v/x/versions');
  status(r, 200);
  assert.deepEqual(r.body.items.map((v) => v.version), [1, 2, 3, 4, 5]);
  for (const v of r.body.items) {
    assert.match(v.modified, RFC3339);
    assert.ok(Number.isInteger(v.size) && v.size > 0, 'size in bytes');
  }
  const mods = r.body.items.map((v) => Date.parse(v.modified));
  assert.deepEqual([...mods].sort((a, b) => a - b), mods, 'modified does not go back');
  problem(await api.req('GET', '/fs/v/none/versions'), 404, 'key');
  problem(await api.req('GET', '/fs/nosuch/x/versions'), 404, 'space');
});

test('without versioning only the head is kept; its number still grows', async () => {
  for (let i = 1; i <= 3; i++) status(await api.req('PUT', '/fs/flat/y', { json: { attrs: { n: i } } }), i === 1 ? 201 : 200);
  const g = await api.req('GET', '/fs/flat/y');
  assert.equal(g.headers.get('etag'), '"3"');
  status(await api.req('GET', '/fs/flat/y?version=3'), 200);
  problem(await api.req('GET', '/fs/flat/y?version=2'), 404, 'version');
  const l = await api.req('GET', '/fs/flat/y/versions');
  status(l, 200);
  assert.deepEqual(l.body.items.map((v) => v.version), [3]);
});

test('branches need versioning: 409 on a plain space', async () => {
  problem(await api.req('POST', '/fs/flat/y/branches', { json: { name: 'exp', from: 3 } }), 409);
  const b = await api.req('GET', '/fs/flat/y/branches');
  status(b, 200);
  assert.deepEqual(b.body.items.map((x) => x.name), ['main']);
});

test('POST /branches from version N: 201 + Location, the head is a copy of N', async () => {
  const r = await api.req('POST', '/fs/v/x/branches', { json: { name: 'exp', from: 2 } });
  status(r, 201);
  assert.equal(r.headers.get('location'), '/fs/v/x?branch=exp');
  assert.equal(r.body.branch, 'exp');
  assert.equal(r.body.version, 2);
  assert.deepEqual(r.body.attrs, { n: 2, s: 'v2' });
  assert.equal(r.headers.get('etag'), '"2"');
  const g = await api.req('GET', '/fs/v/x?branch=exp');
  status(g, 200);
  assert.deepEqual(g.body.attrs, { n: 2, s: 'v2' });
  assert.equal(g.body.branch, 'exp');
});

test('?branch= writes go to the branch; main is unchanged', async () => {
  const mainBefore = (await api.req('GET', '/fs/v/x')).body;
  const w = await api.req('PUT', '/fs/v/x?branch=exp', { json: { attrs: { n: 100, s: 'b' } } });
  status(w, 200);
  assert.equal(w.body.branch, 'exp');
  assert.equal(w.body.version, 3, 'branch versions number on from `from`');
  const p = await api.req('PATCH', '/fs/v/x?branch=exp', { json: { attrs: { n: { $incr: 1 } }, labels: { on: 'exp' } } });
  status(p, 200);
  assert.equal(p.body.attrs.n, 101);
  assert.equal(p.headers.get('etag'), '"4"');
  problem(await api.req('PUT', '/fs/v/x?branch=exp', { json: { attrs: { n: 1 } }, headers: { 'If-Match': '"3"' } }), 412);
  const g = await api.req('GET', '/fs/v/x?branch=exp');
  assert.deepEqual(g.body.attrs, { n: 101, s: 'b' });
  assert.deepEqual(g.body.labels, { on: 'exp' });
  assert.deepEqual((await api.req('GET', '/fs/v/x')).body, mainBefore, 'main unchanged');
  assert.deepEqual((await api.req('GET', '/fs/v/x?branch=main')).body, mainBefore, '?branch=main is main');
  const hist = await api.req('GET', '/fs/v/x/versions?branch=exp');
  status(hist, 200);
  assert.deepEqual(hist.body.items.map((v) => v.version), [2, 3, 4]);
  assert.deepEqual((await api.req('GET', '/fs/v/x/versions')).body.items.map((v) => v.version), [1, 2, 3, 4, 5]);
  // Search reads main heads only.
  const s = await api.req('GET', '/fs/v?n=101');
  status(s, 200);
  assert.deepEqual(s.body.items, []);
  const s2 = await api.req('GET', '/fs/v?n=5');
  assert.deepEqual(s2.body.items.map((o) => o.key), ['x']);
});

test('GET /branches lists main first, then the branches', async () => {
  status(await api.req('POST', '/fs/v/x/branches', { json: { name: 'second', from: 5 } }), 201);
  const r = await api.req('GET', '/fs/v/x/branches');
  status(r, 200);
  const names = r.body.items.map((b) => b.name);
  assert.equal(names[0], 'main');
  assert.deepEqual(names.slice(1).sort(), ['exp', 'second']);
  const main = r.body.items[0];
  assert.equal(main.from, null);
  assert.equal(main.version, 5);
  const exp = r.body.items.find((b) => b.name === 'exp');
  assert.equal(exp.from, 2);
  assert.equal(exp.version, 4);
  for (const b of r.body.items) assert.match(b.modified, RFC3339);
});

test('branch errors: duplicate 409, missing version 404, bad bodies 400, unknown branch 404', async () => {
  problem(await api.req('POST', '/fs/v/x/branches', { json: { name: 'exp', from: 1 } }), 409);
  problem(await api.req('POST', '/fs/v/x/branches', { json: { name: 'main', from: 1 } }), 409);
  problem(await api.req('POST', '/fs/v/x/branches', { json: { name: 'late', from: 9 } }), 404);
  problem(await api.req('POST', '/fs/v/none/branches', { json: { name: 'b', from: 1 } }), 404);
  problem(await api.req('POST', '/fs/v/x/branches', { json: { name: 'b' } }), 400, 'from');
  problem(await api.req('POST', '/fs/v/x/branches', { json: { name: 'b', from: 0 } }), 400, 'from');
  problem(await api.req('POST', '/fs/v/x/branches', { json: { from: 1 } }), 400, 'name');
  problem(await api.req('POST', '/fs/v/x/branches', { json: { name: 'b', from: 1, x: 1 } }), 400, 'x');
  problem(await api.req('POST', '/fs/v/x/branches', { json: { name: 'a/b', from: 1 } }), 400, 'name');
  problem(await api.req('POST', '/fs/v/x/branches', { json: { name: '..', from: 1 } }), 400, 'name');
  problem(await api.req('GET', '/fs/v/x?branch=nope'), 404, 'branch');
  problem(await api.req('GET', '/fs/v/x?branch=..'), 400, 'branch');
  const r = await api.req('GET', '/fs/v/x/branches');
  assert.deepEqual(r.body.items.map((b) => b.name).sort(), ['exp', 'main', 'second'], 'no branch made by a failed request');
});

test('DELETE ?branch= removes that branch only; DELETE of main removes everything', async () => {
  status(await api.req('DELETE', '/fs/v/x?branch=second'), 204);
  problem(await api.req('GET', '/fs/v/x?branch=second'), 404, 'branch');
  status(await api.req('GET', '/fs/v/x?branch=exp'), 200);
  assert.equal((await api.req('GET', '/fs/v/x')).body.version, 5);
  assert.deepEqual((await api.req('GET', '/fs/v/x/branches')).body.items.map((b) => b.name), ['main', 'exp']);

  status(await api.req('DELETE', '/fs/v/x'), 204);
  problem(await api.req('GET', '/fs/v/x'), 404, 'key');
  problem(await api.req('GET', '/fs/v/x?branch=exp'), 404);
  problem(await api.req('GET', '/fs/v/x?version=2'), 404);
  problem(await api.req('GET', '/fs/v/x/versions'), 404);
  problem(await api.req('GET', '/fs/v/x/branches'), 404);
  // A new object under the key starts from version 1 with no history.
  const n = await api.req('PUT', '/fs/v/x', { json: { attrs: { n: 1 } } });
  status(n, 201);
  assert.equal(n.body.version, 1);
  assert.deepEqual((await api.req('GET', '/fs/v/x/versions')).body.items.map((v) => v.version), [1]);
  assert.deepEqual((await api.req('GET', '/fs/v/x/branches')).body.items.map((b) => b.name), ['main']);
});

test('versions and branches answer ?fmt=ruby', async () => {
  const r = await api.req('GET', '/fs/v/x/versions?fmt=ruby');
  status(r, 200);
  assert.match(r.ctype, /^text\/x-ruby/);
  assert.match(r.text, /^\{"items" => \[\{"version" => 1, /);
  const b = await api.req('GET', '/fs/v/x/branches?fmt=ruby');
  assert.match(b.text, /"from" => nil/);
});

test('every answer fits the OpenAPI contract', () => api.verify());

test('the node stops cleanly (exit 0, no sanitizer report)', () => node.stop());
