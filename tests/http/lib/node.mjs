// node.mjs — one fresh M31 node per test file, and small request helpers.
//
// startNode() spawns $M31_BIN (default <repo>/build/m31) on a free port with a
// fresh data directory, waits for its "listening on" line, and returns
// {base, port, dataDir, stop, stderr}. stop() sends SIGTERM and asserts a
// clean exit (code 0 within 10 s, no sanitizer report on stderr), then
// removes the data directory. A node still running when the test process
// exits is SIGKILLed, so nothing is left behind.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(here, '../../..');
export const BIN = resolve(process.env.M31_BIN || join(REPO, 'build/m31'));

const START_MS = 10_000;
const STOP_MS = 10_000;
export const REQ_MS = 10_000;

const running = new Set();
process.on('exit', () => {
  for (const p of running) {
    try { p.kill('SIGKILL'); } catch { /* already gone */ }
  }
});

const SANITIZER_MARKS = ['AddressSanitizer', 'LeakSanitizer', 'runtime error:'];

/**
 * Starts a node; extra command-line flags may be given in `args`, extra
 * environment variables in `env`. With `dataDir` the node uses that
 * directory (e.g. to restart on the data of a stopped node) and, like with
 * `keepData`, stop() leaves it in place for the caller to remove.
 */
export async function startNode({ args = [], env = {}, dataDir: given, keepData = false } = {}) {
  const dataDir = given ?? await mkdtemp(join(tmpdir(), 'm31-e2e-'));
  const keep = keepData || given !== undefined;
  const proc = spawn(BIN, ['serve', '--port', '0', '--bind', '127.0.0.1',
    '--data', dataDir, '--log-level', 'info', ...args],
  { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  running.add(proc);
  let log = '';
  let exit = null; // {code, signal} once it has exited
  const exited = new Promise((res) => {
    proc.on('exit', (code, signal) => {
      exit = { code, signal };
      running.delete(proc);
      res(exit);
    });
  });
  proc.stderr.setEncoding('utf8');

  let port;
  try {
    port = await new Promise((res, rej) => {
      const timer = setTimeout(() => rej(new Error(
        `node did not log "listening on" within ${START_MS} ms; stderr:\n${log}`)), START_MS);
      const onData = (chunk) => {
        log += chunk;
        const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
        if (m) {
          clearTimeout(timer);
          proc.stderr.off('data', onData);
          res(Number(m[1]));
        }
      };
      proc.stderr.on('data', onData);
      proc.on('error', (e) => { clearTimeout(timer); rej(e); });
      exited.then((e) => {
        clearTimeout(timer);
        rej(new Error(`node exited (${JSON.stringify(e)}) before listening; stderr:\n${log}`));
      });
    });
  } catch (e) {
    proc.kill('SIGKILL');
    if (!keep) await rm(dataDir, { recursive: true, force: true });
    throw e;
  }
  // Keep collecting the log after the port is known.
  proc.stderr.on('data', (chunk) => { log += chunk; });

  let stopped = false;
  async function stop() {
    if (stopped) return;
    stopped = true;
    try {
      if (exit === null) proc.kill('SIGTERM');
      let timer;
      const e = await Promise.race([
        exited,
        new Promise((res) => { timer = setTimeout(() => res(null), STOP_MS); }),
      ]);
      clearTimeout(timer);
      if (e === null) {
        proc.kill('SIGKILL');
        await exited;
        assert.fail(`node did not exit within ${STOP_MS} ms of SIGTERM; stderr:\n${tail(log)}`);
      }
      // Let the last stderr bytes arrive.
      await new Promise((res) => setTimeout(res, 50));
      assert.equal(e.code, 0,
        `node exit code ${e.code} (signal ${e.signal}); stderr:\n${tail(log)}`);
      for (const mark of SANITIZER_MARKS) {
        assert.ok(!log.includes(mark), `stderr contains "${mark}":\n${tail(log, 8000)}`);
      }
    } finally {
      if (!keep) await rm(dataDir, { recursive: true, force: true });
    }
  }

  return {
    base: `http://127.0.0.1:${port}`,
    port,
    dataDir,
    stop,
    stderr: () => log,
    pid: proc.pid,
  };
}

function tail(s, n = 4000) {
  return s.length > n ? `...${s.slice(-n)}` : s;
}

// ----------------------------------------------------------------- requests

/**
 * One request with fetch. `json` (any value) is sent as application/json;
 * `body` is sent as is. Answers {status, headers, text, body, ctype}, where
 * body is the parsed JSON when the answer is JSON (or problem+json).
 */
export async function req(base, method, path, { json, body, headers = {},
  timeout = REQ_MS } = {}) {
  const h = { ...headers };
  let payload = body;
  if (json !== undefined) {
    payload = JSON.stringify(json);
    if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) {
      h['Content-Type'] = 'application/json';
    }
  }
  const res = await fetch(base + path, {
    method, headers: h, body: payload, signal: AbortSignal.timeout(timeout),
    redirect: 'manual',
  });
  const text = await res.text();
  return shape(res.status, res.headers, text);
}

function shape(status, headers, text) {
  const ctype = headers.get('content-type') || '';
  let parsed;
  if (/^application\/(problem\+)?json\b/.test(ctype) && text.length > 0) {
    parsed = JSON.parse(text);
  }
  return { status, headers, text, body: parsed, ctype };
}

/**
 * A request through node:http, which sends the path byte for byte (fetch
 * would resolve "..", and refuses some targets). Same answer shape as req().
 */
export function rawReq(base, method, path, { headers = {}, body,
  timeout = REQ_MS } = {}) {
  const u = new URL(base);
  return new Promise((res, rej) => {
    const r = http.request({
      host: u.hostname, port: u.port, method, path, headers, agent: false,
      timeout,
    }, (resp) => {
      const chunks = [];
      resp.on('data', (c) => chunks.push(c));
      resp.on('end', () => {
        const h = new Headers();
        for (const [k, v] of Object.entries(resp.headers)) {
          h.set(k, Array.isArray(v) ? v.join(', ') : String(v));
        }
        try {
          res(shape(resp.statusCode, h, Buffer.concat(chunks).toString('utf8')));
        } catch (e) { rej(e); }
      });
      resp.on('error', rej);
    });
    r.on('timeout', () => r.destroy(new Error(`${method} ${path}: timed out`)));
    r.on('error', rej);
    if (body !== undefined) r.write(body);
    r.end();
  });
}

/**
 * Asserts an answer is application/problem+json with type, title, status
 * (equal to the HTTP status) and detail; with `status`, that status; with
 * `field`, that field. Returns the problem.
 */
export function problem(res, status, field) {
  assert.match(res.ctype, /^application\/problem\+json\b/,
    `content type of a ${res.status} answer: ${res.ctype}; body: ${res.text}`);
  const p = res.body;
  assert.equal(typeof p, 'object', `problem body: ${res.text}`);
  assert.equal(typeof p.type, 'string', `problem.type in ${res.text}`);
  assert.ok(p.type.length > 0);
  assert.equal(typeof p.title, 'string', `problem.title in ${res.text}`);
  assert.ok(p.title.length > 0);
  assert.equal(p.status, res.status, `problem.status in ${res.text}`);
  assert.equal(typeof p.detail, 'string', `problem.detail in ${res.text}`);
  if (status !== undefined) assert.equal(res.status, status, `status; body: ${res.text}`);
  if (field !== undefined) assert.equal(p.field, field, `problem.field in ${res.text}`);
  return p;
}

/** Asserts the status, with the body in the message. */
export function status(res, expected) {
  assert.equal(res.status, expected, `expected ${expected}, got ${res.status}: ${res.text}`);
}

/** A space spec body helper. */
export function spec(attrs = {}, opts = undefined, key = undefined) {
  const s = { attrs };
  if (key !== undefined) s.key = key;
  if (opts !== undefined) s.opts = opts;
  return s;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Sends `data` (string or Buffer) on a new TCP connection and collects what
 * comes back until the node closes the connection, `until(text)` is true,
 * or `timeout` ms pass. Answers {raw, status, headers (lower-case names),
 * body} for the first response in the bytes (status 0 when none), and
 * `closed`: whether the node closed the connection.
 */
export function rawExchange(port, data, { timeout = REQ_MS, until } = {}) {
  return new Promise((res) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const chunks = [];
    let done = false;
    const finish = (closed) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      res({ ...parseRaw(Buffer.concat(chunks).toString('latin1')), closed });
    };
    const timer = setTimeout(() => finish(false), timeout);
    sock.on('data', (c) => {
      chunks.push(c);
      if (until && until(Buffer.concat(chunks).toString('latin1'))) finish(false);
    });
    sock.on('error', () => { /* a reset after the answer: keep what came */ });
    sock.on('close', () => finish(true));
    sock.on('connect', () => {
      const bufs = Array.isArray(data) ? data : [data];
      for (const b of bufs) {
        if (!sock.destroyed) sock.write(b, () => {});
      }
    });
  });
}

function parseRaw(raw) {
  const m = /^HTTP\/1\.[01] (\d{3})[^\r\n]*\r\n/.exec(raw);
  if (!m) return { raw, status: 0, headers: {}, body: '' };
  const end = raw.indexOf('\r\n\r\n');
  const head = raw.slice(m[0].length, end < 0 ? raw.length : end);
  const headers = {};
  for (const line of head.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) {
      const k = line.slice(0, i).trim().toLowerCase();
      const v = line.slice(i + 1).trim();
      headers[k] = k in headers ? `${headers[k]}, ${v}` : v;
    }
  }
  let body = end < 0 ? '' : raw.slice(end + 4);
  if (headers['content-length'] !== undefined) {
    body = body.slice(0, Number(headers['content-length']));
  }
  return { raw, status: Number(m[1]), headers, body };
}
