// The HTTP framing, seen by real clients: curl for a round trip and for
// bad Content-Length / Transfer-Encoding combinations, raw sockets for a
// request without Host and for a header too large.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import net from 'node:net';
import { rawExchange, startNode, status } from './lib/node.mjs';
import { client } from './lib/contract.mjs';

let node;
let api;
before(async () => {
  node = await startNode();
  api = client(node.base);
  status(await api.req('PUT', '/fs/r', { json: { attrs: { n: 'Int', s: 'String' } } }), 201);
});
after(async () => { await node?.stop(); });

// Runs curl with -i and a time limit; answers {status, headers, body, raw}
// for the last response in its output.
function curl(args) {
  return new Promise((resolve, reject) => {
    execFile('curl', ['-sS', '-i', '--max-time', '10', ...args], { timeout: 15_000, maxBuffer: 1 << 24 },
      (err, stdout, stderr) => {
        if (err && !stdout) { reject(new Error(`curl failed: ${err.message} ${stderr}`)); return; }
        const raw = stdout.toString();
        const parts = raw.split(/\r\n\r\n/);
        // Skip interim answers (100 Continue).
        let i = 0;
        while (i < parts.length - 1 && /^HTTP\/1\.1 1\d\d/.test(parts[i])) i++;
        const head = parts[i];
        const m = /^HTTP\/[\d.]+ (\d{3})/.exec(head);
        const headers = {};
        for (const line of head.split('\r\n').slice(1)) {
          const k = line.indexOf(':');
          if (k > 0) headers[line.slice(0, k).toLowerCase()] = line.slice(k + 1).trim();
        }
        resolve({ status: m ? Number(m[1]) : 0, headers, body: parts.slice(i + 1).join('\r\n\r\n'), raw });
      });
  });
}

async function objectsIn() {
  const s = await api.req('GET', '/fs/r?schema');
  status(s, 200);
  return s.body.objects;
}

test('curl: PUT then GET round trip', async () => {
  const url = `${node.base}/fs/r/${encodeURIComponent('curl key')}`;
  const put = await curl(['-X', 'PUT', url, '-H', 'Content-Type: application/json',
    '--data-binary', '{"attrs":{"n":31,"s":"andromeda"},"labels":{"via":"curl"}}']);
  assert.equal(put.status, 201, put.raw);
  assert.equal(put.headers.location, '/fs/r/curl%20key');
  assert.equal(put.headers.etag, '"1"');
  api.recordRaw('PUT', '/fs/r/curl%20key', put);
  const get = await curl([url]);
  assert.equal(get.status, 200, get.raw);
  assert.match(get.headers['content-type'], /^application\/json/);
  const o = JSON.parse(get.body);
  assert.equal(o.key, 'curl key');
  assert.deepEqual(o.attrs, { n: 31, s: 'andromeda' });
  assert.deepEqual(o.labels, { via: 'curl' });
  api.recordRaw('GET', '/fs/r/curl%20key', get);
  const nm = await curl([url, '-H', 'If-None-Match: "1"']);
  assert.equal(nm.status, 304, nm.raw);
  const chunked = await curl(['-X', 'PUT', url, '-H', 'Content-Type: application/json', '-H', 'Transfer-Encoding: chunked',
    '--data-binary', '{"attrs":{"n":32}}']);
  assert.equal(chunked.status, 200, `a chunked body is read: ${chunked.raw}`);
  assert.equal(JSON.parse(chunked.body).attrs.n, 32);
});

test('curl: two Content-Length headers are 400, and nothing is written', async () => {
  const before = await objectsIn();
  const r = await curl(['-X', 'PUT', `${node.base}/fs/r/dup`, '-H', 'Content-Type: application/json',
    '-H', 'Content-Length: 17', '-H', 'Content-Length: 17', '--data-binary', '{"attrs":{"n":1}}']);
  assert.equal(r.status, 400, r.raw);
  assert.match(r.headers['content-type'] ?? '', /^application\/problem\+json/);
  assert.equal(JSON.parse(r.body).status, 400);
  api.recordRaw('PUT', '/fs/r/dup', r);
  const diff = await curl(['-X', 'PUT', `${node.base}/fs/r/dup`, '-H', 'Content-Type: application/json',
    '-H', 'Content-Length: 17', '-H', 'Content-Length: 5', '--data-binary', '{"attrs":{"n":1}}']);
  assert.equal(diff.status, 400, diff.raw);
  status(await api.req('GET', '/fs/r/dup'), 404);
  assert.equal(await objectsIn(), before);
});

test('curl: Content-Length with Transfer-Encoding: chunked is 400, and nothing is written', async () => {
  const before = await objectsIn();
  const r = await curl(['-X', 'PUT', `${node.base}/fs/r/te`, '-H', 'Content-Type: application/json',
    '-H', 'Transfer-Encoding: chunked', '-H', 'Content-Length: 17', '--data-binary', '{"attrs":{"n":1}}']);
  assert.equal(r.status, 400, r.raw);
  assert.match(r.headers['content-type'] ?? '', /^application\/problem\+json/);
  api.recordRaw('PUT', '/fs/r/te', r);
  status(await api.req('GET', '/fs/r/te'), 404);
  assert.equal(await objectsIn(), before);
});

test('raw socket: the same smuggling attempt, byte for byte', async () => {
  const body = '{"attrs":{"n":1}}';
  const req = 'PUT /fs/r/smuggle HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
    + `Content-Length: ${body.length}\r\nTransfer-Encoding: chunked\r\n\r\n`
    + `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
  const r = await rawExchange(node.port, req);
  assert.equal(r.status, 400, r.raw.slice(0, 400));
  status(await api.req('GET', '/fs/r/smuggle'), 404);
});

test('raw socket: HTTP/1.1 without Host is 400 and the connection is closed', async () => {
  const r = await rawExchange(node.port, 'GET /sys/health HTTP/1.1\r\n\r\n', { timeout: 5000 });
  assert.equal(r.status, 400, r.raw.slice(0, 400));
  assert.ok(r.closed, 'the node closed the connection');
  // HTTP/1.0 needs no Host.
  const r10 = await rawExchange(node.port, 'GET /sys/health HTTP/1.0\r\n\r\n');
  assert.equal(r10.status, 200, r10.raw.slice(0, 400));
  assert.deepEqual(JSON.parse(r10.body), { status: 'ok' });
});

test('raw socket: a 64 KiB header is 431', async () => {
  const r = await rawExchange(node.port,
    `GET /sys/health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\nConnection: close\r\n\r\n`);
  assert.ok(r.status === 431, `status ${r.status}: ${r.raw.slice(0, 300)}`);
});

test('raw socket: a 40 KiB URL is refused with 414 or 431', async () => {
  const r = await rawExchange(node.port,
    `GET /fs/r/${'k'.repeat(40 * 1024)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  assert.ok(r.status === 414 || r.status === 431, `status ${r.status}: ${r.raw.slice(0, 300)}`);
});

// Sends requests one after another on one connection, each after the
// previous answer has fully arrived; answers the statuses seen (bounded).
function oneConnection(port, requests, timeout = 10_000) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const statuses = [];
    let buf = '';
    let i = 0;
    const finish = () => { clearTimeout(timer); sock.destroy(); resolve(statuses); };
    const timer = setTimeout(finish, timeout);
    const sendNext = () => {
      if (i === requests.length) { finish(); return; }
      sock.write(requests[i++]);
    };
    sock.on('connect', sendNext);
    sock.on('error', () => {});
    sock.on('close', finish);
    sock.on('data', (c) => {
      buf += c.toString('latin1');
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.slice(0, end);
        const len = Number((/\r\ncontent-length: *(\d+)/i.exec(head) || [0, 0])[1]);
        if (buf.length < end + 4 + len) return;
        statuses.push(Number(head.slice(9, 12)));
        buf = buf.slice(end + 4 + len);
        sendNext();
      }
    });
  });
}

test('raw socket: keep-alive survives a 404 and a 405', async () => {
  const statuses = await oneConnection(node.port, [
    'GET /nope HTTP/1.1\r\nHost: x\r\n\r\n',
    'POST /sys/health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n',
    'GET /sys/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  ]);
  assert.deepEqual(statuses, [404, 405, 200]);
});

test('the node still serves after the bad requests', async () => {
  status(await api.req('GET', '/sys/health'), 200);
});

test('every answer fits the OpenAPI contract', () => api.verify());

test('the node stops cleanly (exit 0, no sanitizer report)', () => node.stop());
