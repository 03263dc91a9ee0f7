// PATCH: $incr, $append, $max, $min, $unset, plain values, label merging,
// creation of a missing object, refusals that change nothing, and many
// concurrent $incr on one key.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { problem, startNode, status } from './lib/node.mjs';
import { client } from './lib/contract.mjs';

let node;
let api;
before(async () => {
  node = await startNode();
  api = client(node.base);
  status(await api.req('PUT', '/fs/p', {
    json: { attrs: { n: 'Int', f: 'Float', tags: 'List', best: 'Int', low: 'Int', old: 'String', name: 'String', m: 'Map', ok: 'Bool' } },
  }), 201);
});
after(async () => { await node?.stop(); });

test('PATCH of a missing object creates it (201): numbers start at 0, lists at []', async () => {
  const r = await api.req('PATCH', '/fs/p/k', {
    json: {
      attrs: { n: { $incr: 5 }, f: { $incr: 1.5 }, tags: { $append: 'x' }, best: { $max: 7 }, low: { $min: 2 }, old: { $unset: true }, name: 'plain' },
      labels: { seen: true, stale: 1 },
    },
  });
  status(r, 201);
  assert.equal(r.headers.get('location'), '/fs/p/k');
  assert.equal(r.headers.get('etag'), '"1"');
  assert.deepEqual(r.body.attrs, { n: 5, f: 1.5, tags: ['x'], best: 7, low: 0, name: 'plain' });
  assert.deepEqual(r.body.labels, { seen: true, stale: 1 });
  assert.equal(r.body.version, 1);
  const g = await api.req('GET', '/fs/p/k');
  assert.deepEqual(g.body.attrs, r.body.attrs);
});

test('PATCH ops on an existing object; labels merge and null removes one', async () => {
  const r = await api.req('PATCH', '/fs/p/k', {
    json: {
      attrs: { n: { $incr: -8 }, f: { $incr: 0.25 }, tags: { $append: { y: [1] } }, best: { $max: 5 }, low: { $min: -1 }, old: 'there' },
      labels: { stale: null, more: 'x' },
    },
  });
  status(r, 200);
  assert.equal(r.headers.get('location'), null);
  assert.equal(r.headers.get('etag'), '"2"');
  assert.deepEqual(r.body.attrs, { n: -3, f: 1.75, tags: ['x', { y: [1] }], best: 7, low: -1, old: 'there', name: 'plain' });
  assert.deepEqual(r.body.labels, { seen: true, more: 'x' });

  const r2 = await api.req('PATCH', '/fs/p/k', { json: { attrs: { best: { $max: 70 }, low: { $min: 3 }, old: { $unset: true } } } });
  status(r2, 200);
  assert.equal(r2.body.attrs.best, 70);
  assert.equal(r2.body.attrs.low, -1);
  assert.ok(!('old' in r2.body.attrs), '$unset removes the attribute');
  assert.deepEqual(r2.body.labels, { seen: true, more: 'x' }, 'labels untouched when not given');
  const g = await api.req('GET', '/fs/p/k');
  assert.deepEqual(g.body, r2.body);
});

test('a plain value sets the attribute, of any declared type', async () => {
  const r = await api.req('PATCH', '/fs/p/k', { json: { attrs: { m: { a: 1 }, ok: true, tags: [] } } });
  status(r, 200);
  assert.deepEqual(r.body.attrs.m, { a: 1 });
  assert.equal(r.body.attrs.ok, true);
  assert.deepEqual(r.body.attrs.tags, []);
});

test('If-Match on PATCH: stale 412 changes nothing; current succeeds', async () => {
  const g = await api.req('GET', '/fs/p/k');
  const v = g.body.version;
  problem(await api.req('PATCH', '/fs/p/k', { json: { attrs: { n: { $incr: 1 } } }, headers: { 'If-Match': `"${v - 1}"` } }), 412);
  assert.deepEqual((await api.req('GET', '/fs/p/k')).body, g.body);
  const ok = await api.req('PATCH', '/fs/p/k', { json: { attrs: { n: { $incr: 1 } } }, headers: { 'If-Match': `"${v}"` } });
  status(ok, 200);
  assert.equal(ok.body.attrs.n, g.body.attrs.n + 1);
  problem(await api.req('PATCH', '/fs/p/nope', { json: { attrs: { n: { $incr: 1 } } }, headers: { 'If-Match': '*' } }), 412);
  problem(await api.req('GET', '/fs/p/nope'), 404, 'key');
});

test('a wrong-type op is 422 naming the attribute, and nothing changes', async () => {
  const before = (await api.req('GET', '/fs/p/k')).body;
  const bad = [
    [{ tags: { $incr: 1 } }, 'attrs.tags'],
    [{ name: { $incr: 1 } }, 'attrs.name'],
    [{ n: { $append: 1 } }, 'attrs.n'],
    [{ n: { $incr: 'a' } }, 'attrs.n'],
    [{ n: { $incr: 1.5 } }, 'attrs.n'],
    [{ n: { $max: 'z' } }, 'attrs.n'],
    [{ n: { $bogus: 1 } }, 'attrs.n'],
    [{ n: 'str' }, 'attrs.n'],
    [{ undeclared: { $incr: 1 } }, 'attrs.undeclared'],
    // An op that would apply is not applied when another in the same PATCH fails.
    [{ n: { $incr: 1 }, name: 5 }, 'attrs.name'],
  ];
  for (const [attrs, field] of bad) {
    problem(await api.req('PATCH', '/fs/p/k', { json: { attrs, labels: { bad: true } } }), 422, field);
  }
  const after = (await api.req('GET', '/fs/p/k')).body;
  assert.deepEqual(after, before, 'object, version and labels unchanged');
  // Nor is a missing object created by a failed PATCH.
  problem(await api.req('PATCH', '/fs/p/never', { json: { attrs: { tags: { $incr: 1 } } } }), 422, 'attrs.tags');
  problem(await api.req('GET', '/fs/p/never'), 404, 'key');
});

test('PATCH with a non-object body or unknown field is 400; unknown space 404', async () => {
  problem(await api.req('PATCH', '/fs/p/k', { json: { attrs: {}, other: 1 } }), 400, 'other');
  problem(await api.req('PATCH', '/fs/nosuch/k', { json: { attrs: { n: { $incr: 1 } } } }), 404, 'space');
});

// One keep-alive PATCH loop per connection; a few connections per client.
function incrLoop(agent, port, count, deadline) {
  return new Promise((resolve, reject) => {
    let done = 0;
    const body = JSON.stringify({ attrs: { n: { $incr: 1 } } });
    const one = () => {
      if (done === count) { resolve(done); return; }
      if (Date.now() > deadline) { reject(new Error(`deadline passed after ${done} increments`)); return; }
      const r = http.request({
        host: '127.0.0.1', port, method: 'PATCH', path: '/fs/p/counter', agent, timeout: 10_000,
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
      }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode !== 200 && res.statusCode !== 201) {
            reject(new Error(`PATCH answered ${res.statusCode}`));
            return;
          }
          done++;
          one();
        });
      });
      r.on('timeout', () => r.destroy(new Error('PATCH timed out')));
      r.on('error', reject);
      r.end(body);
    };
    one();
  });
}

test('8 concurrent clients x 1,000 $incr on one key end at exactly 8,000', { timeout: 90_000 }, async () => {
  const CLIENTS = 8;
  const PER_CLIENT = 1000;
  const CONNS = 2;
  const deadline = Date.now() + 80_000;
  const agents = [];
  try {
    const loops = [];
    for (let c = 0; c < CLIENTS; c++) {
      const agent = new http.Agent({ keepAlive: true, maxSockets: CONNS });
      agents.push(agent);
      for (let k = 0; k < CONNS; k++) loops.push(incrLoop(agent, node.port, PER_CLIENT / CONNS, deadline));
    }
    const counts = await Promise.all(loops);
    assert.equal(counts.reduce((a, b) => a + b, 0), CLIENTS * PER_CLIENT);
  } finally {
    for (const a of agents) a.destroy();
  }
  const g = await api.req('GET', '/fs/p/counter');
  status(g, 200);
  assert.equal(g.body.attrs.n, CLIENTS * PER_CLIENT);
  assert.equal(g.body.version, CLIENTS * PER_CLIENT, 'one version per write');
  assert.equal(g.headers.get('etag'), `"${CLIENTS * PER_CLIENT}"`);
});

test('every answer fits the OpenAPI contract', () => api.verify());

test('the node stops cleanly (exit 0, no sanitizer report)', () => node.stop());
