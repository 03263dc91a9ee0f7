// /fibrils: Ruby run in fibrils on sandboxed worker processes — results,
// failures, budgets, a crashed worker, kills, listing, bad input, escapes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { problem, sleep, status } from './lib/node.mjs';
import { useNode } from './lib/contract.mjs';

const ctx = useNode({ args: ['--nuclei', '2'] });

const FINAL = new Set(['done', 'failed', 'killed']);

async function spawn(body) {
  const r = await ctx.api.req('POST', '/fibrils', { json: body });
  status(r, 201);
  assert.equal(r.headers.get('location'), `/fibrils/${r.body.id}`);
  assert.equal(r.body.uri, `/fibrils/${r.body.id}`);
  return r.body;
}

async function settle(id, ms = 15_000) {
  const end = Date.now() + ms;
  for (;;) {
    const r = await ctx.api.req('GET', `/fibrils/${id}`);
    status(r, 200);
    if (FINAL.has(r.body.state)) return r.body;
    assert.ok(Date.now() < end, `fibril ${id} still ${r.body.state} after ${ms} ms`);
    await sleep(30);
  }
}

async function waitState(id, state, ms = 10_000) {
  const end = Date.now() + ms;
  for (;;) {
    const r = await ctx.api.req('GET', `/fibrils/${id}`);
    if (r.body.state === state) return r.body;
    assert.ok(Date.now() < end, `fibril ${id} never ${state} (is ${r.body.state})`);
    await sleep(20);
  }
}

const run = async (body) => settle((await spawn(body)).id);

async function compilations() {
  const r = await ctx.api.req('GET', '/sys/metrics');
  return Number(/^m31_code_compilations_total (\d+)$/m.exec(r.text)[1]);
}

async function healthy() {
  const r = await ctx.api.req('GET', '/sys/health');
  status(r, 200);
  const f = await run({ code: '6 * 7' });
  assert.equal(f.state, 'done');
  assert.equal(f.result, 42);
}

/** Pids of every descendant process of pid (threads' children included). */
function descendants(pid) {
  const out = [];
  const kids = (p) => {
    let tasks = [];
    try { tasks = readdirSync(`/proc/${p}/task`); } catch { return []; }
    return tasks.flatMap((t) => {
      try {
        return readFileSync(`/proc/${p}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
      } catch { return []; }
    });
  };
  const todo = kids(pid);
  while (todo.length) {
    const c = todo.shift();
    out.push(c);
    todo.push(...kids(c));
  }
  return out;
}

test('spawn runs fn(*args) and answers its result', async () => {
  const f0 = await spawn({ code: 'def main(a, b) {"sum" => a + b, "list" => [a, b]} end', fn: 'main', args: [2, 40] });
  assert.ok(['ready', 'running', 'done'].includes(f0.state));
  assert.match(f0.id, /^.+-[0-9a-f]+$/);
  const f = await settle(f0.id);
  assert.equal(f.state, 'done');
  assert.deepEqual(f.result, { sum: 42, list: [2, 40] });
  assert.equal(f.error, null);
  assert.equal(f.parent, null);
  assert.deepEqual(f.children, []);
  assert.ok(Number.isInteger(f.cpu_ms) && Number.isInteger(f.memory_bytes));
  assert.ok(f.memory_bytes > 0);
  assert.ok(f.ended >= f.created);
  const info = await ctx.api.req('GET', '/sys/info');
  assert.equal(f.node, info.body.node);
  assert.ok(f.id.startsWith(`${info.body.node}-`));
});

test('without fn the value of the code is the result; puts is allowed', async () => {
  const f = await run({ code: 'puts "hello"; print "x"; [1, 2.5, "three", nil, true]' });
  assert.equal(f.state, 'done');
  assert.deepEqual(f.result, [1, 2.5, 'three', null, true]);
});

test('an exception fails the fibril with class, message and backtrace', async () => {
  const f = await run({ code: 'def inner(x)\n  raise ArgumentError, "bad #{x}"\nend\ndef main(x)\n  inner(x)\nend\n', fn: 'main', args: [7] });
  assert.equal(f.state, 'failed');
  assert.equal(f.error.class, 'ArgumentError');
  assert.equal(f.error.message, 'bad 7');
  assert.ok(Array.isArray(f.error.backtrace) && f.error.backtrace.length >= 2, JSON.stringify(f.error));
  assert.match(f.error.backtrace[0], /:2/);
  assert.equal(f.result, null);
  const nm = await run({ code: 'def main; nope_not_here; end', fn: 'main' });
  assert.equal(nm.state, 'failed');
  assert.match(nm.error.class, /NameError|NoMethodError/);
});

test('loop {} is killed at its CPU budget; the node goes on', async () => {
  const t0 = Date.now();
  const f = await run({ code: 'loop {}', budget: { cpu_ms: 200 } });
  assert.equal(f.state, 'killed');
  assert.equal(f.reason, 'cpu budget exceeded');
  assert.ok(Date.now() - t0 < 5000);
  await healthy();
});

test('allocating without end fails with NoMemoryError at the memory budget', async () => {
  const f = await run({ code: 'a = []; loop { a << ("x" * 10_000) }', budget: { memory_bytes: 4_000_000 } });
  assert.equal(f.state, 'failed');
  assert.equal(f.error.class, 'NoMemoryError');
  assert.ok(f.memory_bytes <= 4_000_000 && f.memory_bytes > 1_000_000, `memory_bytes ${f.memory_bytes}`);
  await healthy();
});

test('a worker killed with SIGSEGV is replaced; its fibrils fail with a reason', async () => {
  const f0 = await spawn({ code: 'loop {}', budget: { cpu_ms: 60_000 } });
  await waitState(f0.id, 'running');
  await sleep(100); // it is in its turn now
  const before = descendants(ctx.node.pid);
  assert.ok(before.length >= 3, `zygote and 2 workers under the node: ${before}`);
  // the workers are the zygote's children: every descendant but the zygote
  const zygote = before[0];
  const workers = before.filter((p) => p !== zygote);
  for (const p of workers) process.kill(p, 'SIGSEGV');
  const f = await settle(f0.id);
  assert.equal(f.state, 'failed');
  assert.equal(f.error.class, 'WorkerDied');
  assert.match(f.error.message, /signal 11/);
  await healthy();
  const after = descendants(ctx.node.pid);
  assert.equal(after.length, before.length, 'as many workers as before');
  for (const p of workers) assert.ok(!after.includes(p), 'the dead workers are gone');
});

test('spawning by fingerprint sends no source and compiles nothing', async () => {
  const src = 'def main(n) (1..n).reduce(:+) end';
  const reg = await ctx.api.req('POST', '/code', { json: { source: src } });
  assert.ok(reg.status === 201 || reg.status === 200);
  const c0 = await compilations();
  for (const n of [10, 100, 1000]) {
    const f = await run({ code: reg.body.fingerprint, fn: 'main', args: [n] });
    assert.equal(f.state, 'done');
    assert.equal(f.result, (n * (n + 1)) / 2);
  }
  // the same source inline is known by its fingerprint too
  assert.equal((await run({ code: src, fn: 'main', args: [3] })).result, 6);
  assert.equal(await compilations(), c0, 'no compilation for a known fingerprint');
  await run({ code: `${src} # new text`, fn: 'main', args: [3] });
  assert.equal(await compilations(), c0 + 1, 'new source is compiled once');
});

test('parents, children, ?parent= and DELETE of a tree', async () => {
  const p = await spawn({ code: 'loop {}', budget: { cpu_ms: 60_000 } });
  const c = await spawn({ code: 'loop {}', parent: p.id, budget: { cpu_ms: 60_000 } });
  const gp = await ctx.api.req('GET', `/fibrils/${p.id}`);
  assert.deepEqual(gp.body.children, [c.id]);
  assert.equal((await ctx.api.req('GET', `/fibrils/${c.id}`)).body.parent, p.id);
  const kids = await ctx.api.req('GET', `/fibrils?parent=${encodeURIComponent(p.id)}`);
  status(kids, 200);
  assert.deepEqual(kids.body.items.map((x) => x.id), [c.id]);
  const d = await ctx.api.req('DELETE', `/fibrils/${p.id}`);
  status(d, 204);
  for (const id of [p.id, c.id]) {
    const f = await settle(id);
    assert.equal(f.state, 'killed');
    assert.equal(f.reason, 'killed by DELETE');
  }
  problem(await ctx.api.req('DELETE', '/fibrils/nosuch-1'), 404);
  problem(await ctx.api.req('GET', '/fibrils/nosuch-1'), 404);
  await healthy();
});

test('GET /fibrils filters by state and pages with limit and cursor', async () => {
  const ids = [];
  for (let i = 0; i < 5; i++) ids.push((await run({ code: `${i}` })).id);
  const done = await ctx.api.req('GET', '/fibrils?state=done&limit=1000');
  status(done, 200);
  for (const id of ids) assert.ok(done.body.items.some((x) => x.id === id));
  assert.ok(done.body.items.every((x) => x.state === 'done'));
  const seen = [];
  let cursor = null;
  for (let i = 0; i < 100; i++) {
    const r = await ctx.api.req('GET', `/fibrils?state=done&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
    status(r, 200);
    assert.ok(r.body.items.length <= 2);
    seen.push(...r.body.items.map((x) => x.id));
    cursor = r.body.next;
    if (!cursor) break;
  }
  assert.deepEqual(seen, done.body.items.map((x) => x.id));
  problem(await ctx.api.req('GET', '/fibrils?state=sleepy'), 400, 'state');
  problem(await ctx.api.req('GET', '/fibrils?limit=0'), 400, 'limit');
  problem(await ctx.api.req('GET', '/fibrils?cursor=abc'), 400, 'cursor');
  const none = await ctx.api.req('GET', '/fibrils?parent=nosuch-1');
  assert.deepEqual(none.body.items, []);
});

test('bad input is a 4xx problem and spawns nothing', async () => {
  const count = async () => (await ctx.api.req('GET', '/fibrils?limit=1000')).body.items.length;
  const n0 = await count();
  const bad = [
    [{}, 422, 'code'],
    [{ code: 5 }, 422, 'code'],
    [{ code: '' }, 422, 'code'],
    [{ code: 'sha256:12' }, 422, 'code'],
    [{ code: '1', fn: 5 }, 422, 'fn'],
    [{ code: '1', fn: 'no such' }, 422, 'fn'],
    [{ code: '1', args: {} }, 422, 'args'],
    [{ code: '1', budget: 5 }, 422, 'budget'],
    [{ code: '1', budget: { cpu_ms: 0 } }, 422, 'budget.cpu_ms'],
    [{ code: '1', budget: { cpu_ms: 'x' } }, 422, 'budget.cpu_ms'],
    [{ code: '1', budget: { cpu_ms: 1.5 } }, 422, 'budget.cpu_ms'],
    [{ code: '1', budget: { memory_bytes: 10 } }, 422, 'budget.memory_bytes'],
    [{ code: '1', budget: { disk: 1 } }, 422, 'budget'],
    [{ code: '1', parent: 'nosuch-1' }, 422, 'parent'],
    [{ code: '1', other: 1 }, 422, 'other'],
    [{ code: `sha256:${'ab'.repeat(32)}` }, 404, 'code'],
  ];
  for (const [body, st, field] of bad) {
    problem(await ctx.api.req('POST', '/fibrils', { json: body }), st, field);
  }
  const syn = problem(await ctx.api.req('POST', '/fibrils', { json: { code: 'def x(\n' } }), 422, 'code');
  assert.ok(Number.isInteger(syn.line));
  problem(await ctx.api.req('POST', '/fibrils', { json: [1] }), 400);
  problem(await ctx.api.req('POST', '/fibrils', { body: '{', headers: { 'Content-Type': 'application/json' } }), 400);
  problem(await ctx.api.req('POST', '/fibrils', { body: 'x', headers: { 'Content-Type': 'text/plain' } }), 415);
  problem(await ctx.api.req('PUT', '/fibrils'), 405);
  assert.equal(await count(), n0, 'nothing was spawned');
});

test('sandbox: no File, IO, Socket, backticks, system, open, ObjectSpace, Process', async () => {
  const escapes = [
    ['File.read("/etc/passwd")', 'NameError'],
    ['IO.popen("id").read', 'NameError'],
    ['$stdout.class.popen("id")', 'NoMethodError'],
    ['$stderr.write("x")', 'NoMethodError'],
    ['`id`', 'NotImplementedError'], // mruby's core Kernel#` only raises
    ['system("id")', 'NoMethodError'],
    ['exec("id")', 'NoMethodError'],
    ['open("/etc/passwd")', 'NoMethodError'],
    ['Socket.new', 'NameError'],
    ['TCPSocket.new("127.0.0.1", 80)', 'NameError'],
    ['ObjectSpace.each_object {}', 'NameError'],
    ['Process.pid', 'NameError'],
    ['eval("File")', 'NameError'],
    ['Kernel.const_get(:IO)', 'NameError'],
  ];
  for (const [code, klass] of escapes) {
    const f = await run({ code });
    assert.equal(f.state, 'failed', `${code}: ${JSON.stringify(f)}`);
    assert.equal(f.error.class, klass, `${code}: ${JSON.stringify(f.error)}`);
  }
  await healthy();
});
