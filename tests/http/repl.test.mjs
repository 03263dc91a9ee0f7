// /repl: sessions that keep variables and definitions between
// evaluations, isolated from each other; errors with their line,
// incomplete input, a runaway stopped without losing the session, and the
// fibril API from the keyboard.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { problem, status } from './lib/node.mjs';
import { useNode } from './lib/contract.mjs';

const ctx = useNode({ args: ['--nuclei', '2'] });

async function open() {
  const r = await ctx.api.req('POST', '/repl');
  status(r, 201);
  assert.equal(r.headers.get('location'), r.body.uri);
  return r.body.id;
}

async function ev(id, code, timeout = 30_000) {
  const r = await ctx.api.req('POST', `/repl/${id}`,
    { body: code, headers: { 'Content-Type': 'text/plain' }, timeout });
  status(r, 200);
  return r.body;
}

const ok = (a) => {
  assert.equal(a.error, null, JSON.stringify(a.error));
  assert.equal(a.incomplete, false);
  return a;
};

test('variables and methods persist; results carry inspect and value', async () => {
  const s = await open();
  assert.deepEqual(ok(await ev(s, 'a = 20')).value, 20);
  ok(await ev(s, 'def twice(x)\n  x * 2\nend'));
  const r = ok(await ev(s, 'b = twice(a) + 2\nputs "b is #{b}"\n[b, :sym, 1.5, nil]'));
  assert.deepEqual(r.value, [42, 'sym', 1.5, null]);
  assert.equal(r.result, '[42, :sym, 1.5, nil]');
  assert.equal(r.output, 'b is 42\n');
  assert.match(r.fibril, /^.+-[0-9a-f]+$/);
  const cls = ok(await ev(s, 'class Pt; def initialize(x) @x = x end; end; Pt.new(1)'));
  assert.equal(cls.value, null); // an object that does not convert
  assert.match(cls.result, /^#<Pt/);
  const g = await ctx.api.req('GET', `/repl/${s}`);
  status(g, 200);
  assert.deepEqual(g.body.vars.sort(), ['a', 'b']);
  assert.equal(g.body.evals, 4);
  assert.equal(g.body.state, 'idle');
});

test('sessions are isolated from each other', async () => {
  const s1 = await open();
  const s2 = await open();
  ok(await ev(s1, 'x = 1; def only_here; :s1; end; $g = 5; K = 3'));
  for (const code of ['x', 'only_here', 'K']) {
    const r = await ev(s2, code);
    assert.ok(['NameError', 'NoMethodError'].includes(r.error?.class), `${code}: ${JSON.stringify(r)}`);
  }
  assert.equal(ok(await ev(s2, '$g')).value, null);
  assert.equal(ok(await ev(s1, '[x, only_here, $g, K]')).result, '[1, :s1, 5, 3]');
});

test('errors name their class, message and line; the session goes on', async () => {
  const s = await open();
  const e = await ev(s, 'y = 1\n\nundefined_thing + y');
  assert.equal(e.error.class, 'NoMethodError');
  assert.match(e.error.message, /undefined_thing/);
  assert.equal(e.error.line, 3);
  assert.equal(e.result, null);
  const syn = await ev(s, 'z = 1\n)');
  assert.equal(syn.error.class, 'SyntaxError');
  assert.equal(syn.error.line, 2);
  const rb = await ev(s, 'raise ArgumentError, "nope"');
  assert.equal(rb.error.class, 'ArgumentError');
  assert.equal(rb.error.message, 'nope');
  assert.ok(Array.isArray(rb.error.backtrace));
  assert.equal(ok(await ev(s, '1 + 1')).value, 2);
});

test('incomplete input is reported and nothing runs', async () => {
  const s = await open();
  for (const code of ['def f(x)', 'items = [1,\n 2,', '"open string', 'if true', '[1, 2].each do |i|']) {
    const r = await ev(s, code);
    assert.equal(r.incomplete, true, `${code}: ${JSON.stringify(r)}`);
    assert.equal(r.error, null);
  }
  ok(await ev(s, 'def f(x)\n  x + 1\nend'));
  assert.equal(ok(await ev(s, 'f(1)')).value, 2);
  const g = await ctx.api.req('GET', `/repl/${s}`);
  assert.equal(g.body.evals, 2); // incomplete inputs do not count
});

test('a runaway evaluation is killed and the session keeps its state', async () => {
  const s = await open();
  ok(await ev(s, 'n = 41\ndef inc(v) v + 1 end'));
  const t0 = Date.now();
  const r = await ctx.api.req('POST', `/repl/${s}`,
    { json: { code: 'loop {}', budget: { cpu_ms: 300 } }, timeout: 30_000 });
  status(r, 200);
  assert.equal(r.body.error.class, 'Killed');
  assert.equal(r.body.error.message, 'cpu budget exceeded');
  assert.ok(Date.now() - t0 < 20_000);
  assert.equal(ok(await ev(s, 'inc(n)')).value, 42);
});

test('the fibril API works from the REPL: store, spawn, channels, code', async () => {
  const s = await open();
  ok(await ev(s, 'fs.add_space(:rw, key: "word", attrs: {freq: Int})'));
  ok(await ev(s, '3.times { fs.invoke(:rw, {word: "pi", freq: Int.incr}) }'));
  assert.equal(ok(await ev(s, 'fs.get(:rw, "pi")["attrs"]["freq"]')).value, 3);
  const h = await ctx.api.req('GET', '/fs/rw/pi');
  status(h, 200);
  assert.equal(h.body.attrs.freq, 3);
  // stored objects answer with readers: labels, versions, branches
  ok(await ev(s, 'fs.add_space(:rv, key: "k", attrs: {n: Int}, opts: {versioning: true})\n' +
    'fs.put(:rv, "a", attrs: {n: 1}, labels: {lang: "en"}); fs.put(:rv, "a", attrs: {n: 2}, labels: {lang: "en"})'));
  const o = ok(await ev(s, 'o = fs.get(:rv, "a")\n[o.key, o.attrs, o.labels, o.version, o.versions.map { |v| v["version"] }, o.branches.map { |b| b["name"] }]'));
  assert.deepEqual(o.value, ['a', { n: 2 }, { lang: 'en' }, 2, [1, 2], ['main']]);
  // a child runs a method defined in this session
  ok(await ev(s, 'def sq(v) PARENT.send(v * v); sys.SUCCESS end'));
  const spawned = ok(await ev(s, 'kids = [3, 4].map { |v| sys.spawn(:sq, [v]) }\nkids.map(&:recv)'));
  assert.deepEqual(spawned.value, [9, 16]);
  assert.equal(ok(await ev(s, 'sys.collect(kids)')).value, 'success');
  // channels made here live on between evaluations
  ok(await ev(s, 'tx, rx = sys.channel(type: Int)\ntx.send(7)'));
  assert.equal(ok(await ev(s, 'rx.recv * 6')).value, 42);
  // registered code loads by fingerprint
  const c = await ctx.api.req('POST', '/code', { json: { source: 'def from_code(v) v + 100 end' } });
  status(c, 201);
  assert.equal(ok(await ev(s, `sys.load("${c.body.fingerprint}")\nfrom_code(1)`)).value, 101);
  // and runs as a tree of its own on any worker
  const prog = await ctx.api.req('POST', '/code',
    { json: { source: 'def main(v) PARENT.send(v * 2); PARENT.send(sys.SUCCESS) end' } });
  assert.ok([200, 201].includes(prog.status), prog.text);
  ok(await ev(s, `t, f = sys.spawn(:main, [21], code: "${prog.body.fingerprint}")`));
  // the session holds the ends: they outlive the evaluation that made them
  const far = ok(await ev(s, '[f.recv, f.recv]'));
  assert.deepEqual(far.value, [42, 'success']);
  const bad = await ev(s, 'sys.spawn(:main, [], code: "sha256:' + '0'.repeat(64) + '")');
  assert.equal(bad.error.class, 'ArgumentError');
});

test('bad input changes nothing and is a problem', async () => {
  const s = await open();
  problem(await ctx.api.req('POST', '/repl/nope-r99', { body: '1', headers: { 'Content-Type': 'text/plain' } }), 404);
  problem(await ctx.api.req('GET', '/repl/nope-r99'), 404);
  problem(await ctx.api.req('POST', `/repl/${s}`, { body: '<x/>', headers: { 'Content-Type': 'application/xml' } }), 415);
  // what curl --data-binary sends (a form type) is taken as code
  const form = await ctx.api.req('POST', `/repl/${s}`,
    { body: '6 * 7', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
  status(form, 200);
  assert.equal(form.body.value, 42);
  problem(await ctx.api.req('POST', `/repl/${s}`, { json: { code: 5 } }), 422, 'code');
  problem(await ctx.api.req('POST', `/repl/${s}`, { json: { code: '1', budget: { cpu_ms: 0 } } }), 422, 'budget');
  const g = await ctx.api.req('GET', `/repl/${s}`);
  assert.equal(g.body.evals, 1); // only the form-typed one ran
});

test('one evaluation at a time; DELETE ends a session and its running evaluation', async () => {
  const s = await open();
  const slow = ctx.api.req('POST', `/repl/${s}`,
    { json: { code: 'sys.channel(type: Int)[1].recv', budget: { cpu_ms: 1000 } }, timeout: 30_000 });
  // the first is parked on its channel: a second is refused
  let busy;
  for (let i = 0; i < 50; i++) {
    busy = await ctx.api.req('POST', `/repl/${s}`, { body: '1', headers: { 'Content-Type': 'text/plain' } });
    if (busy.status === 409) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  problem(busy, 409);
  // busy at once; its fibril is named once the evaluation has started
  let mine;
  for (let i = 0; i < 100; i++) {
    const list = await ctx.api.req('GET', '/repl');
    status(list, 200);
    mine = list.body.items.find((x) => x.id === s);
    assert.equal(mine.state, 'busy');
    if (mine.fibril) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.match(mine.fibril, /^.+-[0-9a-f]+$/);
  status(await ctx.api.req('DELETE', `/repl/${s}`), 204);
  const r = await slow;
  status(r, 200);
  assert.equal(r.body.error.class, 'Killed');
  problem(await ctx.api.req('GET', `/repl/${s}`), 404);
  problem(await ctx.api.req('DELETE', `/repl/${s}`), 404);
});
