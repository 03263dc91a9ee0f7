// The real curl binary against a node, for what a browser-less user does:
// uploading a file too large (413 at once, nothing written), a large but
// allowed upload (curl sends Expect: 100-continue past 1 MiB), HEAD,
// HTTP/1.0, and HTTP/1.1 with the Host header removed (400).
// raw.test.mjs holds the framing attacks (two Content-Length, CL + TE).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { problem, startNode, status } from './lib/node.mjs';
import { client } from './lib/contract.mjs';

let node;
let api;
let dir;
before(async () => {
  node = await startNode();
  api = client(node.base);
  dir = await mkdtemp(join(tmpdir(), 'm31-curl-'));
  status(await api.req('PUT', '/fs/up', { json: { attrs: { n: 'Int', s: 'String' } } }), 201);
});
after(async () => {
  await node?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

let seq = 0;
/**
 * Runs curl (bounded: --max-time 20, killed after 30 s) with the headers
 * and body written to files, so a body with blank lines or an interim
 * 100 Continue cannot confuse the parsing. Answers {status, headers
 * (lower-case names, of the final answer), text, body (JSON if it is),
 * ctype, exitCode, stderr}.
 */
async function curl(args) {
  const n = ++seq;
  const hfile = join(dir, `h${n}`);
  const bfile = join(dir, `b${n}`);
  const { code, stderr } = await new Promise((resolve) => {
    execFile('curl', ['-sS', '--max-time', '20', '-D', hfile, '-o', bfile, ...args],
      { timeout: 30_000 }, (err, _out, errText) => resolve({ code: err ? (err.code ?? -1) : 0, stderr: errText }));
  });
  const head = await readFile(hfile, 'latin1').catch(() => '');
  // With -I curl writes the headers as its output: a HEAD answer has no body.
  const text = args.includes('-I') ? '' : await readFile(bfile, 'utf8').catch(() => '');
  // The last block of headers is the final answer (after any 100 Continue).
  const blocks = head.split(/\r\n\r\n/).filter((b) => b.startsWith('HTTP/'));
  const last = blocks[blocks.length - 1] ?? '';
  const m = /^HTTP\/[\d.]+ (\d{3})/.exec(last);
  const headers = new Headers();
  for (const line of last.split('\r\n').slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  const ctype = headers.get('content-type') || '';
  let body;
  if (/^application\/(problem\+)?json/.test(ctype) && text) body = JSON.parse(text);
  return { status: m ? Number(m[1]) : 0, headers, text, body, ctype, exitCode: code, stderr, interim: blocks.length - 1 };
}

function record(method, path, r) {
  api.answers.push({ method, path, res: r });
  return r;
}

async function objects() {
  const s = await api.req('GET', '/fs/up?schema');
  status(s, 200);
  return s.body.objects;
}

test('curl: PUT a file, GET it back, HEAD and If-None-Match', async () => {
  const file = join(dir, 'obj.json');
  await writeFile(file, '{"attrs":{"n":42,"s":"M31 \\u2603"},\n "labels":{"by":"curl"}}\n');
  const url = `${node.base}/fs/up/one`;
  const put = record('PUT', '/fs/up/one', await curl(['-X', 'PUT', '-H', 'Content-Type: application/json', '--data-binary', `@${file}`, url]));
  status(put, 201);
  assert.equal(put.headers.get('location'), '/fs/up/one');
  assert.equal(put.headers.get('etag'), '"1"');
  const get = record('GET', '/fs/up/one', await curl([url]));
  status(get, 200);
  assert.deepEqual(get.body.attrs, { n: 42, s: 'M31 ☃' });
  assert.deepEqual(get.body.labels, { by: 'curl' });
  const head = await curl(['-I', url]);
  status(head, 200);
  assert.equal(head.text, '', 'HEAD has no body');
  assert.equal(head.headers.get('etag'), '"1"');
  const nm = record('GET', '/fs/up/one', await curl(['-H', 'If-None-Match: "1"', url]));
  status(nm, 304);
  assert.equal(nm.text, '');
  const rb = await curl([`${url}?fmt=ruby`]);
  status(rb, 200);
  assert.match(rb.ctype, /^text\/x-ruby/);
  assert.match(rb.text, /"n" => 42/);
});

test('curl: a 10 MB upload is 413 problem+json at once, and nothing is written', async () => {
  const file = join(dir, 'big.json');
  const size = 10 * 1024 * 1024;
  await writeFile(file, `{"attrs":{"s":"${'x'.repeat(size - 20)}"}}`);
  const before = await objects();
  const t0 = Date.now();
  const r = await curl(['-X', 'PUT', '-H', 'Content-Type: application/json', '--data-binary', `@${file}`,
    `${node.base}/fs/up/big`]);
  const ms = Date.now() - t0;
  // curl may report a send error after the early answer (the node stops
  // reading); the answer itself must be there and be 413.
  assert.equal(r.status, 413, `curl exit ${r.exitCode} ${r.stderr}; headers: ${[...r.headers]}`);
  record('PUT', '/fs/up/big', r);
  problem(r, 413);
  assert.ok(ms < 15_000, `answered in ${ms} ms`);
  problem(await api.req('GET', '/fs/up/big'), 404, 'key');
  assert.equal(await objects(), before);
  // The same through POST on a route that takes a body.
  const b = await curl(['-X', 'POST', '-H', 'Content-Type: application/json', '--data-binary', `@${file}`,
    `${node.base}/fs/up/one/branches`]);
  assert.equal(b.status, 413, `curl exit ${b.exitCode} ${b.stderr}`);
  status(await api.req('GET', '/sys/health'), 200);
});

test('curl: a 2 MiB upload goes through Expect: 100-continue and is stored', async () => {
  const file = join(dir, 'two.json');
  const s = 'y'.repeat(2 * 1024 * 1024);
  await writeFile(file, JSON.stringify({ attrs: { n: 2, s } }));
  const r = await curl(['-X', 'PUT', '-H', 'Content-Type: application/json', '-H', 'Expect: 100-continue',
    '--data-binary', `@${file}`, `${node.base}/fs/up/two`]);
  status(r, 201);
  record('PUT', '/fs/up/two', r);
  const g = await api.req('GET', '/fs/up/two');
  status(g, 200);
  assert.equal(g.body.attrs.s.length, s.length);
  assert.equal(g.body.attrs.s, s);
});

test('curl: a 10 MB upload with Expect: 100-continue is refused before the body', async () => {
  const file = join(dir, 'big.json');
  const r = await curl(['-X', 'PUT', '-H', 'Content-Type: application/json', '-H', 'Expect: 100-continue',
    '--data-binary', `@${file}`, `${node.base}/fs/up/big2`]);
  assert.equal(r.status, 413, `curl exit ${r.exitCode} ${r.stderr}`);
  assert.equal(r.interim, 0, 'no 100 Continue before the 413');
  problem(r, 413);
  problem(await api.req('GET', '/fs/up/big2'), 404, 'key');
});

test('curl: HTTP/1.1 without a Host header is 400; HTTP/1.0 without one is served', async () => {
  const before = await objects();
  // -H 'Host:' makes curl leave the header out.
  const r = await curl(['-H', 'Host:', `${node.base}/sys/health`]);
  assert.equal(r.status, 400, `${r.status} ${r.text}`);
  const p = await curl(['-X', 'PUT', '-H', 'Host:', '-H', 'Content-Type: application/json',
    '--data-binary', '{"attrs":{"n":1}}', `${node.base}/fs/up/nohost`]);
  assert.equal(p.status, 400, `${p.status} ${p.text}`);
  problem(await api.req('GET', '/fs/up/nohost'), 404, 'key');
  assert.equal(await objects(), before);
  const old = await curl(['--http1.0', '-H', 'Host:', `${node.base}/sys/health`]);
  status(old, 200);
  assert.deepEqual(old.body, { status: 'ok' });
});

test('curl: wrong method and unknown path are problem+json', async () => {
  const r = await curl(['-X', 'POST', `${node.base}/sys/health`]);
  problem(r, 405);
  assert.match(r.headers.get('allow') ?? '', /GET/);
  const n = await curl([`${node.base}/nowhere`]);
  problem(n, 404);
});

test('every answer fits the OpenAPI contract', () => api.verify());

test('the node stops cleanly (exit 0, no sanitizer report)', () => node.stop());
