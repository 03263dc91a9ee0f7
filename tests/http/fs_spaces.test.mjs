// Spaces: create (201/200/409), schema and object count, listing with
// limit and cursor, deletion.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { problem, startNode, status } from './lib/node.mjs';
import { client } from './lib/contract.mjs';

let node;
let api;
before(async () => {
  node = await startNode();
  api = client(node.base);
});
after(async () => { await node?.stop(); });

const WORDS = { key: 'word', attrs: { freq: 'Int' }, opts: { partitions: 8, failures: 2, versioning: false } };
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

test('PUT /fs/{space} creates a space: 201 with Location and the schema', async () => {
  const r = await api.req('PUT', '/fs/words', { json: WORDS });
  status(r, 201);
  assert.equal(r.headers.get('location'), '/fs/words');
  assert.match(r.ctype, /^application\/json/);
  assert.equal(r.body.name, 'words');
  assert.equal(r.body.key, 'word');
  assert.deepEqual(r.body.attrs, { freq: 'Int' });
  assert.deepEqual(r.body.opts, { partitions: 8, failures: 2, versioning: false });
  assert.equal(r.body.objects, 0);
  assert.match(r.body.created, RFC3339);
});

test('PUT of the same schema again is 200, also with defaults left out', async () => {
  const r = await api.req('PUT', '/fs/words', { json: WORDS });
  status(r, 200);
  assert.equal(r.headers.get('location'), null, '200 carries no Location');
  assert.equal(r.body.name, 'words');
  assert.deepEqual(r.body.attrs, { freq: 'Int' });
  const r2 = await api.req('PUT', '/fs/words', { json: { key: 'word', attrs: { freq: 'Int' } } });
  status(r2, 200);
  assert.deepEqual(r2.body.opts, { partitions: 8, failures: 2, versioning: false });
});

test('defaults: key "key", partitions 8, failures 2, versioning false', async () => {
  const r = await api.req('PUT', '/fs/bare', { json: {} });
  status(r, 201);
  assert.equal(r.body.key, 'key');
  assert.deepEqual(r.body.attrs, {});
  assert.deepEqual(r.body.opts, { partitions: 8, failures: 2, versioning: false });
});

test('PUT with another schema is 409 and changes nothing', async () => {
  const r = await api.req('PUT', '/fs/words', { json: { key: 'word', attrs: { freq: 'String' } } });
  problem(r, 409);
  const r2 = await api.req('PUT', '/fs/words', { json: { ...WORDS, opts: { versioning: true } } });
  problem(r2, 409);
  const s = await api.req('GET', '/fs/words?schema');
  status(s, 200);
  assert.deepEqual(s.body.attrs, { freq: 'Int' });
  assert.equal(s.body.opts.versioning, false);
});

test('bad space specs: 400 for unknown fields and non-objects, 422 for bad types and names', async () => {
  problem(await api.req('PUT', '/fs/bad', { json: { attrs: {}, bogus: 1 } }), 400, 'bogus');
  problem(await api.req('PUT', '/fs/bad', { json: { attrs: {}, opts: { bogus: 1 } } }), 400);
  problem(await api.req('PUT', '/fs/bad', { json: [] }), 400);
  problem(await api.req('PUT', '/fs/bad', { json: { attrs: { n: 'Integer' } } }), 422, 'attrs.n');
  problem(await api.req('PUT', '/fs/bad', { json: { attrs: { '1x': 'Int' } } }), 422, 'attrs.1x');
  problem(await api.req('PUT', '/fs/bad', { json: { attrs: { 'a-b': 'Int' } } }), 422, 'attrs.a-b');
  problem(await api.req('GET', '/fs/bad?schema'), 404, 'space');
});

test('every type name is accepted', async () => {
  const attrs = { i: 'Int', f: 'Float', s: 'String', b: 'Bool', y: 'Bytes', l: 'List', m: 'Map', a: 'Any', _x9: 'Int' };
  const r = await api.req('PUT', '/fs/types', { json: { attrs } });
  status(r, 201);
  assert.deepEqual(r.body.attrs, attrs);
});

test('GET /fs/{space}?schema answers the schema and its object count', async () => {
  let s = await api.req('GET', '/fs/words?schema');
  status(s, 200);
  assert.equal(s.body.objects, 0);
  for (const k of ['a', 'b', 'c']) {
    status(await api.req('PUT', `/fs/words/${k}`, { json: { attrs: { freq: 1 } } }), 201);
  }
  s = await api.req('GET', '/fs/words?schema');
  assert.equal(s.body.objects, 3);
  assert.equal(s.body.name, 'words');
  assert.equal(s.body.key, 'word');
  // Rewriting an object does not count it twice; deleting one does count.
  status(await api.req('PUT', '/fs/words/a', { json: { attrs: { freq: 2 } } }), 200);
  status(await api.req('DELETE', '/fs/words/b'), 204);
  s = await api.req('GET', '/fs/words?schema=');
  status(s, 200);
  assert.equal(s.body.objects, 2);
});

test('GET /fs lists spaces in name order with limit and cursor', async () => {
  const names = ['l-05', 'l-01', 'l-03', 'l-02', 'l-04', 'l-06', 'l-07'];
  for (const n of names) status(await api.req('PUT', `/fs/${n}`, { json: { attrs: { x: 'Int' } } }), 201);
  const all = await api.req('GET', '/fs?limit=1000');
  status(all, 200);
  assert.equal(all.body.next, null);
  const expected = all.body.items.map((s) => s.name);
  assert.deepEqual([...expected].sort(), expected, 'listing is in name order');
  for (const n of names) assert.ok(expected.includes(n), `${n} is listed`);

  const seen = [];
  let cursor = null;
  for (let page = 0; page < 50; page++) {
    const q = cursor === null ? '/fs?limit=2' : `/fs?limit=2&cursor=${encodeURIComponent(cursor)}`;
    const r = await api.req('GET', q);
    status(r, 200);
    assert.ok(r.body.items.length <= 2);
    for (const s of r.body.items) {
      assert.equal(typeof s.objects, 'number');
      seen.push(s.name);
    }
    cursor = r.body.next;
    if (cursor === null) break;
    assert.equal(typeof cursor, 'string');
  }
  assert.equal(cursor, null, 'paging ended');
  assert.deepEqual(seen, expected, 'each space exactly once, in order');

  const d = await api.req('GET', '/fs');
  status(d, 200);
  assert.deepEqual(d.body.items.map((s) => s.name), expected, 'default limit (100) holds them all');
});

test('GET /fs with a bad limit is 400 naming limit', async () => {
  for (const l of ['0', '1001', 'abc', '-1', '']) {
    problem(await api.req('GET', `/fs?limit=${l}`), 400, 'limit');
  }
});

test('GET /fs?fmt=ruby answers a Ruby literal', async () => {
  const r = await api.req('GET', '/fs?limit=1&fmt=ruby');
  status(r, 200);
  assert.match(r.ctype, /^text\/x-ruby/);
  assert.match(r.text, /^\{"items" => \[\{"name" => "/);
});

test('DELETE /fs/{space} removes it and everything in it: 204, then 404', async () => {
  status(await api.req('PUT', '/fs/gone', { json: { attrs: { n: 'Int' } } }), 201);
  status(await api.req('PUT', '/fs/gone/k1', { json: { attrs: { n: 1 } } }), 201);
  status(await api.req('PUT', '/fs/gone/k2', { json: { attrs: { n: 2 } } }), 201);
  const d = await api.req('DELETE', '/fs/gone');
  status(d, 204);
  assert.equal(d.text, '');
  problem(await api.req('GET', '/fs/gone?schema'), 404, 'space');
  problem(await api.req('GET', '/fs/gone/k1'), 404, 'space');
  problem(await api.req('GET', '/fs/gone?n=1'), 404, 'space');
  problem(await api.req('DELETE', '/fs/gone'), 404, 'space');
  const l = await api.req('GET', '/fs?limit=1000');
  assert.ok(!l.body.items.some((s) => s.name === 'gone'));
  // A new space of the same name starts empty: nothing of the old one is left.
  status(await api.req('PUT', '/fs/gone', { json: { attrs: { n: 'Int' } } }), 201);
  const s = await api.req('GET', '/fs/gone?schema');
  assert.equal(s.body.objects, 0);
  problem(await api.req('GET', '/fs/gone/k1'), 404, 'key');
  const q = await api.req('GET', '/fs/gone?n=1');
  status(q, 200);
  assert.deepEqual(q.body.items, []);
});

test('unknown space: GET ?schema, search and DELETE are 404 naming space', async () => {
  problem(await api.req('GET', '/fs/nosuch?schema'), 404, 'space');
  problem(await api.req('GET', '/fs/nosuch'), 404, 'space');
  problem(await api.req('DELETE', '/fs/nosuch'), 404, 'space');
});

test('every answer fits the OpenAPI contract', () => api.verify());

test('the node stops cleanly (exit 0, no sanitizer report)', () => node.stop());
