// Change streams: GET /fs/{space}?watch and GET /fibrils?watch as
// server-sent events, read with fetch streaming (and a raw socket where a
// client must stop reading). Resumable with Last-Event-ID or ?since; reset
// when that is no longer retained or the client falls behind; heartbeats;
// a stopping node ends every stream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { problem, sleep, startNode, status } from './lib/node.mjs';
import { checkParts, checkSchema, useNode } from './lib/contract.mjs';

const ctx = useNode({ args: ['--nuclei', '2'] });

const WAIT_MS = 15_000; // the longest any one event may take

/**
 * Opens an event stream on base + path; event() yields the next event
 * that is not a comment ({id, event, data (parsed)} or null at the end),
 * next() the next block, comments included.
 */
async function stream(path, { headers = {}, base = ctx.node.base } = {}) {
  const ctl = new AbortController();
  const res = await fetch(base + path, {
    headers: { Accept: 'text/event-stream', ...headers }, signal: ctl.signal,
  });
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  let raw = '';
  async function read() {
    let timer;
    const t = new Promise((_, rej) => {
      timer = setTimeout(() => rej(new Error(`no event within ${WAIT_MS} ms; so far:\n${raw.slice(-2000)}`)), WAIT_MS);
    });
    try {
      return await Promise.race([reader.read(), t]);
    } finally {
      clearTimeout(timer);
    }
  }
  async function next() {
    for (;;) {
      const i = buf.indexOf('\n\n');
      if (i >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const ev = { comment: [] };
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) ev.comment.push(line.slice(1).trim());
          else {
            const j = line.indexOf(': ');
            ev[line.slice(0, j)] = line.slice(j + 2);
          }
        }
        if (ev.data !== undefined) ev.data = JSON.parse(ev.data);
        return ev;
      }
      const { value, done } = await read();
      if (done) return null;
      const text = dec.decode(value, { stream: true });
      buf += text;
      raw += text;
    }
  }
  async function event() {
    for (;;) {
      const ev = await next();
      if (!ev || ev.event) return ev;
    }
  }
  return { res, next, event, abort: () => ctl.abort(), raw: () => raw };
}

/** A stream's answer fits the contract (200, text/event-stream). */
function contractOk(s, method, template) {
  assert.equal(s.res.status, 200);
  assert.match(s.res.headers.get('content-type'), /^text\/event-stream/);
  checkParts(method, template, 200, s.res.headers.get('content-type'), '', s.res.headers);
}

async function space(name, opts = undefined) {
  const body = { attrs: { n: 'Int', s: 'String' } };
  if (opts) body.opts = opts;
  status(await ctx.api.req('PUT', `/fs/${name}`, { json: body }), 201);
}

const put = (path, attrs, q = '') => ctx.api.req('PUT', path + q, { json: { attrs } });

/** Checks an fs event: its name, data shape, id = seq, fields. */
function fsEvent(ev, op, key, extra = {}) {
  assert.ok(ev, 'the stream ended early');
  assert.equal(ev.event, op, JSON.stringify(ev));
  checkSchema('WatchEvent', ev.data);
  assert.equal(String(ev.data.seq), ev.id);
  assert.equal(ev.data.op, op);
  if (key !== undefined) assert.equal(ev.data.key, key);
  for (const [k, v] of Object.entries(extra)) assert.deepEqual(ev.data[k], v, k);
  return ev;
}

test('a space watch streams each durable change in commit order, then the end of the space', async () => {
  await space('w1', { versioning: true });
  const s = await stream('/fs/w1?watch');
  contractOk(s, 'GET', '/fs/{space}');
  const p1 = await put('/fs/w1/a', { n: 1 });
  status(p1, 201);
  const p2 = await ctx.api.req('PATCH', '/fs/w1/a', { json: { attrs: { n: { $incr: 2 } }, labels: { l: true } } });
  status(p2, 200);
  status(await ctx.api.req('POST', '/fs/w1/a/branches', { json: { name: 'exp', from: 1 } }), 201);
  const p3 = await put('/fs/w1/a', { n: 7 }, '?branch=exp');
  status(p3, 200);
  status(await ctx.api.req('DELETE', '/fs/w1/a?branch=exp'), 204);
  status(await ctx.api.req('DELETE', '/fs/w1/a'), 204);

  const e1 = fsEvent(await s.event(), 'put', 'a', { space: 'w1', version: 1, branch: 'main' });
  assert.deepEqual(e1.data.object, p1.body); // the object as its GET answers it
  const e2 = fsEvent(await s.event(), 'patch', 'a', { version: 2, branch: 'main' });
  assert.deepEqual(e2.data.object, p2.body);
  assert.deepEqual(e2.data.object.attrs, { n: 3 });
  const e3 = fsEvent(await s.event(), 'branch', 'a', { version: 1, branch: 'exp' });
  assert.equal(e3.data.object.branch, 'exp');
  const e4 = fsEvent(await s.event(), 'put', 'a', { version: 2, branch: 'exp' });
  assert.deepEqual(e4.data.object, p3.body);
  const e5 = fsEvent(await s.event(), 'delete', 'a', { version: 2, branch: 'exp' });
  assert.equal(e5.data.object, undefined);
  const e6 = fsEvent(await s.event(), 'delete', 'a', { version: 2, branch: 'main' });
  const ids = [e1, e2, e3, e4, e5, e6].map((e) => BigInt(e.id));
  for (let i = 1; i < ids.length; i++) assert.equal(ids[i], ids[i - 1] + 1n, 'ids follow each other');

  status(await ctx.api.req('DELETE', '/fs/w1'), 204);
  const end = await s.event();
  assert.equal(end.event, 'deleted');
  checkSchema('WatchEvent', end.data);
  assert.deepEqual(end.data, { seq: Number(end.id), space: 'w1', op: 'deleted' });
  assert.equal(await s.event(), null, 'the stream ends with the space');
});

test('Accept: text/event-stream alone asks for the watch; ?key keeps one key', async () => {
  await space('w2a');
  await space('w2b');
  const all = await stream('/fs/w2a');
  contractOk(all, 'GET', '/fs/{space}');
  const one = await stream('/fs/w2a?watch&key=k');
  for (const [path, n] of [['/fs/w2a/j', 1], ['/fs/w2b/k', 2], ['/fs/w2a/k', 3]]) {
    status(await put(path, { n }), 201);
  }
  fsEvent(await all.event(), 'put', 'j', { space: 'w2a' });
  fsEvent(await all.event(), 'put', 'k', { space: 'w2a' });
  const only = fsEvent(await one.event(), 'put', 'k', { space: 'w2a' });
  assert.deepEqual(only.data.object.attrs, { n: 3 });
  status(await ctx.api.req('DELETE', '/fs/w2a'), 204);
  assert.equal((await one.event()).event, 'deleted', 'the end of the space reaches every key');
  assert.equal(await one.event(), null);
  all.abort();
});

test('Last-Event-ID or ?since resumes exactly after the last event seen', async () => {
  await space('w3');
  const s = await stream('/fs/w3?watch');
  status(await put('/fs/w3/a', { n: 1 }), 201);
  status(await put('/fs/w3/b', { n: 2 }), 201);
  fsEvent(await s.event(), 'put', 'a');
  const last = fsEvent(await s.event(), 'put', 'b');
  s.abort();
  // missed while away
  status(await put('/fs/w3/c', { n: 3 }), 201);
  status(await ctx.api.req('PATCH', '/fs/w3/a', { json: { attrs: { n: { $incr: 1 } } } }), 200);
  status(await ctx.api.req('DELETE', '/fs/w3/b'), 204);

  const want = [['put', 'c'], ['patch', 'a'], ['delete', 'b']];
  const r1 = await stream('/fs/w3?watch', { headers: { 'Last-Event-ID': last.id } });
  contractOk(r1, 'GET', '/fs/{space}');
  for (const [op, key] of want) fsEvent(await r1.event(), op, key);
  // then live
  status(await put('/fs/w3/d', { n: 4 }), 201);
  fsEvent(await r1.event(), 'put', 'd');
  r1.abort();

  const r2 = await stream(`/fs/w3?watch&since=${last.id}`);
  for (const [op, key] of [...want, ['put', 'd']]) fsEvent(await r2.event(), op, key);
  r2.abort();
  // Last-Event-ID (a reconnecting EventSource) wins over the URL's since
  const r3 = await stream('/fs/w3?watch&since=1', { headers: { 'Last-Event-ID': last.id } });
  fsEvent(await r3.event(), 'put', 'c');
  r3.abort();
});

test('a since that is no longer retained (or from another run) starts with reset, then goes live', async () => {
  await space('w4');
  for (const since of ['1', '99999999999999999']) {
    const s = await stream(`/fs/w4?watch&since=${since}`);
    contractOk(s, 'GET', '/fs/{space}');
    const r = await s.event();
    assert.equal(r.event, 'reset');
    checkSchema('WatchReset', r.data);
    assert.equal(r.data.reason, 'since');
    assert.equal(r.id, String(r.data.last));
    assert.ok(r.data.last >= r.data.epoch);
    assert.ok(r.data.oldest === null || r.data.oldest > r.data.epoch);
    status(await put('/fs/w4/x', { n: Number(since.length) }), since === '1' ? 201 : 200);
    const ev = fsEvent(await s.event(), 'put', 'x');
    assert.equal(BigInt(ev.id), BigInt(r.data.last) + 1n);
    s.abort();
  }
});

test('an idle watch sends heartbeats', async () => {
  await space('w5');
  const s = await stream('/fs/w5?watch&heartbeat=1');
  const first = await s.next();
  assert.ok(first.comment.length > 0);
  const t0 = Date.now();
  const hb = await s.next();
  assert.deepEqual(hb.comment, ['keep-alive']);
  assert.ok(Date.now() - t0 < 3000);
  assert.deepEqual((await s.next()).comment, ['keep-alive']);
  s.abort();
  const f = await stream('/fibrils?watch&heartbeat=1');
  await f.next();
  assert.deepEqual((await f.next()).comment, ['keep-alive']);
  f.abort();
});

test('bad input is a problem; a missing space is 404', async () => {
  await space('w6');
  problem(await ctx.api.req('GET', '/fs/w6?watch&since=abc'), 400, 'since');
  problem(await ctx.api.req('GET', '/fs/w6?watch&since=-1'), 400, 'since');
  problem(await ctx.api.req('GET', '/fs/w6?watch&since=1.5'), 400, 'since');
  problem(await ctx.api.req('GET', '/fs/w6?watch', { headers: { 'Last-Event-ID': 'x1' } }), 400, 'Last-Event-ID');
  problem(await ctx.api.req('GET', '/fs/w6?watch&heartbeat=0'), 400, 'heartbeat');
  problem(await ctx.api.req('GET', '/fs/w6?watch&heartbeat=61'), 400, 'heartbeat');
  problem(await ctx.api.req('GET', '/fs/w6?watch&key=a%2Fb'), 400, 'key');
  problem(await ctx.api.req('GET', '/fs/w6?watch&n=3'), 400, 'n');
  problem(await ctx.api.req('GET', '/fs/nope?watch'), 404);
  problem(await ctx.api.req('GET', '/fs/nope', { headers: { Accept: 'text/event-stream' } }), 404);
  problem(await ctx.api.req('GET', '/fibrils?watch&since=abc'), 400, 'since');
  problem(await ctx.api.req('GET', '/fibrils?watch&parent='), 400, 'parent');
  problem(await ctx.api.req('GET', '/fibrils?watch&state=done'), 400, 'state');
  // ?watch=false is not a watch, and ?schema wins over Accept
  status(await ctx.api.req('GET', '/fs/w6?watch=false'), 400); // watch is then a search condition
  const sc = await ctx.api.req('GET', '/fs/w6?schema', { headers: { Accept: 'text/event-stream' } });
  status(sc, 200);
  assert.equal(sc.body.name, 'w6');
});

const FINAL = new Set(['done', 'failed', 'killed']);

/** Reads fibril events until fibril id is final; answers them all. */
async function untilFinal(s, id) {
  const seen = [];
  for (;;) {
    const ev = await s.event();
    assert.ok(ev, 'the stream ended early');
    assert.equal(ev.event, 'fibril');
    checkSchema('Fibril', ev.data);
    seen.push(ev);
    if (ev.data.id === id && FINAL.has(ev.data.state)) return seen;
  }
}

test('the fibrils watch sees a fibril made, change state, and finish', async () => {
  const s = await stream('/fibrils?watch');
  contractOk(s, 'GET', '/fibrils');
  const r = await ctx.api.req('POST', '/fibrils', {
    json: { code: 'def main(a) fs.add_space("wfib", attrs: {n: Int}); fs.get("wfib", "x"); a * 2 end', fn: 'main', args: [21] },
  });
  status(r, 201);
  const id = r.body.id;
  const evs = (await untilFinal(s, id)).filter((e) => e.data.id === id);
  const states = evs.map((e) => e.data.state);
  assert.equal(states[0], 'ready', states.join(' '));
  assert.equal(states.at(-1), 'done', states.join(' '));
  assert.ok(states.includes('running'), states.join(' '));
  assert.ok(states.includes('waiting'), `the fs call waits: ${states.join(' ')}`);
  for (let i = 1; i < states.length; i++) assert.notEqual(states[i], states[i - 1]);
  assert.equal(evs[0].data.code, r.body.code, 'the first report is complete');
  assert.deepEqual(evs[0].data.channels, r.body.channels);
  const g = await ctx.api.req('GET', `/fibrils/${id}`);
  assert.deepEqual(evs.at(-1).data, g.body, 'the last event is the record as GET answers it');
  assert.equal(evs.at(-1).data.result, 42);
  const ids = evs.map((e) => BigInt(e.id));
  for (let i = 1; i < ids.length; i++) assert.ok(ids[i] > ids[i - 1]);
  s.abort();

  // resumable: replay from before the fibril
  const again = await stream(`/fibrils?watch&since=${BigInt(evs[0].id) - 1n}`);
  const replay = (await untilFinal(again, id)).filter((e) => e.data.id === id);
  assert.deepEqual(replay.map((e) => e.id), evs.map((e) => e.id));
  again.abort();
});

test('?parent= keeps the children of one fibril', async () => {
  const code = `
    def child(n) PARENT.send(n * n) end
    def main
      PARENT.recv
      cs = (1..2).map { |i| sys.spawn(:child, [i]) }
      cs.map { |c| c.recv }
    end`;
  const r = await ctx.api.req('POST', '/fibrils', { json: { code, fn: 'main' } });
  status(r, 201);
  const id = r.body.id;
  const s = await stream(`/fibrils?watch&parent=${id}`);
  contractOk(s, 'GET', '/fibrils');
  await s.next(); // the stream has started: the children come after
  status(await ctx.api.req('POST', r.body.channels.send, { json: 'go' }), 200);
  const done = new Set();
  const kids = new Set();
  while (done.size < 2) {
    const ev = await s.event();
    assert.ok(ev, 'the stream ended early');
    assert.equal(ev.data.parent, id);
    kids.add(ev.data.id);
    if (FINAL.has(ev.data.state)) {
      assert.equal(ev.data.state, 'done');
      done.add(ev.data.id);
    }
  }
  assert.equal(kids.size, 2);
  s.abort();
});

test("a fibril's fs.put and fs.invoke show up in the space's watch", async () => {
  await space('w7');
  const s = await stream('/fs/w7?watch');
  const r = await ctx.api.req('POST', '/fibrils', {
    json: {
      code: `
        fs.put("w7", "a", attrs: {n: 1})
        fs.invoke("w7", {key: "a", n: Int.incr(5)})   # combined: applied with the many-patch call
        fs.invoke("w7", {key: "b", s: "x", n: Int.incr})
        fs.delete("w7", "a")
        :ok`,
    },
  });
  status(r, 201);
  fsEvent(await s.event(), 'put', 'a', { version: 1 });
  const inc = fsEvent(await s.event(), 'patch', 'a', { version: 2 });
  assert.deepEqual(inc.data.object.attrs, { n: 6 });
  const b = fsEvent(await s.event(), 'patch', 'b', { version: 1 });
  assert.deepEqual(b.data.object.attrs, { n: 1, s: 'x' });
  fsEvent(await s.event(), 'delete', 'a', { version: 2 });
  s.abort();
});

/**
 * A client that stops reading: the node keeps one frame for it, the ring
 * moves on without it, and when it reads again it is told `reset`
 * (reason "behind") and the stream ends. Big objects fill the ring's byte
 * cap (32 MiB) and the socket buffers in a few hundred writes.
 */
test('a client that falls behind gets reset and the stream ends', async () => {
  await space('w8');
  const { port } = ctx.node;
  const sock = net.connect({ host: '127.0.0.1', port });
  await new Promise((res) => sock.on('connect', res));
  sock.setNoDelay(true);
  let got = '';
  let closed = false;
  sock.on('data', (c) => { got += c.toString('latin1'); });
  sock.on('close', () => { closed = true; });
  sock.write('GET /fs/w8?watch HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n');
  while (!got.includes(': m31 watch')) await sleep(10);
  sock.pause();
  const big = 'x'.repeat(200_000);
  for (let i = 0; i < 260; i++) {
    status(await put(`/fs/w8/k${i % 20}`, { s: big }), i < 20 ? 201 : 200);
  }
  sock.resume();
  const t0 = Date.now();
  while (!closed && Date.now() - t0 < WAIT_MS) {
    if (/event: reset\ndata: \{"reason":"behind"/.test(got) && got.endsWith('0\r\n\r\n')) break;
    await sleep(20);
  }
  sock.destroy();
  assert.match(got, /event: reset\r?\ndata: \{"reason":"behind","oldest":\d+,"last":\d+,"epoch":\d+\}/);
  assert.ok(got.endsWith('0\r\n\r\n'), 'the chunked answer ended');
  const puts = (got.match(/event: put/g) || []).length;
  assert.ok(puts < 260, `it could not have had everything (${puts})`);
  // the node is well
  status(await ctx.api.req('GET', '/sys/health'), 200);
});

test('a stopping node ends every watch promptly', async () => {
  const n2 = await startNode({ args: ['--nuclei', '1'] });
  const mk = await fetch(`${n2.base}/fs/ws`, {
    method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ attrs: {} }),
  });
  assert.equal(mk.status, 201);
  const a = await stream('/fs/ws?watch', { base: n2.base });
  const b = await stream('/fibrils?watch', { base: n2.base });
  await a.next();
  await b.next();
  await sleep(100);
  const t0 = Date.now();
  await n2.stop();
  assert.ok(Date.now() - t0 < 5000, `stopped in ${Date.now() - t0} ms`);
  for (const s of [a, b]) {
    const ev = await s.event();
    assert.equal(ev.event, 'close');
    assert.deepEqual(ev.data, { reason: 'stopping' });
    assert.equal(await s.event(), null);
  }
});

test('fibril changes made while no stream is open are not kept: a resume from before them is a reset', async () => {
  // a node of its own: another test's stream left open would keep the feed watched
  const n = await startNode();
  try {
    const base = n.base;
    const post = async (code) => {
      const r = await fetch(`${base}/fibrils`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ code }),
      });
      assert.equal(r.status, 201);
      return (await r.json()).id;
    };
    const s1 = await stream('/fibrils?watch&heartbeat=1', { base });
    const id1 = await post('1');
    const evs = await untilFinal(s1, id1);
    const last = evs.at(-1).id;
    s1.abort();
    await sleep(2500); // the node notices the closed stream at a heartbeat
    const id2 = await post('2');
    for (let i = 0; i < 100; i++) {
      if ((await (await fetch(`${base}/fibrils/${id2}`)).json()).state === 'done') break;
      await sleep(30);
    }
    const s2 = await stream(`/fibrils?watch&since=${last}`, { base });
    const ev = await s2.event();
    assert.equal(ev.event, 'reset', JSON.stringify(ev));
    s2.abort();
  } finally {
    await n.stop();
  }
});
