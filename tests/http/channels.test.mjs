// /channels: one-way typed FIFOs over HTTP. Each end is a URI; POST sends,
// GET receives (long-poll with ?wait=, or text/event-stream).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { problem, sleep, startNode, status } from './lib/node.mjs';
import { checkParts, useNode } from './lib/contract.mjs';

const run = promisify(execFile);

const ctx = useNode();

async function create(spec) {
  const r = await ctx.api.req('POST', '/channels', { json: spec });
  status(r, 201);
  return r.body;
}

const send = (uri, value, q = '') => ctx.api.req('POST', uri + q, { json: value });
const recv = (uri, q = '', opts = {}) => ctx.api.req('GET', uri + q, opts);
const info = async (uri) => (await ctx.api.req('GET', `${uri}?info`)).body;

/** Opens an event stream; events() yields parsed events as they come. */
async function stream(uri, q = '') {
  const ctl = new AbortController();
  const res = await fetch(ctx.node.base + uri + q, {
    headers: { Accept: 'text/event-stream' }, signal: ctl.signal,
  });
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  let raw = '';
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
        return ev;
      }
      const { value, done } = await reader.read();
      if (done) return null;
      const t = dec.decode(value, { stream: true });
      buf += t;
      raw += t;
    }
  }
  /** The next event that is not a comment (null at the end). */
  async function event() {
    for (;;) {
      const ev = await next();
      if (!ev || ev.event) return ev;
    }
  }
  return { res, next, event, abort: () => ctl.abort(), raw: () => raw };
}

test('POST /channels makes a channel with two ends; send then receive', async () => {
  const c = await create({ type: 'Int', mode: 'async', capacity: 4 });
  assert.equal(c.type, 'Int');
  assert.equal(c.mode, 'async');
  assert.equal(c.capacity, 4);
  assert.match(c.send, /^\/channels\/[^/]+$/);
  assert.match(c.recv, /^\/channels\/[^/]+$/);
  assert.notEqual(c.send, c.recv);
  const s = await send(c.send, 42);
  status(s, 200);
  assert.equal(s.body.seq, 1);
  assert.equal(s.headers.get('m31-message-seq'), '1');
  const i = await info(c.recv);
  assert.equal(i.queued, 1);
  assert.equal(i.end, 'recv');
  assert.equal(i.closed, false);
  assert.deepEqual(i.send, [c.send]);
  const r = await recv(c.recv);
  status(r, 200);
  assert.equal(r.body, 42);
  assert.equal(r.headers.get('m31-message-seq'), '1');
  status(await recv(c.recv), 204);
  status(await send(c.send, 8), 200);
  status(await ctx.api.req('HEAD', c.recv, {}, { contract: false }), 200); // HEAD takes nothing
  assert.equal((await recv(c.recv)).body, 8);
  const rb = await send(c.send, 7, '?fmt=ruby');
  assert.match(rb.text, /seq/);
  const r2 = await recv(c.recv, '?fmt=ruby');
  assert.equal(r2.text.trim(), '7');
});

test('defaults: async with capacity 16; Location is the receive end', async () => {
  const r = await ctx.api.req('POST', '/channels', { json: { type: 'Any' } });
  status(r, 201);
  assert.equal(r.body.mode, 'async');
  assert.equal(r.body.capacity, 16);
  assert.equal(r.headers.get('location'), r.body.recv);
});

test('a long-poll waits for the send, holding no answer until then', async () => {
  const c = await create({ type: { word: 'String', n: 'Int' } });
  const t0 = Date.now();
  const pending = recv(c.recv, '?wait=10');
  await sleep(300);
  status(await send(c.send, { word: 'pi', n: 3 }), 200);
  const r = await pending;
  status(r, 200);
  assert.deepEqual(r.body, { word: 'pi', n: 3 });
  const dt = Date.now() - t0;
  assert.ok(dt >= 250 && dt < 5000, `answered after ${dt} ms`);
});

test('a long-poll that sees nothing answers 204 after its wait', async () => {
  const c = await create({ type: 'Int' });
  const t0 = Date.now();
  const r = await recv(c.recv, '?wait=0.5');
  status(r, 204);
  const dt = Date.now() - t0;
  assert.ok(dt >= 450 && dt < 3000, `answered after ${dt} ms`);
  const t1 = Date.now();
  status(await recv(c.recv), 204);
  assert.ok(Date.now() - t1 < 1000);
});

test('many long-polls on one end are served in order, each once', async () => {
  const c = await create({ type: 'Int', capacity: 100 });
  const polls = [];
  for (let i = 0; i < 5; i++) {
    polls.push(recv(c.recv, '?wait=10'));
    await sleep(30);
  }
  for (let i = 0; i < 5; i++) status(await send(c.send, i), 200);
  const got = (await Promise.all(polls)).map((r) => r.body);
  assert.deepEqual(got, [0, 1, 2, 3, 4]);
});

test('an event stream carries messages in order, with ids, until closed', async () => {
  const c = await create({ type: 'String', capacity: 8 });
  status(await send(c.send, 'a'), 200);
  const s = await stream(c.recv);
  assert.equal(s.res.status, 200);
  assert.match(s.res.headers.get('content-type'), /^text\/event-stream/);
  checkParts('GET', '/channels/{id}', 200, s.res.headers.get('content-type'), '', s.res.headers);
  for (const v of ['b', 'c', 'd']) status(await send(c.send, v), 200);
  const seen = [];
  for (let i = 0; i < 4; i++) {
    const ev = await s.event();
    assert.equal(ev.event, 'message');
    seen.push([Number(ev.id), JSON.parse(ev.data)]);
  }
  assert.deepEqual(seen, [[1, 'a'], [2, 'b'], [3, 'c'], [4, 'd']]);
  status(await ctx.api.req('POST', `${c.send}/close`), 200);
  const end = await s.event();
  assert.equal(end.event, 'close');
  assert.deepEqual(JSON.parse(end.data), { reason: 'closed' });
  assert.equal(await s.event(), null, 'the stream ends after close');
});

test('an idle event stream sends heartbeats', async () => {
  const c = await create({ type: 'Int' });
  const s = await stream(c.recv, '?heartbeat=1');
  const first = await s.next();
  assert.ok(first.comment.length > 0);
  const hb = await s.next();
  assert.deepEqual(hb.comment, ['keep-alive']);
  s.abort();
});

test('a value of the wrong type is 422 naming the field, and nothing is queued', async () => {
  const c = await create({ type: 'Int' });
  problem(await send(c.send, 'x'), 422, 'value');
  problem(await send(c.send, 1.5), 422, 'value');
  const o = await create({ type: { word: 'String', n: 'Int' } });
  problem(await send(o.send, { word: 'pi', n: '3' }), 422, 'value.n');
  problem(await send(o.send, { word: 'pi' }), 422, 'value.n');
  problem(await send(o.send, { word: 'pi', n: 3, extra: 1 }), 422, 'value.extra');
  problem(await send(o.send, [1]), 422, 'value');
  const b = await create({ type: 'Bytes' });
  problem(await send(b.send, 'not base64!'), 422, 'value');
  status(await send(b.send, 'aGk='), 200);
  assert.equal((await info(c.recv)).queued, 0);
  assert.equal((await info(o.recv)).queued, 0);
});

test('async capacity: a full channel is 409, nothing queued; ?wait= waits for room', async () => {
  const c = await create({ type: 'Int', mode: 'async', capacity: 2 });
  status(await send(c.send, 1), 200);
  status(await send(c.send, 2), 200);
  problem(await send(c.send, 3), 409);
  assert.equal((await info(c.send)).queued, 2);
  const t0 = Date.now();
  problem(await send(c.send, 3, '?wait=0.3'), 409);
  assert.ok(Date.now() - t0 >= 250);
  assert.equal((await info(c.send)).queued, 2);
  const waiting = send(c.send, 3, '?wait=10');
  await sleep(200);
  assert.equal((await recv(c.recv)).body, 1);
  status(await waiting, 200);
  assert.deepEqual([(await recv(c.recv)).body, (await recv(c.recv)).body], [2, 3]);
});

test('sync: a send completes only when a receiver takes it', async () => {
  const c = await create({ type: 'Int', mode: 'sync' });
  assert.equal(c.capacity, 0);
  // nobody waits: refused at once, and nothing is left behind
  problem(await send(c.send, 1), 409);
  problem(await send(c.send, 1, '?wait=0.3'), 409);
  status(await recv(c.recv), 204);
  // the sender waits until a receiver comes
  let done = false;
  const waiting = send(c.send, 5, '?wait=10').then((r) => { done = true; return r; });
  await sleep(300);
  assert.equal(done, false, 'a sync send must wait for its receiver');
  const r = await recv(c.recv);
  assert.equal(r.body, 5);
  status(await waiting, 200);
  // a receiver that waits first is handed the send
  const poll = recv(c.recv, '?wait=10');
  await sleep(100);
  status(await send(c.send, 6), 200);
  assert.equal((await poll).body, 6);
  problem(await ctx.api.req('POST', '/channels', { json: { type: 'Int', mode: 'sync', capacity: 3 } }), 422, 'capacity');
});

test('close: receivers drain, then 410; a closed end answers 410', async () => {
  const c = await create({ type: 'Int' });
  status(await send(c.send, 1), 200);
  const cl = await ctx.api.req('POST', `${c.send}/close`);
  status(cl, 200);
  assert.equal(cl.body.closed, true);
  assert.equal(cl.body.send_open, 0);
  status(await ctx.api.req('POST', `${c.send}/close`), 200); // idempotent
  problem(await send(c.send, 2), 410);
  assert.equal((await recv(c.recv)).body, 1);
  problem(await recv(c.recv), 410);
  problem(await recv(c.recv, '?wait=5'), 410);
  // a waiting receiver is told at once
  const d = await create({ type: 'Int' });
  const poll = recv(d.recv, '?wait=10');
  await sleep(100);
  status(await ctx.api.req('POST', `${d.send}/close`), 200);
  problem(await poll, 410);
  // no receive end open: senders get 410
  const e = await create({ type: 'Int' });
  status(await ctx.api.req('POST', `${e.recv}/close`), 200);
  problem(await send(e.send, 1), 410);
  problem(await recv(e.recv), 410);
  const es = await fetch(ctx.node.base + e.recv, { headers: { Accept: 'text/event-stream' } });
  assert.equal(es.status, 410);
  assert.match(es.headers.get('content-type'), /^application\/problem\+json/);
  await es.text();
});

test('clones share the channel; the channel closes with its last send end', async () => {
  const c = await create({ type: 'Int', capacity: 10 });
  const cs = await ctx.api.req('POST', `${c.send}/clones`);
  status(cs, 201);
  assert.equal(cs.body.end, 'send');
  assert.equal(cs.headers.get('location'), cs.body.uri);
  assert.equal(cs.body.send.length, 2);
  const cr = await ctx.api.req('POST', `${c.recv}/clones`);
  status(cr, 201);
  assert.equal(cr.body.end, 'recv');
  status(await send(c.send, 1), 200);
  status(await send(cs.body.uri, 2), 200);
  assert.equal((await recv(cr.body.uri)).body, 1);
  assert.equal((await recv(c.recv)).body, 2);
  status(await ctx.api.req('POST', `${c.send}/close`), 200);
  problem(await ctx.api.req('POST', `${c.send}/clones`), 410);
  status(await send(cs.body.uri, 3), 200); // the clone is still open
  status(await ctx.api.req('DELETE', cs.body.uri), 204);
  assert.equal((await recv(c.recv)).body, 3);
  problem(await recv(cr.body.uri), 410);
});

test('DELETE removes an end; the channel goes with its last end', async () => {
  const c = await create({ type: 'Int' });
  const before = (await ctx.api.req('GET', '/channels?limit=1000')).body.items.length;
  status(await ctx.api.req('DELETE', c.send), 204);
  problem(await ctx.api.req('DELETE', c.send), 404);
  problem(await send(c.send, 1), 404);
  problem(await recv(c.recv), 410);
  status(await ctx.api.req('DELETE', c.recv), 204);
  problem(await recv(c.recv), 404);
  const afterList = (await ctx.api.req('GET', '/channels?limit=1000')).body.items;
  assert.equal(afterList.length, before - 1);
  assert.ok(!afterList.some((x) => x.recv.includes(c.recv)));
});

test('GET /channels lists channels in pages', async () => {
  for (let i = 0; i < 3; i++) await create({ type: 'Int' });
  const all = (await ctx.api.req('GET', '/channels?limit=1000')).body.items;
  assert.ok(all.length >= 3);
  const seen = [];
  let cursor = null;
  do {
    const r = await ctx.api.req('GET', `/channels?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    status(r, 200);
    assert.ok(r.body.items.length <= 2);
    seen.push(...r.body.items.map((x) => x.channel));
    cursor = r.body.next;
  } while (cursor);
  assert.deepEqual(seen, all.map((x) => x.channel));
  problem(await ctx.api.req('GET', '/channels?cursor=nope'), 400, 'cursor');
  problem(await ctx.api.req('GET', '/channels?limit=0'), 400, 'limit');
});

test('bad input is a problem and changes nothing', async () => {
  const n0 = (await ctx.api.req('GET', '/channels?limit=1000')).body.items.length;
  problem(await ctx.api.req('POST', '/channels', { json: { type: 'Integer' } }), 422, 'type');
  problem(await ctx.api.req('POST', '/channels', { json: { type: { a: 'Nope' } } }), 422, 'type');
  problem(await ctx.api.req('POST', '/channels', { json: {} }), 422, 'type');
  problem(await ctx.api.req('POST', '/channels', { json: { type: 'Int', mode: 'fast' } }), 422, 'mode');
  problem(await ctx.api.req('POST', '/channels', { json: { type: 'Int', capacity: 0 } }), 422, 'capacity');
  problem(await ctx.api.req('POST', '/channels', { json: { type: 'Int', capacity: -1 } }), 422, 'capacity');
  problem(await ctx.api.req('POST', '/channels', { json: { type: 'Int', colour: 1 } }), 422, 'colour');
  problem(await ctx.api.req('POST', '/channels', { body: '{', headers: { 'Content-Type': 'application/json' } }), 400);
  problem(await ctx.api.req('POST', '/channels', { body: '{}', headers: { 'Content-Type': 'text/plain' } }), 415);
  assert.equal((await ctx.api.req('GET', '/channels?limit=1000')).body.items.length, n0);

  const c = await create({ type: 'Int' });
  problem(await ctx.api.req('POST', c.send, { body: '1 2', headers: { 'Content-Type': 'application/json' } }), 400);
  problem(await ctx.api.req('POST', c.send, { body: '1', headers: { 'Content-Type': 'text/plain' } }), 415);
  problem(await ctx.api.req('POST', c.send, { body: '{"a":1,"a":2}', headers: { 'Content-Type': 'application/json' } }), 400);
  problem(await ctx.api.req('POST', c.send, { body: '['.repeat(100) + ']'.repeat(100), headers: { 'Content-Type': 'application/json' } }), 400);
  problem(await send(c.send, 1, '?wait=-1'), 400, 'wait');
  problem(await send(c.send, 1, '?wait=61'), 400, 'wait');
  problem(await recv(c.recv, '?wait=abc'), 400, 'wait');
  problem(await send(c.recv, 1), 409);
  problem(await recv(c.send), 409);
  assert.equal((await info(c.recv)).queued, 0);
  problem(await recv('/channels/nope'), 404);
  problem(await send('/channels/nope', 1), 404);
  problem(await ctx.api.req('GET', '/channels/nope?info'), 404);
  problem(await ctx.api.req('POST', '/channels/nope/clones'), 404);
  problem(await ctx.api.req('POST', '/channels/nope/close'), 404);
  problem(await ctx.api.req('DELETE', '/channels/nope'), 404);
  problem(await ctx.api.req('PUT', c.send, { json: 1 }), 405);
});

test('curl on both ends', async () => {
  const c = await create({ type: 'Map', capacity: 4 });
  const poll = run('curl', ['-sS', '-w', '\n%{http_code}', `${ctx.node.base}${c.recv}?wait=10`]);
  await sleep(200);
  const s = await run('curl', ['-sS', '-w', '\n%{http_code}', '-X', 'POST', '-H', 'Content-Type: application/json',
    '-d', '{"hello":"world"}', ctx.node.base + c.send]);
  assert.equal(s.stdout.trim().split('\n').pop(), '200');
  const [body, code] = (await poll).stdout.trim().split('\n');
  assert.equal(code, '200');
  assert.deepEqual(JSON.parse(body), { hello: 'world' });
  // curl -N reads the event stream as it comes
  const sse = run('curl', ['-sSN', '-H', 'Accept: text/event-stream', ctx.node.base + c.recv], { timeout: 10000 });
  await sleep(200);
  for (const v of [{ a: 1 }, { a: 2 }]) status(await send(c.send, v), 200);
  await sleep(100);
  status(await ctx.api.req('POST', `${c.send}/close`), 200);
  const out = (await sse).stdout;
  assert.match(out, /id: \d+\nevent: message\ndata: \{"a":1\}\n\nid: \d+\nevent: message\ndata: \{"a":2\}\n\n/);
  assert.match(out, /event: close\n/);
});

test('clients that leave during a long-poll or a stream free everything', async () => {
  const c = await create({ type: 'Int', capacity: 100 });
  const polls = [];
  for (let i = 0; i < 5; i++) {
    const ctl = new AbortController();
    polls.push(fetch(`${ctx.node.base}${c.recv}?wait=1`, { signal: ctl.signal }).catch(() => null));
    setTimeout(() => ctl.abort(), 100);
  }
  const streams = [];
  for (let i = 0; i < 3; i++) streams.push(await stream(c.recv, '?heartbeat=1'));
  await sleep(150);
  for (const s of streams) s.abort();
  await Promise.all(polls);
  // let the waits and heartbeats end, so the node notices (a stream's
  // first heartbeat after the client left may still be written)
  await sleep(3500);
  status(await send(c.send, 1), 200);
  status(await recv(c.recv, '?wait=1'), 200);
  const h = await ctx.api.req('GET', '/sys/health');
  status(h, 200);
});

test('a node stops promptly with long-polls and streams open', async () => {
  const n2 = await startNode();
  const r = await fetch(`${n2.base}/channels`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ type: 'Int' }),
  });
  const c = await r.json();
  const poll = fetch(`${n2.base}${c.recv}?wait=60`).then((x) => x.status).catch(() => 'cut');
  const es = await fetch(n2.base + c.recv, { headers: { Accept: 'text/event-stream' } });
  const text = es.text().catch(() => '');
  await sleep(200);
  const t0 = Date.now();
  await n2.stop();
  assert.ok(Date.now() - t0 < 5000, 'stopped within 5 s');
  assert.ok([503, 'cut'].includes(await poll));
  assert.match(await text, /event: close/);
});

test('a long-poll may outlast the idle connection timeout', async () => {
  const n3 = await startNode({ args: ['--conn-timeout', '1'] });
  try {
    const r = await fetch(`${n3.base}/channels`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ type: 'Int' }),
    });
    const c = await r.json();
    const poll = fetch(`${n3.base}${c.recv}?wait=5`);
    await sleep(2000);
    const s = await fetch(n3.base + c.send, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '5',
    });
    assert.equal(s.status, 200);
    const got = await poll;
    assert.equal(got.status, 200);
    assert.equal(await got.text(), '5');
  } finally {
    await n3.stop();
  }
});
