// CORS (--cors-origin, M31_CORS_ORIGIN): off by default, so no answer
// carries a CORS header and OPTIONS keeps its plain 204 with Allow; with a
// list of origins, an allowed Origin gets Access-Control-Allow-Origin and
// the exposed headers, and its preflight the methods, headers and max age;
// any other Origin gets none of them; `*` allows every origin.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import { promisify } from 'node:util';
import { BIN, problem, rawReq, startNode, status } from './lib/node.mjs';
import { checkParts, useNode } from './lib/contract.mjs';

const run = promisify(execFile);

const ctx = useNode(); // CORS off: the default

const ALLOWED = 'https://app.example';

/** Every header of an answer whose name starts with access-control-. */
function corsHeaders(res) {
  const out = {};
  for (const [k, v] of res.headers) if (k.startsWith('access-control-')) out[k] = v;
  return out;
}

/** A preflight as a browser sends it (fetch cannot: Origin is forbidden). */
function preflight(base, path, origin, method = 'PUT', headers = 'content-type, if-match') {
  return rawReq(base, 'OPTIONS', path, {
    headers: {
      Origin: origin,
      'Access-Control-Request-Method': method,
      'Access-Control-Request-Headers': headers,
    },
  });
}

const get = (base, path, origin) => rawReq(base, 'GET', path, { headers: origin ? { Origin: origin } : {} });

test('off by default: no CORS header on answers, OPTIONS is 204 with Allow', async () => {
  const base = ctx.node.base;
  const r = await get(base, '/sys/health', ALLOWED);
  status(r, 200);
  assert.deepEqual(corsHeaders(r), {});
  assert.equal(r.headers.get('vary'), null);
  const p = await preflight(base, '/fs/x/y', ALLOWED);
  status(p, 204);
  assert.equal(p.headers.get('allow'), 'PUT, PATCH, GET, HEAD, DELETE, OPTIONS');
  assert.deepEqual(corsHeaders(p), {});
  checkParts('GET', '/sys/health', 200, r.ctype, r.body, r.headers);
  // unchanged: a method the path does not take, an unknown path
  const m = await ctx.api.raw('POST', '/sys/health', { headers: { Origin: ALLOWED } });
  problem(m, 405);
  assert.deepEqual(corsHeaders(m), {});
  problem(await ctx.api.raw('OPTIONS', '/nope', { headers: { Origin: ALLOWED } }), 404);
});

test('with a list: allowed origins get the headers, others none', async () => {
  const n = await startNode({ args: ['--cors-origin', `${ALLOWED}, http://localhost:3000`] });
  try {
    // a plain answer
    const r = await get(n.base, '/sys/health', ALLOWED);
    status(r, 200);
    assert.equal(r.headers.get('access-control-allow-origin'), ALLOWED);
    assert.equal(r.headers.get('vary'), 'Origin');
    const exposed = r.headers.get('access-control-expose-headers').split(/,\s*/);
    for (const h of ['Location', 'ETag', 'M31-Keys-Read', 'Link', 'M31-Request-Id', 'M31-Message-Seq']) {
      assert.ok(exposed.includes(h), `${h} is exposed: ${exposed}`);
    }
    assert.equal(r.headers.get('access-control-allow-credentials'), null);
    // errors too, so a script can read the problem
    const e = await get(n.base, '/fs/nope', 'http://localhost:3000');
    problem(e, 404);
    assert.equal(e.headers.get('access-control-allow-origin'), 'http://localhost:3000');
    // another origin, and no origin: no CORS header (Vary still says why)
    for (const origin of ['https://evil.example', 'https://app.example:444', undefined]) {
      const o = await get(n.base, '/sys/health', origin);
      status(o, 200);
      assert.deepEqual(corsHeaders(o), {}, String(origin));
      assert.equal(o.headers.get('vary'), 'Origin');
    }

    // a preflight
    const p = await preflight(n.base, '/fs/x/y', ALLOWED);
    status(p, 204);
    assert.equal(p.headers.get('allow'), 'PUT, PATCH, GET, HEAD, DELETE, OPTIONS');
    assert.equal(p.headers.get('access-control-allow-methods'), 'PUT, PATCH, GET, HEAD, DELETE, OPTIONS');
    const allowed = p.headers.get('access-control-allow-headers').split(/,\s*/);
    for (const h of ['Content-Type', 'If-Match', 'If-None-Match', 'Last-Event-ID', 'Accept']) {
      assert.ok(allowed.includes(h), `${h} is allowed: ${allowed}`);
    }
    assert.equal(p.headers.get('access-control-max-age'), '600');
    assert.equal(p.headers.get('access-control-allow-origin'), ALLOWED);
    const pf = await preflight(n.base, '/fibrils', 'http://localhost:3000', 'POST');
    assert.equal(pf.headers.get('access-control-allow-methods'), 'POST, GET, HEAD, OPTIONS');
    // a preflight from elsewhere is the plain 204: the browser refuses
    const bad = await preflight(n.base, '/fs/x/y', 'https://evil.example');
    status(bad, 204);
    assert.equal(bad.headers.get('allow'), 'PUT, PATCH, GET, HEAD, DELETE, OPTIONS');
    assert.deepEqual(corsHeaders(bad), {});
    // OPTIONS without Access-Control-Request-Method is no preflight
    const plain = await rawReq(n.base, 'OPTIONS', '/fs/x/y', { headers: { Origin: ALLOWED } });
    status(plain, 204);
    assert.equal(plain.headers.get('access-control-allow-methods'), null);
    assert.equal(plain.headers.get('access-control-allow-origin'), ALLOWED);

    // an event stream carries them too (an EventSource on another origin)
    const raw = await new Promise((res, rej) => {
      const u = new URL(n.base);
      const q = http.get({
        host: u.hostname, port: u.port, path: '/fibrils?watch', headers: { Origin: ALLOWED },
      }, (resp) => {
        res(resp.headers);
        resp.destroy();
      });
      q.on('error', rej);
    });
    assert.equal(raw['content-type'], 'text/event-stream');
    assert.equal(raw['access-control-allow-origin'], ALLOWED);
  } finally {
    await n.stop();
  }
});

test('* allows every origin (from the environment too)', async () => {
  const n = await startNode({ env: { M31_CORS_ORIGIN: '*' } });
  try {
    const r = await get(n.base, '/sys/health', 'https://anyone.example');
    assert.equal(r.headers.get('access-control-allow-origin'), '*');
    const p = await preflight(n.base, '/channels', 'https://anyone.example', 'POST');
    status(p, 204);
    assert.equal(p.headers.get('access-control-allow-origin'), '*');
    assert.equal(p.headers.get('access-control-allow-methods'), 'GET, HEAD, POST, OPTIONS');
    const none = await get(n.base, '/sys/health');
    assert.deepEqual(corsHeaders(none), {});
  } finally {
    await n.stop();
  }
});

test('a bad --cors-origin is a usage error; --help lists the flag', async () => {
  for (const bad of ['app.example', 'https://app.example/', '*,https://a.example', 'null']) {
    const e = await run(BIN, ['serve', '--cors-origin', bad]).then(() => null, (x) => x);
    assert.ok(e, `${bad} was accepted`);
    assert.equal(e.code, 2);
    assert.match(e.stderr, /--cors-origin/);
  }
  const envBad = await run(BIN, ['serve'], { env: { ...process.env, M31_CORS_ORIGIN: 'nope' } })
    .then(() => null, (x) => x);
  assert.equal(envBad.code, 2);
  assert.match(envBad.stderr, /M31_CORS_ORIGIN/);
  const { stdout } = await run(BIN, ['serve', '--help']);
  assert.match(stdout, /--cors-origin LIST\s+M31_CORS_ORIGIN/);
});
