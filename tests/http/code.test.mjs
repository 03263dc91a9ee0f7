// /code: Ruby source registered by SHA-256 fingerprint, compiled once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { problem, sleep, startNode, status } from './lib/node.mjs';
import { client, useNode } from './lib/contract.mjs';

const ctx = useNode({ args: ['--nuclei', '2'] });

const fp = (s) => `sha256:${createHash('sha256').update(s, 'utf8').digest('hex')}`;

async function compilations(api = ctx.api) {
  const r = await api.req('GET', '/sys/metrics');
  status(r, 200);
  const m = /^m31_code_compilations_total (\d+)$/m.exec(r.text);
  assert.ok(m, 'm31_code_compilations_total is in /sys/metrics');
  return Number(m[1]);
}

test('POST /code registers by fingerprint: 201 with Location, then 200', async () => {
  const src = 'def main(a, b) a * b end';
  const r = await ctx.api.req('POST', '/code', { json: { source: src } });
  status(r, 201);
  assert.equal(r.body.fingerprint, fp(src));
  assert.equal(r.body.size, Buffer.byteLength(src));
  assert.equal(r.body.uri, `/code/${fp(src)}`);
  assert.equal(r.headers.get('location'), r.body.uri);
  const c0 = await compilations();
  const again = await ctx.api.req('POST', '/code', { json: { source: src } });
  status(again, 200);
  assert.deepEqual(again.body, r.body);
  assert.equal(await compilations(), c0, 'a known fingerprint is not compiled again');
  const g = await ctx.api.req('GET', r.body.uri);
  status(g, 200);
  assert.equal(g.body.source, src);
  assert.equal(g.body.fingerprint, fp(src));
});

test('POST /code takes text/x-ruby too', async () => {
  const src = "def hello(n)\n  \"hi #{n}\"\nend\n";
  const r = await ctx.api.req('POST', '/code', { body: src, headers: { 'Content-Type': 'text/x-ruby' } });
  status(r, 201);
  assert.equal(r.body.fingerprint, fp(src));
});

test('a syntax error is 422 with its line and message, and registers nothing', async () => {
  const src = 'x = 1\ny = [1, 2\ndef z; end\n';
  const c0 = await compilations();
  const r = await ctx.api.req('POST', '/code', { json: { source: src } });
  const p = problem(r, 422, 'source');
  assert.equal(typeof p.line, 'number');
  assert.ok(p.line >= 2, `line ${p.line}`);
  assert.match(p.detail, /line \d+: .*syntax error/);
  status(await ctx.api.req('GET', `/code/${fp(src)}`), 404);
  assert.equal(await compilations(), c0, 'a failed compile is not counted');
});

test('bad POST /code bodies are 4xx problems', async () => {
  problem(await ctx.api.req('POST', '/code', { json: {} }), 422, 'source');
  problem(await ctx.api.req('POST', '/code', { json: { source: 5 } }), 422, 'source');
  problem(await ctx.api.req('POST', '/code', { json: { source: '' } }), 422, 'source');
  problem(await ctx.api.req('POST', '/code', { json: { source: '1', extra: 1 } }), 422, 'extra');
  problem(await ctx.api.req('POST', '/code', { json: [1] }), 400);
  problem(await ctx.api.req('POST', '/code', { body: '{"source": ', headers: { 'Content-Type': 'application/json' } }), 400);
  problem(await ctx.api.req('POST', '/code', { body: 'puts 1', headers: { 'Content-Type': 'text/plain' } }), 415);
});

test('GET /code/{fingerprint}: 404 unknown, 400 malformed', async () => {
  problem(await ctx.api.req('GET', `/code/sha256:${'0'.repeat(64)}`), 404);
  problem(await ctx.api.req('GET', '/code/sha256:xyz'), 400, 'fingerprint');
  problem(await ctx.api.req('GET', `/code/md5:${'0'.repeat(32)}`), 400, 'fingerprint');
});

/** Polls a fibril until it has ended. */
async function settled(api, id, ms = 15_000) {
  const end = Date.now() + ms;
  for (;;) {
    const r = await api.req('GET', `/fibrils/${id}`);
    status(r, 200);
    if (['done', 'failed', 'killed'].includes(r.body.state)) return r.body;
    assert.ok(Date.now() < end, `fibril ${id} still ${r.body.state} after ${ms} ms`);
    await sleep(30);
  }
}

test('registered code is durable: a restarted node has it and compiles nothing', { timeout: 60_000 }, async () => {
  const args = ['--nuclei', '2'];
  const a = await startNode({ args, keepData: true });
  const dir = a.dataDir;
  let b;
  try {
    const api = client(a.base);
    const src = 'def main(a, b) a * b end';
    const r = await api.req('POST', '/code', { json: { source: src } });
    status(r, 201);
    // source a spawn registered (compiled, not yet stored) becomes durable
    // through POST /code, which then compiles nothing
    const inline = 'def twice(x) 2 * x end';
    const s = await api.req('POST', '/fibrils', { json: { code: inline, fn: 'twice', args: [4] } });
    status(s, 201);
    assert.equal((await settled(api, s.body.id)).result, 8);
    const c0 = await compilations(api);
    const again = await api.req('POST', '/code', { json: { source: inline } });
    status(again, 200);
    assert.equal(again.body.fingerprint, fp(inline));
    assert.equal(await compilations(api), c0);
    api.verify();
    await a.stop();

    b = await startNode({ args, dataDir: dir });
    const api2 = client(b.base);
    const before = await compilations(api2);
    const g = await api2.req('GET', `/code/${fp(src)}`);
    status(g, 200);
    assert.equal(g.body.source, src);
    assert.equal(g.body.fingerprint, fp(src));
    assert.equal(g.body.size, Buffer.byteLength(src));
    const f = await api2.req('POST', '/fibrils', { json: { code: fp(src), fn: 'main', args: [6, 7] } });
    status(f, 201);
    const done = await settled(api2, f.body.id);
    assert.equal(done.state, 'done', JSON.stringify(done.error));
    assert.equal(done.result, 42);
    status(await api2.req('GET', `/code/${fp(inline)}`), 200);
    const known = await api2.req('POST', '/code', { json: { source: src } });
    status(known, 200);
    assert.deepEqual(known.body, r.body);
    assert.equal(await compilations(api2), before, 'code read back from the store is not compiled again');
    problem(await api2.req('GET', `/code/sha256:${'1'.repeat(64)}`), 404);
    // the store's code is in no space
    const spaces = await api2.req('GET', '/fs');
    status(spaces, 200);
    assert.deepEqual(spaces.body.items, []);
    api2.verify();
  } finally {
    await b?.stop();
    await a.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
