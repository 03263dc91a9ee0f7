// sys and channels inside fibrils: sys.spawn trees and sys.collect,
// PARENT between a fibril and an HTTP client, endpoints sent through
// channels, sync and typed channels, ChannelClosed when a peer ends,
// combined fs increments (exact counts, flush points, fs.flush), the
// children of a fibril over HTTP, DELETE of a parent, bad spawns, and a
// child killed at its CPU budget.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { sleep, startNode, status } from './lib/node.mjs';
import { useNode } from './lib/contract.mjs';

const exec = promisify(execFile);
const ctx = useNode({ args: ['--nuclei', '2'] });

const FINAL = new Set(['done', 'failed', 'killed']);

async function spawn(body) {
  const r = await ctx.api.req('POST', '/fibrils', { json: body });
  status(r, 201);
  return r.body;
}

async function fibril(id) {
  const r = await ctx.api.req('GET', `/fibrils/${id}`);
  status(r, 200);
  return r.body;
}

async function settle(id, ms = 30_000) {
  const end = Date.now() + ms;
  for (;;) {
    const f = await fibril(id);
    if (FINAL.has(f.state)) return f;
    assert.ok(Date.now() < end, `fibril ${id} still ${f.state} after ${ms} ms`);
    await sleep(25);
  }
}

const run = async (body, ms) => settle((await spawn(body)).id, ms);

const done = (f) => {
  assert.equal(f.state, 'done', `${f.id}: ${JSON.stringify(f.error ?? f.reason)}`);
  return f.result;
};

/** Polls fn() (bounded) until it answers a truthy value, which it returns. */
async function until(fn, what, ms = 15_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    assert.ok(Date.now() < end, `never: ${what}`);
    await sleep(25);
  }
}

/** The next message on receive end uri (a long-poll of at most wait s). */
async function recv(uri, wait = 10) {
  const r = await ctx.api.req('GET', `${uri}?wait=${wait}`);
  status(r, 200);
  return r.body;
}

async function send(uri, value) {
  const r = await ctx.api.req('POST', uri, { json: value });
  status(r, 200);
  return r.body;
}

const idOf = (uri) => uri.replace(/^\/channels\//, '');
const fingerprint = (src) => `sha256:${createHash('sha256').update(src).digest('hex')}`;

async function children(id) {
  const r = await ctx.api.req('GET', `/fibrils?parent=${encodeURIComponent(id)}&limit=1000`);
  status(r, 200);
  return r.body.items;
}

async function waitState(id, state, ms = 15_000) {
  return until(async () => {
    const f = await fibril(id);
    return f.state === state ? f : null;
  }, `${id} ${state}`, ms);
}

// ------------------------------------------------------------ spawn, collect

test('a spawn tree of depth 3 and fan-out 3 collects every leaf', async () => {
  const code = `
    def node(depth, fan, label)
      if depth == 0
        PARENT.send([label])
        return [label]
      end
      kids = (0...fan).map { |i| sys.spawn(:node, [depth - 1, fan, "#{label}.#{i}"]) }
      labels = kids.map { |k| k.recv }.flatten
      verdict = sys.collect(kids)
      PARENT.send(labels)
      [labels.sort, verdict, kids.map { |k| k.fibril }, sys.id]
    end
  `;
  const root = await spawn({ code, fn: 'node', args: [3, 3, 'r'] });
  assert.equal(root.code, fingerprint(code));
  const f = await settle(root.id, 60_000);
  const [labels, verdict, kids, self] = done(f);
  const want = [];
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) want.push(`r.${i}.${j}.${k}`);
  assert.deepEqual(labels, want.sort());
  assert.equal(verdict, 'success');
  assert.equal(self, root.id);
  // the HTTP client holding PARENT's other end got the same labels
  assert.deepEqual((await recv(root.channels.recv)).sort(), want);
  // the tree over HTTP: 3 + 9 + 27 fibrils, all done, with the root's code
  assert.deepEqual(f.children, kids);
  assert.deepEqual((await children(root.id)).map((x) => x.id), kids);
  let level = kids;
  let total = 0;
  for (let depth = 2; depth >= 0; depth--) {
    const next = [];
    for (const id of level) {
      const c = await fibril(id);
      total++;
      assert.equal(c.state, 'done', `${id}: ${JSON.stringify(c.error)}`);
      assert.equal(c.code, root.code);
      assert.equal(c.children.length, depth === 0 ? 0 : 3);
      for (const g of c.children) assert.equal((await fibril(g)).parent, id);
      assert.match(c.channels.send, /^\/channels\/.+/);
      next.push(...c.children);
    }
    level = next;
  }
  assert.equal(total, 39);
});

test('sys.collect: a raise, a FAILURE, a quiet done child and mixes', async () => {
  const code = `
    def raiser; raise "boom"; end
    def failer; PARENT.send(sys.FAILURE); :ok; end
    def quiet; 42; end
    def succeeder; PARENT.send(sys.SUCCESS); end
    def noisy; PARENT.send("hello"); PARENT.send([1, 2]); PARENT.send(sys.SUCCESS); end
    def fail_then_raise; PARENT.send(sys.FAILURE); raise "late"; end
    def main
      r = {}
      r["raise"] = sys.collect([sys.spawn(:raiser)])
      r["failure"] = sys.collect([sys.spawn(:failer)])
      r["quiet"] = sys.collect([sys.spawn(:quiet)])
      r["success"] = sys.collect([sys.spawn(:succeeder)])
      r["noisy"] = sys.collect([sys.spawn(:noisy)])
      r["fail_then_raise"] = sys.collect([sys.spawn(:fail_then_raise)])
      r["mixed"] = sys.collect([sys.spawn(:quiet), sys.spawn(:raiser), sys.spawn(:succeeder)])
      r["all_good"] = sys.collect([sys.spawn(:quiet), sys.spawn(:succeeder), sys.spawn(:noisy)])
      r["no_method"] = sys.collect([sys.spawn(:no_such_method)])
      r["empty"] = sys.collect([])
      r["constants"] = [sys.SUCCESS, sys.FAILURE, M31::Sys::SUCCESS]
      r
    end
  `;
  const f = await run({ code, fn: 'main' });
  assert.deepEqual(done(f), {
    raise: 'failure', failure: 'failure', quiet: 'success', success: 'success',
    noisy: 'success', fail_then_raise: 'failure', mixed: 'failure', all_good: 'success',
    no_method: 'failure', empty: 'success', constants: ['success', 'failure', 'success'],
  });
  const kids = await children(f.id);
  assert.equal(kids.length, 13);
  const raiser = kids[0];
  assert.equal(raiser.state, 'failed');
  assert.equal(raiser.error.class, 'RuntimeError');
  assert.equal(raiser.error.message, 'boom');
  assert.equal(kids[2].state, 'done');
  assert.equal(kids[2].result, 42);
});

test('a child killed at its CPU budget makes sys.collect answer FAILURE', async () => {
  const code = `
    def spin; loop {}; end
    def main
      c = sys.spawn(:spin, [], budget: {cpu_ms: 50})
      [sys.collect([c]), sys.state(c.fibril), c.fibril]
    end
  `;
  const f = await run({ code, fn: 'main', budget: { cpu_ms: 2000 } });
  const [verdict, state, kid] = done(f);
  assert.equal(verdict, 'failure');
  assert.equal(state, 'killed');
  const k = await fibril(kid);
  assert.equal(k.state, 'killed');
  assert.equal(k.reason, 'cpu budget exceeded');
  assert.ok(k.cpu_ms < 1000, `the child used ${k.cpu_ms} ms`);
});

test('bad sys.spawn arguments raise ArgumentError and spawn nothing', async () => {
  const code = `
    def ok_child; 1; end
    def attempt(kind)
      case kind
      when "name with space" then sys.spawn("no such")
      when "name with digit" then sys.spawn(:"9lives")
      when "empty name" then sys.spawn("")
      when "Hash args" then sys.spawn(:ok_child, {a: 1})
      when "Integer args" then sys.spawn(:ok_child, 5)
      when "nil args" then sys.spawn(:ok_child, nil)
      when "cpu_ms 0" then sys.spawn(:ok_child, [], budget: {cpu_ms: 0})
      when "cpu_ms 1.5" then sys.spawn(:ok_child, [], budget: {cpu_ms: 1.5})
      when "cpu_ms String" then sys.spawn(:ok_child, [], budget: {cpu_ms: "x"})
      when "cpu_ms too big" then sys.spawn(:ok_child, [], budget: {cpu_ms: 3_600_001})
      when "memory_bytes 10" then sys.spawn(:ok_child, [], budget: {memory_bytes: 10})
      when "unknown member" then sys.spawn(:ok_child, [], budget: {disk: 1})
      when "budget Integer" then sys.spawn(:ok_child, [], budget: 5)
      when "budget String" then sys.spawn(:ok_child, [], budget: "x")
      end
      "spawned"
    rescue => e
      e.class.to_s
    end
    def main(kinds)
      out = {}
      kinds.each { |k| out[k] = attempt(k) }
      out
    end
  `;
  const kinds = ['name with space', 'name with digit', 'empty name', 'Hash args', 'Integer args',
    'nil args', 'cpu_ms 0', 'cpu_ms 1.5', 'cpu_ms String', 'cpu_ms too big', 'memory_bytes 10',
    'unknown member', 'budget Integer', 'budget String'];
  const chans = async () => (await ctx.api.req('GET', '/channels?limit=1000')).body.items.length;
  const c0 = await chans();
  const f = await run({ code, fn: 'main', args: [kinds] });
  const got = done(f);
  const wrong = kinds.filter((k) => got[k] !== 'ArgumentError').map((k) => `${k}: ${got[k]}`);
  assert.deepEqual(wrong, [], 'every bad spawn raises ArgumentError');
  assert.deepEqual(await children(f.id), [], 'nothing was spawned');
  assert.equal(await chans(), c0 + 2, 'no channel but the fibril\'s own two');
});

// ------------------------------------------------------------------ PARENT

test('PARENT both ways with an HTTP client (curl and fetch) on the other end', async () => {
  const code = `
    def echo
      n = 0
      loop do
        v = PARENT.recv
        break if v == "stop"
        n += 1
        PARENT.send({"got" => v, "n" => n})
      end
      PARENT.send("bye")
      n
    end
  `;
  const f = await spawn({ code, fn: 'echo' });
  assert.equal(f.code, fingerprint(code));
  assert.match(f.channels.send, /^\/channels\/[^/]+$/);
  assert.match(f.channels.recv, /^\/channels\/[^/]+$/);
  assert.notEqual(f.channels.send, f.channels.recv);
  const g = await waitState(f.id, 'waiting'); // in PARENT.recv
  assert.deepEqual(g.channels, f.channels);
  assert.equal(g.code, f.code);
  // curl sends; curl long-polls the answer
  const base = ctx.node.base;
  const poll = exec('curl', ['-sS', '-w', '\n%{http_code}', `${base}${f.channels.recv}?wait=10`]);
  await sleep(100);
  const s = await exec('curl', ['-sS', '-w', '\n%{http_code}', '-X', 'POST', '-H',
    'Content-Type: application/json', '-d', '{"a":1}', base + f.channels.send]);
  assert.equal(s.stdout.trim().split('\n').pop(), '200');
  const [body, code200] = (await poll).stdout.trim().split('\n');
  assert.equal(code200, '200');
  assert.deepEqual(JSON.parse(body), { got: { a: 1 }, n: 1 });
  // several queued at once come back in order
  for (const v of [2, 'three', [4], null]) await send(f.channels.send, v);
  for (const [i, v] of [[2, 2], [3, 'three'], [4, [4]], [5, null]]) {
    assert.deepEqual(await recv(f.channels.recv), { got: v, n: i });
  }
  await send(f.channels.send, 'stop');
  assert.equal(await recv(f.channels.recv), 'bye');
  assert.equal(done(await settle(f.id)), 5);
  // the fibril's ends are gone: drained, so closed both ways
  status(await ctx.api.req('GET', `${f.channels.recv}?wait=5`), 410);
  status(await ctx.api.req('POST', f.channels.send, { json: 1 }), 410);
});

test('a fibril that sends and ends: the client drains, then 410', async () => {
  const f = await spawn({ code: 'PARENT.send(1); PARENT.send({"two" => 2}); PARENT.send("3"); :ok' });
  const g = await settle(f.id);
  assert.equal(done(g), 'ok');
  assert.deepEqual([await recv(f.channels.recv), await recv(f.channels.recv), await recv(f.channels.recv)],
    [1, { two: 2 }, '3']);
  status(await ctx.api.req('GET', f.channels.recv), 410);
});

// --------------------------------------------------------------- endpoints

test('an endpoint sent to a child fibril is used by it', async () => {
  const code = `
    def consumer
      ep = PARENT.recv
      pair = PARENT.recv
      sum = 0
      3.times { sum += ep.recv }
      pair[0].send(sum * 10)
      PARENT.send([ep.class.to_s, ep.id, sum, pair.class.to_s, pair.map { |e| e.class.to_s }])
    end
    def main
      s, r = sys.channel(type: Int, capacity: 4)
      back = sys.channel(type: Int, capacity: 1)
      c = sys.spawn(:consumer)
      c.send(r)
      c.send(back)
      [1, 2, 3].each { |i| s.send(i) }
      got = c.recv
      [got, r.id, back.recv, sys.collect([c])]
    end
  `;
  const [got, rid, tenfold, verdict] = done(await run({ code, fn: 'main' }));
  assert.deepEqual(got, ['M31::Endpoint', rid, 6, 'Array', ['M31::Endpoint', 'M31::Endpoint']]);
  assert.equal(tenfold, 60);
  assert.equal(verdict, 'success');
});

test('endpoints cross HTTP as {"$endpoint": id}, both ways', async () => {
  const code = `
    def main
      s, r = sys.channel(type: String, capacity: 4)
      PARENT.send(r)
      s.send("hello")
      s.send("world")
      ep = PARENT.recv
      ep.send(ep.class.to_s)
      ep.send(ep.id)
      [ep.class.to_s, ep.id, r.id]
    end
  `;
  const f = await spawn({ code, fn: 'main' });
  const m = await recv(f.channels.recv);
  assert.deepEqual(Object.keys(m), ['$endpoint']);
  const uri = `/channels/${m.$endpoint}`;
  assert.equal(await recv(uri), 'hello');
  assert.equal(await recv(uri), 'world');
  const info = (await ctx.api.req('GET', `${uri}?info`)).body;
  assert.equal(info.end, 'recv');
  assert.equal(info.type, 'String');
  // the client hands the fibril the send end of a channel it made
  const c = await ctx.api.req('POST', '/channels', { json: { type: 'Any', capacity: 4 } });
  status(c, 201);
  await send(f.channels.send, { $endpoint: idOf(c.body.send) });
  assert.equal(await recv(c.body.recv), 'M31::Endpoint');
  assert.equal(await recv(c.body.recv), idOf(c.body.send));
  assert.deepEqual(done(await settle(f.id)), ['M31::Endpoint', idOf(c.body.send), m.$endpoint]);
});

test('binary Strings cross as {"$bytes": base64}, both ways', async () => {
  const code = String.raw`
    def main
      bin = "\xff\x00\x01abc"
      PARENT.send(bin)
      PARENT.send("caf\u00e9")
      back = PARENT.recv
      [back.bytesize, back.bytes]
    end
  `;
  const f = await spawn({ code, fn: 'main' });
  assert.deepEqual(await recv(f.channels.recv), { $bytes: Buffer.from([0xff, 0, 1, 0x61, 0x62, 0x63]).toString('base64') });
  assert.equal(await recv(f.channels.recv), 'café');
  await send(f.channels.send, { $bytes: Buffer.from([0, 0xff, 0]).toString('base64') });
  assert.deepEqual(done(await settle(f.id)), [3, [0, 255, 0]]);
});

test('a Bytes channel carries binary Strings between fibrils', async () => {
  const code = String.raw`
    s, r = sys.channel(type: Bytes, capacity: 2)
    begin
      s.send("\xff\x00")
      r.recv.bytes
    rescue M31::ChannelError => e
      ["ChannelError", e.code, e.field, e.message]
    end
  `;
  assert.deepEqual(done(await run({ code })), [255, 0]);
});

test('a value that cannot cross raises TypeError in the sender; nothing is sent', async () => {
  const code = String.raw`
    out = []
    [-> { PARENT.send(1..2) },
     -> { PARENT.send({a: M31::Endpoint.new("\xff"), b: 1}) },
     -> { PARENT.send([M31::Endpoint.new("\xff")]) }].each do |l|
      out << begin
        l.call
        "sent"
      rescue TypeError => e
        "TypeError"
      end
    end
    PARENT.send("after")
    out
  `;
  const f = await spawn({ code });
  const first = await recv(f.channels.recv);
  assert.equal(JSON.stringify(first), '"after"', 'nothing but "after" was sent');
  assert.deepEqual(done(await settle(f.id)), ['TypeError', 'TypeError', 'TypeError']);
});

// ----------------------------------------------------------------- channels

test('a sync channel is a rendezvous between two sibling fibrils', async () => {
  const code = `
    def pinger(s)
      s.send(1)
      PARENT.send("a sent")
      s.send(2)
      PARENT.send("a sent 2")
      s.info["queued"]
    end
    def ponger(r)
      PARENT.recv
      PARENT.send(r.recv)
      PARENT.send(r.recv)
    end
    def main
      s, r = sys.channel(type: Int, mode: :sync)
      info = s.info
      early = [s.try_send(0), r.try_recv(:none)]
      a = sys.spawn(:pinger, [s])
      b = sys.spawn(:ponger, [r])
      n = 0
      n += 1 until sys.state(a.fibril) == "waiting" || n > 5000
      blocked = a.try_recv(:nothing)
      queued = r.info["queued"]
      b.send("go")
      got = [b.recv, a.recv, b.recv, a.recv]
      [info["mode"], info["capacity"], early, n <= 5000, blocked, queued, got, sys.collect([a, b])]
    end
  `;
  const [mode, cap, early, reached, blocked, queued, got, verdict] = done(await run({ code, fn: 'main' }));
  assert.equal(mode, 'sync');
  assert.equal(cap, 0);
  assert.deepEqual(early, [false, 'none']);
  assert.equal(reached, true, 'the pinger waited in its send');
  assert.equal(blocked, 'nothing', 'a sync send completes only when taken');
  assert.equal(queued, 0);
  assert.deepEqual(got, [1, 'a sent', 2, 'a sent 2']);
  assert.equal(verdict, 'success');
});

test('typed channels refuse wrong values with ChannelError "invalid"; nothing is queued', async () => {
  const code = `
    def err
      yield
      "no error"
    rescue M31::ChannelError => e
      [e.class.to_s, e.code, e.field]
    end
    def main
      out = {}
      s, r = sys.channel(type: Int, capacity: 4)
      out["string"] = err { s.send("x") }
      out["float"] = err { s.send(1.5) }
      out["nil"] = err { s.send(nil) }
      out["queued"] = s.info["queued"]
      out["try_recv"] = [r.try_recv, r.try_recv(:none)]
      s.send(5)
      out["ok"] = r.recv
      ws, wr = sys.channel(type: {word: String, n: Int})
      out["schema"] = err { ws.send({"word" => "pi", "n" => "3"}) }
      out["schema_missing"] = err { ws.send({word: "pi"}) }
      out["schema_queued"] = wr.info["queued"]
      ws.send({word: "pi", n: 3})
      out["schema_ok"] = wr.recv
      out["wrong_end"] = [err { r.send(1) }, err { s.recv }]
      out["not_found"] = err { M31::Endpoint.new("nope-1").recv }
      out["bad_type"] = err { sys.channel(type: "Integer") }
      out["bad_mode"] = err { sys.channel(mode: :fast) }
      out["bad_capacity"] = err { sys.channel(type: Int, mode: :sync, capacity: 3) }
      fs_, fr = sys.channel(type: Int, capacity: 1)
      out["try_send"] = [fs_.try_send(1), fs_.try_send(2), fr.info["queued"], fr.recv]
      out
    end
  `;
  const got = done(await run({ code, fn: 'main' }));
  const inv = (field) => ['M31::ChannelError', 'invalid', field];
  assert.deepEqual(got, {
    string: inv('value'),
    float: inv('value'),
    nil: inv('value'),
    queued: 0,
    try_recv: [null, 'none'],
    ok: 5,
    schema: inv('value.n'),
    schema_missing: inv('value.n'),
    schema_queued: 0,
    schema_ok: { word: 'pi', n: 3 },
    wrong_end: [['M31::ChannelError', 'wrong_end', ''], ['M31::ChannelError', 'wrong_end', '']],
    not_found: ['M31::ChannelError', 'not_found', ''],
    bad_type: inv('type'),
    bad_mode: inv('mode'),
    bad_capacity: inv('capacity'),
    try_send: [true, false, 1, 1],
  });
});

test('clone, close, info and id of endpoints in a fibril', async () => {
  const code = `
    s, r = sys.channel(type: Int, capacity: 8)
    s2 = s.clone
    s3 = s.clone
    out = [s2.class.to_s, s2.id != s.id, s2 == s3, s2 == M31::Endpoint.new(s2.id), s.uri == "/channels/#{s.id}"]
    out << s.info["send_open"]
    s3.close
    s.close
    out << begin; s.send(1); "sent"; rescue M31::ChannelClosed; "closed"; end
    s2.send(3)
    out << r.recv
    s2.close
    out << begin; r.recv; rescue M31::ChannelClosed; "drained"; end
    out << r.info["send_open"]
    out
  `;
  assert.deepEqual(done(await run({ code })),
    ['M31::Endpoint', true, false, true, true, 3, 'closed', 3, 'drained', 0]);
});

test('recv after the peer fibril ended drains, then raises ChannelClosed', async () => {
  const code = `
    def chatty; PARENT.send(1); PARENT.send(2); PARENT.send(3); :ok; end
    def main
      c = sys.spawn(:chatty)
      n = 0
      n += 1 until sys.state(c.fibril) == "done" || n > 5000
      got = []
      begin
        loop { got << c.recv }
      rescue M31::ChannelClosed => e
        got << e.class.to_s
      end
      sent = begin; c.send(9); "sent"; rescue M31::ChannelClosed; "send closed"; end
      [sys.state(c.fibril), got, sent]
    end
  `;
  assert.deepEqual(done(await run({ code, fn: 'main' })),
    ['done', [1, 2, 3, 'M31::ChannelClosed'], 'send closed']);
});

// ----------------------------------------------------- combined increments

test('combined increments: N fibrils x M invokes give exact counts, at most one write each', async () => {
  const N = 6;
  const M = 400;
  const code = `
    def worker(words, m)
      r = []
      m.times { words.each { |w| r << fs.invoke("sx_words", {word: w, freq: Int.incr}) } }
      fs.invoke("sx_words", {"word" => "pi", "freq" => Int.incr(10)})
      r.uniq
    end
    def main(n, m)
      fs.add_space("sx_words", key: "word", attrs: {freq: Int})
      kids = (0...n).map { sys.spawn(:worker, [["pi", "e", "tau"], m]) }
      sys.collect(kids)
    end
  `;
  const f = await run({ code, fn: 'main', args: [N, M] }, 60_000);
  assert.equal(done(f), 'success');
  for (const k of await children(f.id)) assert.deepEqual(k.result, [null], 'a combined invoke answers nil');
  for (const [w, n] of [['pi', N * M + N * 10], ['e', N * M], ['tau', N * M]]) {
    const r = await ctx.api.req('GET', `/fs/sx_words/${w}`);
    status(r, 200);
    assert.equal(r.body.attrs.freq, n, w);
    // the node merges the batches of fibrils that flush while the store
    // is busy, so concurrent fibrils may share a write
    assert.ok(r.body.version >= 1 && r.body.version <= N, `${w}: ${r.body.version} writes for ${N} fibrils`);
  }
});

test('a fibril that raises after invokes still applies them', async () => {
  done(await run({ code: 'fs.add_space("sx_raise", key: "word", attrs: {freq: Int})' }));
  const f = await run({
    code: '5.times { fs.invoke("sx_raise", {word: "w", freq: Int.incr(2)}) }\nraise ArgumentError, "after"',
  });
  assert.equal(f.state, 'failed');
  assert.equal(f.error.class, 'ArgumentError');
  assert.equal(f.error.message, 'after');
  const r = await ctx.api.req('GET', '/fs/sx_raise/w');
  status(r, 200);
  assert.equal(r.body.attrs.freq, 10);
});

test('read-your-writes across a message: increments land before the send', async () => {
  const code = `
    def main(rounds, per)
      fs.add_space("sx_ryw", key: "word", attrs: {freq: Int})
      rounds.times do |i|
        per.times { fs.invoke("sx_ryw", {word: "w", freq: Int.incr}) }
        PARENT.send(i)
        PARENT.recv
      end
      :done
    end
  `;
  const f = await spawn({ code, fn: 'main', args: [5, 100] });
  for (let i = 0; i < 5; i++) {
    assert.equal(await recv(f.channels.recv), i);
    const r = await ctx.api.req('GET', '/fs/sx_ryw/w');
    status(r, 200);
    assert.equal(r.body.attrs.freq, (i + 1) * 100, `round ${i}`);
    await send(f.channels.send, 'next');
  }
  assert.equal(done(await settle(f.id)), 'done');
});

test('combined increments are applied before a spawn, a send to a fibril and other fs calls', async () => {
  const code = `
    def reader; PARENT.send(fs.get("sx_points", "w")["attrs"]["freq"]); end
    def writer
      50.times { fs.invoke("sx_points", {word: "c", freq: Int.incr}) }
      PARENT.send("sent")
      PARENT.recv
    end
    def main
      fs.add_space("sx_points", key: "word", attrs: {freq: Int})
      7.times { fs.invoke("sx_points", {word: "w", freq: Int.incr}) }
      a = sys.spawn(:reader)
      seen_by_child = a.recv
      b = sys.spawn(:writer)
      b.recv
      seen_after_message = fs.get("sx_points", "c")["attrs"]["freq"]
      b.send("bye")
      3.times { fs.invoke("sx_points", {word: "w", freq: Int.incr}) }
      own = fs.get("sx_points", "w")["attrs"]["freq"]
      [seen_by_child, seen_after_message, own, sys.collect([a, b])]
    end
  `;
  assert.deepEqual(done(await run({ code, fn: 'main' })), [7, 50, 10, 'success']);
});

test('fs.flush answers the number of records written', async () => {
  const code = `
    fs.add_space("sx_flush", key: "word", attrs: {freq: Int, len: Int})
    fs.add_space("sx_flush2", key: "k", attrs: {n: Int})
    a = fs.flush
    r1 = fs.invoke("sx_flush", {word: "a", freq: Int.incr})
    fs.invoke("sx_flush", {word: "a", freq: Int.incr, len: Int.incr(2)})
    fs.invoke("sx_flush", {word: "b", freq: Int.incr})
    fs.invoke(:sx_flush, {"word" => "c", "freq" => Int.incr(5)})
    fs.invoke("sx_flush2", {k: "x", n: Int.incr(-3)})
    b = fs.flush
    c = fs.flush
    got = [fs.get("sx_flush", "a")["attrs"], fs.get("sx_flush", "c")["attrs"]["freq"],
           fs.get("sx_flush2", "x")["attrs"]]
    set = fs.invoke("sx_flush", {word: "a", freq: 1})
    [a, r1, b, c, *got, set.class.to_s, set["attrs"]["freq"]]
  `;
  assert.deepEqual(done(await run({ code })),
    [0, null, 4, 0, { freq: 2, len: 2 }, 5, { n: -3 }, 'Hash', 1]);
});

test('50,000 distinct keys pending force a flush', async () => {
  const code = `
    def main
      fs.add_space("sx_many", key: "word", attrs: {freq: Int})
      49_999.times { |i| fs.invoke("sx_many", {word: "a#{i}", freq: Int.incr}) }
      fs.invoke("sx_many", {word: "a0", freq: Int.incr})
      below = fs.flush
      50_000.times { |i| fs.invoke("sx_many", {word: "k#{i}", freq: Int.incr}) }
      PARENT.recv
      after = fs.flush
      fs.invoke("sx_many", {word: "extra", freq: Int.incr})
      [below, after, fs.flush]
    end
  `;
  const f = await spawn({ code, fn: 'main', budget: { cpu_ms: 60_000 } });
  // the fibril waits in PARENT.recv (not a flush point) with 50,000 keys
  // put off: they were applied when the 50,000th came
  const last = await until(async () => {
    const r = await ctx.api.req('GET', '/fs/sx_many/k49999');
    if (r.status === 200) return r.body;
    const g = await fibril(f.id);
    assert.ok(!FINAL.has(g.state), `the fibril ended: ${JSON.stringify(g.error)}`);
    return null;
  }, 'k49999 written while the fibril waits', 60_000);
  assert.equal(last.attrs.freq, 1);
  assert.equal((await ctx.api.req('GET', '/fs/sx_many/k0')).body.attrs.freq, 1);
  assert.equal((await fibril(f.id)).state, 'waiting');
  await send(f.channels.send, 'go');
  assert.deepEqual(done(await settle(f.id, 60_000)), [49_999, 0, 1]);
  assert.equal((await ctx.api.req('GET', '/fs/sx_many/a0')).body.attrs.freq, 2);
});

test('a flush that fails for one space still applies the others', async () => {
  const code = `
    fs.add_space("sx_good", key: "word", attrs: {freq: Int})
    fs.invoke("sx_nospace", {word: "x", freq: Int.incr})
    fs.invoke("sx_good", {word: "g", freq: Int.incr(4)})
    code = begin; fs.flush; nil; rescue M31::StoreError => e; e.code; end
    g = fs.get("sx_good", "g")
    [code.nil?, g && g["attrs"]["freq"]]
  `;
  assert.deepEqual(done(await run({ code })), [false, 4]);
});

// ------------------------------------------------------- children over HTTP

test('GET /fibrils?parent= shows the children while they wait', async () => {
  const code = `
    def waiter; PARENT.recv; :woke; end
    def main
      kids = (0...3).map { sys.spawn(:waiter) }
      PARENT.send(kids.map { |k| k.fibril })
      PARENT.recv
      kids.each { |k| k.send("go") }
      sys.collect(kids)
    end
  `;
  const f = await spawn({ code, fn: 'main' });
  const ids = await recv(f.channels.recv);
  assert.equal(ids.length, 3);
  const items = await until(async () => {
    const l = await children(f.id);
    return l.length === 3 && l.every((x) => x.state === 'waiting') ? l : null;
  }, 'three waiting children');
  assert.deepEqual(items.map((x) => x.id), ids);
  for (const x of items) {
    assert.equal(x.parent, f.id);
    assert.equal(x.code, f.code);
    assert.match(x.channels.recv, /^\/channels\/.+/);
  }
  assert.equal((await fibril(f.id)).state, 'waiting');
  await send(f.channels.send, 'go');
  assert.equal(done(await settle(f.id)), 'success');
  const after = await children(f.id);
  assert.deepEqual(after.map((x) => [x.state, x.result]), [['done', 'woke'], ['done', 'woke'], ['done', 'woke']]);
});

test('DELETE of a parent kills its children and closes their channels', async () => {
  const code = `
    def sleeper; loop { PARENT.recv }; end
    def main
      kids = (0...2).map { sys.spawn(:sleeper) }
      PARENT.send(kids.map { |k| k.fibril })
      PARENT.recv
    end
  `;
  const f = await spawn({ code, fn: 'main' });
  const ids = await recv(f.channels.recv);
  for (const id of ids) await waitState(id, 'waiting');
  const kid = await fibril(ids[0]);
  const poll = ctx.api.req('GET', `${f.channels.recv}?wait=20`);
  await sleep(100);
  const t0 = Date.now();
  status(await ctx.api.req('DELETE', `/fibrils/${f.id}`), 204);
  for (const id of [f.id, ...ids]) {
    const g = await settle(id);
    assert.equal(g.state, 'killed');
    assert.equal(g.reason, 'killed by DELETE');
  }
  const p = await poll;
  assert.equal(p.status, 410, `a waiting client is told the fibril's channel closed: ${p.status}`);
  assert.ok(Date.now() - t0 < 5000);
  status(await ctx.api.req('POST', f.channels.send, { json: 1 }), 410);
  // the ends a parent held of its children's channels are gone with it
  await until(async () => {
    const r = await ctx.api.req('GET', kid.channels.recv);
    return r.status === 404 || r.status === 410;
  }, 'the child\'s channel closed');
  await until(async () => {
    const r = await ctx.api.req('POST', kid.channels.send, { json: 1 });
    return r.status === 404 || r.status === 410;
  }, 'the channel to the child closed');
});

test('DELETE of a child makes its parent\'s sys.collect answer FAILURE', async () => {
  const code = `
    def sleeper; loop { PARENT.recv }; end
    def main
      k = sys.spawn(:sleeper)
      PARENT.send(k.fibril)
      [sys.collect([k]), sys.state(k.fibril)]
    end
  `;
  const f = await spawn({ code, fn: 'main' });
  const kid = await recv(f.channels.recv);
  await waitState(kid, 'waiting');
  status(await ctx.api.req('DELETE', `/fibrils/${kid}`), 204);
  assert.deepEqual(done(await settle(f.id)), ['failure', 'killed']);
});

test('a message sent to a killed fibril\'s pending recv is not lost', async () => {
  // the fibril waits on a channel the client made (not one it holds);
  // after DELETE, a message on that channel must stay for a live reader
  const c = await ctx.api.req('POST', '/channels', { json: { type: 'Int', capacity: 4 } });
  status(c, 201);
  const f = await spawn({ code: 'ep = PARENT.recv; ep.recv' });
  await send(f.channels.send, { $endpoint: idOf(c.body.recv) });
  await sleep(300); // it waits in ep.recv now
  status(await ctx.api.req('DELETE', `/fibrils/${f.id}`), 204);
  await settle(f.id);
  await sleep(200);
  await send(c.body.send, 7);
  const r = await ctx.api.req('GET', `${c.body.recv}?wait=2`);
  assert.equal(r.status, 200, 'the message went to the dead fibril\'s wait and was lost');
  assert.equal(r.body, 7);
});

test('sys.id and sys.state; PARENT is a Pair', async () => {
  const code = `
    [sys.id, sys.state(sys.id), PARENT.class.to_s, PARENT.tx.uri, PARENT.rx.uri, PARENT.fibril,
     begin; sys.state("nosuch-1"); rescue ArgumentError => e; e.class.to_s; end]
  `;
  const f = await spawn({ code });
  const [id, state, klass, tx, rx, fib, nosuch] = done(await settle(f.id));
  assert.equal(id, f.id);
  assert.ok(['running', 'waiting'].includes(state), state); // in its own sys.state call
  assert.equal(klass, 'M31::Pair');
  // PARENT.send reaches the client's recv; the client's send reaches PARENT.recv
  assert.notEqual(tx, f.channels.recv);
  assert.notEqual(rx, f.channels.send);
  assert.equal(fib, null);
  assert.equal(nosuch, 'ArgumentError');
});

test('a parent that ends first closes its child\'s PARENT both ways', async () => {
  const code = `
    def orphan
      r = begin; PARENT.recv; "got"; rescue M31::ChannelClosed; "recv closed"; end
      s = begin; PARENT.send(1); "sent"; rescue M31::ChannelClosed; "send closed"; end
      [r, s]
    end
    def main
      sys.spawn(:orphan).fibril
    end
  `;
  const kid = done(await run({ code, fn: 'main' }));
  assert.deepEqual(done(await settle(kid)), ['recv closed', 'send closed']);
});

test('PARENT.send waits while the channel is full (capacity 64) and loses nothing', async () => {
  const f = await spawn({ code: '150.times { |i| PARENT.send(i) }; :sent' });
  // each send is a wait; the channel fills up and then stays full
  await until(async () => (await ctx.api.req('GET', `${f.channels.recv}?info`)).body.queued === 64,
    'the channel filled up');
  await sleep(200);
  assert.equal((await ctx.api.req('GET', `${f.channels.recv}?info`)).body.queued, 64);
  assert.equal((await fibril(f.id)).state, 'waiting');
  const got = [];
  for (let i = 0; i < 150; i++) got.push(await recv(f.channels.recv));
  assert.deepEqual(got, [...Array(150).keys()]);
  assert.equal(done(await settle(f.id)), 'sent');
});

test('a killed fibril\'s waiting sync send is not delivered after its death', async () => {
  const c = await ctx.api.req('POST', '/channels', { json: { type: 'Int', mode: 'sync' } });
  status(c, 201);
  const f = await spawn({ code: 'ep = PARENT.recv; ep.send(13); :delivered' });
  await send(f.channels.send, { $endpoint: idOf(c.body.send) });
  await sleep(300); // it waits in ep.send now: nobody receives
  status(await ctx.api.req('DELETE', `/fibrils/${f.id}`), 204);
  assert.equal((await settle(f.id)).state, 'killed');
  await sleep(200);
  const r = await ctx.api.req('GET', `${c.body.recv}?wait=1`);
  assert.equal(r.status, 204, `a killed fibril's message was delivered: ${r.text}`);
});

test('a node with fibrils waiting in channels stops promptly and cleanly', async () => {
  const n = await startNode({ args: ['--nuclei', '2'] });
  try {
    const code = `
      def sleeper; PARENT.recv; end
      def main; k = sys.spawn(:sleeper); s, r = sys.channel(type: Int, mode: :sync); PARENT.send(1); r.recv; end
    `;
    const r = await fetch(`${n.base}/fibrils`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ code, fn: 'main' }),
    });
    assert.equal(r.status, 201);
    const f = await r.json();
    const m = await fetch(`${n.base}${f.channels.recv}?wait=10`);
    assert.equal(await m.text(), '1');
    await sleep(200);
  } finally {
    const t0 = Date.now();
    await n.stop(); // asserts exit 0 within 10 s and no sanitizer report
    assert.ok(Date.now() - t0 < 5000, `stopped in ${Date.now() - t0} ms`);
  }
});

test('combined increments that overflow 64 bits are refused, as separate ones are', async () => {
  const code = `
    fs.add_space("sx_over", key: "word", attrs: {freq: Int})
    fs.invoke("sx_over", {word: "sep", freq: Int.incr(2**62)})
    fs.flush
    fs.invoke("sx_over", {word: "sep", freq: Int.incr(2**62)})
    sep = begin; fs.flush; "applied"; rescue M31::StoreError => e; e.class.to_s; end
    comb = begin
      fs.invoke("sx_over", {word: "comb", freq: Int.incr(2**62)})
      fs.invoke("sx_over", {word: "comb", freq: Int.incr(2**62)}) # not combined: it would overflow
      fs.flush
      "applied"
    rescue => e
      e.class.to_s
    end
    c = fs.get("sx_over", "comb")
    [sep, fs.get("sx_over", "sep")["attrs"]["freq"], comb, c && c["attrs"]["freq"]]
  `;
  const [sep, sepFreq, comb, combFreq] = done(await run({ code }));
  assert.equal(sep, 'M31::StoreError');
  assert.equal(sepFreq, 2 ** 62);
  assert.notEqual(comb, 'applied', `the combined sum wrapped around and was stored as ${combFreq}`);
  assert.ok(combFreq === null || combFreq > 0, `stored ${combFreq}`);
});
