// Concurrent clients: the store's single writer makes each write atomic on
// its record, so races have exactly one winner and lose no update:
// creating the same space or object from 8 clients gives one 201; PATCH of
// a missing key from 8 clients creates it once and counts every $incr;
// If-Match compare-and-set loops lose nothing; counts and searches stay
// exact under concurrent writes and deletes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startNode, status } from './lib/node.mjs';
import { client } from './lib/contract.mjs';

let node;
let api;
let agent;
before(async () => {
  node = await startNode();
  api = client(node.base);
  // Bounded concurrency: at most 16 keep-alive connections for the file.
  agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
});
after(async () => {
  agent?.destroy();
  await node?.stop();
});

/** One request on the shared keep-alive agent, bounded by 10 s; recorded for api.verify(). */
function call(method, path, { json, headers = {} } = {}) {
  const body = json === undefined ? undefined : JSON.stringify(json);
  const h = { ...headers };
  if (body !== undefined) {
    h['Content-Type'] = 'application/json';
    h['Content-Length'] = Buffer.byteLength(body);
  }
  return new Promise((resolve, reject) => {
    const r = http.request({ host: '127.0.0.1', port: node.port, method, path, headers: h, agent, timeout: 10_000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed;
        if (/json/.test(res.headers['content-type'] ?? '') && text) parsed = JSON.parse(text);
        const answer = { status: res.statusCode, headers: res.headers, text, body: parsed };
        // Recorded for the contract check at the end, like api.req answers.
        const hs = new Headers();
        for (const [k, v] of Object.entries(res.headers)) hs.set(k, Array.isArray(v) ? v.join(', ') : String(v));
        api.answers.push({ method, path, res: { ...answer, headers: hs, ctype: hs.get('content-type') ?? '' } });
        resolve(answer);
      });
      res.on('error', reject);
    });
    r.on('timeout', () => r.destroy(new Error(`${method} ${path} timed out`)));
    r.on('error', reject);
    r.end(body);
  });
}

const parallel = (n, fn) => Promise.all(Array.from({ length: n }, (_, i) => fn(i)));

test('8 clients create the same space: one 201, seven 200, one space', async () => {
  const rs = await parallel(8, () => call('PUT', '/fs/race', { json: { attrs: { n: 'Int', s: 'String' } } }));
  const codes = rs.map((r) => r.status).sort();
  assert.deepEqual(codes, [200, 200, 200, 200, 200, 200, 200, 201], rs.map((r) => r.text).join('\n'));
  const l = await api.req('GET', '/fs?limit=1000');
  assert.equal(l.body.items.filter((s) => s.name === 'race').length, 1);
  // And with two different schemas at once: one wins, the other is 409.
  const two = await Promise.all([
    call('PUT', '/fs/race2', { json: { attrs: { n: 'Int' } } }),
    call('PUT', '/fs/race2', { json: { attrs: { n: 'String' } } }),
  ]);
  assert.deepEqual(two.map((r) => r.status).sort(), [201, 409]);
  const winner = two.find((r) => r.status === 201).body.attrs.n;
  assert.equal((await api.req('GET', '/fs/race2?schema')).body.attrs.n, winner);
});

test('8 clients PUT the same new key: one 201 with version 1; versions 1..8 each once', async () => {
  const rs = await parallel(8, (i) => call('PUT', '/fs/race/k', { json: { attrs: { n: i } } }));
  assert.equal(rs.filter((r) => r.status === 201).length, 1, rs.map((r) => `${r.status} ${r.text}`).join('\n'));
  assert.equal(rs.filter((r) => r.status === 200).length, 7);
  assert.deepEqual(rs.map((r) => r.body.version).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(rs.find((r) => r.status === 201).body.version, 1);
  const g = await api.req('GET', '/fs/race/k');
  assert.equal(g.body.version, 8);
  // The head holds the value of the write that got version 8.
  assert.equal(g.body.attrs.n, rs.find((r) => r.body.version === 8).body.attrs.n);
  assert.equal((await api.req('GET', '/fs/race?schema')).body.objects, 1);
});

test('8 clients PATCH a missing key with $incr: created once, every increment counted', async () => {
  const rs = await parallel(8, async () => {
    const out = [];
    for (let j = 0; j < 25; j++) out.push(await call('PATCH', '/fs/race/p', { json: { attrs: { n: { $incr: 1 } } } }));
    return out;
  });
  const all = rs.flat();
  assert.equal(all.filter((r) => r.status === 201).length, 1, 'one create');
  assert.equal(all.filter((r) => r.status === 200).length, 199);
  const g = await api.req('GET', '/fs/race/p');
  assert.equal(g.body.attrs.n, 200);
  assert.equal(g.body.version, 200);
  // Each answer saw a distinct count: the n of the answers are 1..200.
  assert.deepEqual(all.map((r) => r.body.attrs.n).sort((a, b) => a - b), Array.from({ length: 200 }, (_, i) => i + 1));
});

test('If-Match compare-and-set from 8 clients loses no update', { timeout: 60_000 }, async () => {
  status(await api.req('PUT', '/fs/race/cas', { json: { attrs: { n: 0 } } }), 201);
  const PER = 20;
  let conflicts = 0;
  await parallel(8, async () => {
    for (let done = 0, tries = 0; done < PER; tries++) {
      assert.ok(tries < 2000, 'a CAS loop made progress');
      const g = await call('GET', '/fs/race/cas');
      assert.equal(g.status, 200);
      const w = await call('PUT', '/fs/race/cas', {
        json: { attrs: { n: g.body.attrs.n + 1 } }, headers: { 'If-Match': g.headers.etag },
      });
      if (w.status === 412) { conflicts++; continue; }
      assert.equal(w.status, 200, w.text);
      assert.equal(w.body.version, g.body.version + 1);
      done++;
    }
  });
  const g = await api.req('GET', '/fs/race/cas');
  assert.equal(g.body.attrs.n, 8 * PER, `no lost update (${conflicts} conflicts retried)`);
  assert.equal(g.body.version, 8 * PER + 1);
});

test('counts and searches stay exact under concurrent creates and deletes', { timeout: 60_000 }, async () => {
  status(await api.req('PUT', '/fs/churn', { json: { attrs: { n: 'Int' } } }), 201);
  // 8 writers: each creates 40 keys, then deletes the odd ones; 4 readers
  // search meanwhile and must always see well-formed pages.
  let stop = false;
  const readers = parallel(4, async () => {
    let reads = 0;
    while (!stop && reads < 500) {
      const r = await call('GET', '/fs/churn?n.gte=0&limit=50');
      assert.equal(r.status, 200, r.text);
      assert.ok(Array.isArray(r.body.items));
      for (const o of r.body.items) assert.ok(o.attrs.n >= 0);
      const c = await call('GET', '/fs/churn?count=true');
      assert.equal(c.status, 200);
      assert.ok(c.body.count >= 0 && c.body.count <= 320);
      reads++;
    }
  });
  await parallel(8, async (w) => {
    for (let i = 0; i < 40; i++) {
      const r = await call('PUT', `/fs/churn/w${w}-${i}`, { json: { attrs: { n: i } } });
      assert.equal(r.status, 201, r.text);
    }
    for (let i = 1; i < 40; i += 2) {
      const r = await call('DELETE', `/fs/churn/w${w}-${i}`);
      assert.equal(r.status, 204, r.text);
    }
  });
  stop = true;
  await readers;
  assert.equal((await api.req('GET', '/fs/churn?schema')).body.objects, 160);
  assert.deepEqual((await api.req('GET', '/fs/churn?count=true')).body, { count: 160 });
  const odd = await api.req('GET', '/fs/churn?n.gte=0&limit=1000');
  assert.equal(odd.body.items.length, 160);
  assert.ok(odd.body.items.every((o) => o.attrs.n % 2 === 0), 'no deleted object is found');
  assert.deepEqual((await api.req('GET', '/fs/churn?n=7&count=true')).body, { count: 0 });
  assert.deepEqual((await api.req('GET', '/fs/churn?n=8&count=true')).body, { count: 8 });
});

test('every answer fits the OpenAPI contract', () => api.verify());

test('the node stops cleanly (exit 0, no sanitizer report)', () => node.stop());
