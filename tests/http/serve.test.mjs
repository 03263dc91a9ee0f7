// `m31 serve` as a user runs it: --help and bad flags, flags and their
// environment variables (a flag wins), --node and the node id kept in
// DIR/node-id, --max-body, a restart on the same data (everything is
// there, versions go on), and SIGTERM letting an in-flight request finish.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, problem, req, startNode, status } from './lib/node.mjs';
import { client } from './lib/contract.mjs';

function run(args, env = {}) {
  return new Promise((resolve) => {
    execFile(BIN, args, { timeout: 10_000, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? err.code : 0, stdout, stderr });
    });
  });
}

const FLAGS = [
  ['--port', 'M31_PORT'], ['--bind', 'M31_BIND'], ['--data', 'M31_DATA'], ['--node', 'M31_NODE'],
  ['--log-level', 'M31_LOG_LEVEL'], ['--max-body', 'M31_MAX_BODY'], ['--threads', 'M31_THREADS'],
  ['--conn-per-ip', 'M31_CONN_PER_IP'], ['--conn-timeout', 'M31_CONN_TIMEOUT'],
  ['--request-timeout', 'M31_REQUEST_TIMEOUT'],
];

test('m31 serve --help lists every flag with its variable; a bad flag exits non-zero', async () => {
  const h = await run(['serve', '--help']);
  assert.equal(h.code, 0, h.stderr);
  const text = h.stdout + h.stderr;
  for (const [flag, env] of FLAGS) {
    assert.match(text, new RegExp(`${flag}\\b[^\\n]*${env}\\b`), `--help names ${flag} with ${env}`);
  }
  const bad = await run(['serve', '--bogus']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /--bogus/);
  for (const args of [['serve', '--port', 'abc'], ['serve', '--port', '70000'], ['serve', '--log-level', 'loud'],
    ['serve', '--max-body', '-1'], ['nosuchcommand']]) {
    const r = await run(args, { M31_DATA: join(tmpdir(), 'm31-never-made') });
    assert.notEqual(r.code, 0, `m31 ${args.join(' ')} exits non-zero`);
    assert.ok(r.stderr.length > 0, `m31 ${args.join(' ')} says why on stderr`);
  }
});

test('--node sets the node id (in /sys/info and request ids); without it the id is made once and kept', async () => {
  const a = await startNode({ args: ['--node', 'E3'] });
  try {
    const i = await req(a.base, 'GET', '/sys/info');
    status(i, 200);
    assert.equal(i.body.node, 'E3');
    assert.match(i.headers.get('m31-request-id') ?? '', /^E3-[0-9a-f]+$/);
    assert.equal(i.body.data, a.dataDir);
  } finally {
    await a.stop();
  }
  const b = await startNode({ keepData: true });
  try {
    const first = (await req(b.base, 'GET', '/sys/info')).body.node;
    assert.ok(first && first.length > 0);
    const kept = (await readFile(join(b.dataDir, 'node-id'), 'utf8')).trim();
    assert.equal(kept, first, 'DIR/node-id holds the id');
    await b.stop();
    const c = await startNode({ dataDir: b.dataDir });
    try {
      assert.equal((await req(c.base, 'GET', '/sys/info')).body.node, first, 'the same id after a restart');
    } finally {
      await c.stop();
    }
  } finally {
    await b.stop();
    await rm(b.dataDir, { recursive: true, force: true });
  }
});

test('M31_MAX_BODY bounds bodies; --max-body wins over it', async () => {
  const body = (n) => {
    const pre = '{"attrs":{"s":"';
    const post = '"}}';
    return pre + 'z'.repeat(n - pre.length - post.length) + post;
  };
  const h = { 'Content-Type': 'application/json' };
  const a = await startNode({ env: { M31_MAX_BODY: '1024' } });
  try {
    status(await req(a.base, 'PUT', '/fs/m', { json: { attrs: { s: 'String' } } }), 201);
    status(await req(a.base, 'PUT', '/fs/m/ok', { body: body(1024), headers: h }), 201);
    problem(await req(a.base, 'PUT', '/fs/m/big', { body: body(1025), headers: h }), 413);
    problem(await req(a.base, 'GET', '/fs/m/big'), 404, 'key');
  } finally {
    await a.stop();
  }
  const b = await startNode({ env: { M31_MAX_BODY: '1024' }, args: ['--max-body', '4096'] });
  try {
    status(await req(b.base, 'PUT', '/fs/m', { json: { attrs: { s: 'String' } } }), 201);
    status(await req(b.base, 'PUT', '/fs/m/mid', { body: body(3000), headers: h }), 201);
    problem(await req(b.base, 'PUT', '/fs/m/big', { body: body(4097), headers: h }), 413);
  } finally {
    await b.stop();
  }
  // The flag wins for the log level too: with M31_LOG_LEVEL=error the
  // helper's --log-level info still shows the "listening on" line.
  const c = await startNode({ env: { M31_LOG_LEVEL: 'error' } });
  await c.stop();
});

test('a restart on the same data finds everything; versions go on', { timeout: 60_000 }, async () => {
  const a = await startNode({ keepData: true });
  const dir = a.dataDir;
  let b;
  try {
    const api = client(a.base);
    status(await api.req('PUT', '/fs/keep', { json: { key: 'k', attrs: { n: 'Int', s: 'String' }, opts: { versioning: true } } }), 201);
    for (let i = 0; i < 50; i++) {
      status(await api.req('PUT', `/fs/keep/o${i}`, { json: { attrs: { n: i, s: `v${i}` }, labels: { odd: i % 2 === 1 } } }), 201);
    }
    for (let i = 0; i < 3; i++) status(await api.req('PATCH', '/fs/keep/o7', { json: { attrs: { n: { $incr: 10 } } } }), 200);
    status(await api.req('POST', '/fs/keep/o7/branches', { json: { name: 'exp', from: 2 } }), 201);
    status(await api.req('DELETE', '/fs/keep/o49'), 204);
    const before = {
      schema: (await api.req('GET', '/fs/keep?schema')).body,
      o7: (await api.req('GET', '/fs/keep/o7')).body,
      v2: (await api.req('GET', '/fs/keep/o7?version=2')).body,
      versions: (await api.req('GET', '/fs/keep/o7/versions')).body,
      branches: (await api.req('GET', '/fs/keep/o7/branches')).body,
      odd: (await api.req('GET', '/fs/keep?label.odd=true&limit=1000')).body,
      range: (await api.req('GET', '/fs/keep?n.gte=40&limit=1000')).body,
    };
    assert.equal(before.schema.objects, 49);
    api.verify();
    await a.stop();

    b = await startNode({ dataDir: dir });
    const api2 = client(b.base);
    assert.deepEqual((await api2.req('GET', '/fs/keep?schema')).body, before.schema);
    assert.deepEqual((await api2.req('GET', '/fs/keep/o7')).body, before.o7);
    assert.deepEqual((await api2.req('GET', '/fs/keep/o7?version=2')).body, before.v2);
    assert.deepEqual((await api2.req('GET', '/fs/keep/o7/versions')).body, before.versions);
    assert.deepEqual((await api2.req('GET', '/fs/keep/o7/branches')).body, before.branches);
    assert.deepEqual((await api2.req('GET', '/fs/keep?label.odd=true&limit=1000')).body, before.odd);
    assert.deepEqual((await api2.req('GET', '/fs/keep?n.gte=40&limit=1000')).body, before.range);
    problem(await api2.req('GET', '/fs/keep/o49'), 404, 'key');
    const w = await api2.req('PATCH', '/fs/keep/o7', { json: { attrs: { n: { $incr: 1 } } } });
    status(w, 200);
    assert.equal(w.body.version, before.o7.version + 1, 'the version number goes on');
    assert.equal(w.body.attrs.n, 38);
    const e = await api2.req('PUT', '/fs/keep/o7?branch=exp', { json: { attrs: { n: 0 } } });
    status(e, 200);
    assert.equal(e.body.version, 3, 'the branch numbers on from its from');
    api2.verify();
  } finally {
    await a.stop();
    if (b) await b.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('SIGTERM: a request still arriving is answered, then the node exits 0 and the write is kept', { timeout: 60_000 }, async () => {
  const a = await startNode({ keepData: true });
  const dir = a.dataDir;
  let b;
  try {
    status(await req(a.base, 'PUT', '/fs/t', { json: { attrs: { n: 'Int' } } }), 201);
    const body = '{"attrs":{"n":31}}';
    const sock = net.connect({ host: '127.0.0.1', port: a.port });
    const chunks = [];
    const answered = new Promise((resolve) => {
      const timer = setTimeout(() => { sock.destroy(); resolve(); }, 15_000);
      sock.on('data', (c) => chunks.push(c));
      sock.on('error', () => {});
      sock.on('close', () => { clearTimeout(timer); resolve(); });
    });
    await new Promise((resolve) => sock.on('connect', resolve));
    sock.write(`PUT /fs/t/late HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`);
    await new Promise((r) => setTimeout(r, 300));
    const stopping = a.stop(); // SIGTERM, then waits (at most 10 s) for exit 0
    await new Promise((r) => setTimeout(r, 500));
    sock.write(body.slice(5));
    await answered;
    await stopping;
    const raw = Buffer.concat(chunks).toString('utf8');
    assert.match(raw, /^HTTP\/1\.1 201 /, `the in-flight request was answered: ${raw.slice(0, 300)}`);
    b = await startNode({ dataDir: dir });
    const g = await req(b.base, 'GET', '/fs/t/late');
    status(g, 200);
    assert.equal(g.body.attrs.n, 31);
  } finally {
    await a.stop();
    if (b) await b.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
