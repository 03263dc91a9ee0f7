// /sys/health, /sys/info, /sys/metrics and /openapi.json.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { problem, startNode, status } from './lib/node.mjs';
import { client, OPENAPI_JSON } from './lib/contract.mjs';

let node;
let api;
before(async () => {
  node = await startNode();
  api = client(node.base);
});
after(async () => { await node?.stop(); });

test('GET /sys/health is {"status": "ok"}', async () => {
  const r = await api.req('GET', '/sys/health');
  status(r, 200);
  assert.match(r.ctype, /^application\/json/);
  assert.deepEqual(r.body, { status: 'ok' });
  assert.match(r.headers.get('m31-request-id') ?? '', /^.+-[0-9a-f]+$/);
  assert.equal(r.headers.get('cache-control'), 'no-store');
  const rb = await api.req('GET', '/sys/health?fmt=ruby');
  assert.match(rb.ctype, /^text\/x-ruby/);
  assert.equal(rb.text.trim(), '{"status" => "ok"}');
});

test('request ids differ between requests', async () => {
  const a = await api.req('GET', '/sys/health');
  const b = await api.req('GET', '/sys/health');
  assert.notEqual(a.headers.get('m31-request-id'), b.headers.get('m31-request-id'));
});

test('GET /sys/info: version, node, uptime, data, counts', async () => {
  const r = await api.req('GET', '/sys/info');
  status(r, 200);
  const i = r.body;
  assert.equal(typeof i.version, 'string');
  assert.match(i.version, /^\d+\.\d+\.\d+/);
  assert.equal(typeof i.node, 'string');
  assert.ok(i.node.length > 0);
  assert.ok(r.headers.get('m31-request-id').startsWith(`${i.node}-`), 'request ids carry the node id');
  assert.equal(typeof i.uptime, 'number');
  assert.ok(i.uptime >= 0 && i.uptime < 600);
  assert.equal(i.data, node.dataDir);
  assert.equal(typeof i.counts, 'object');
  assert.equal(i.counts.spaces, 0);
  for (const k of ['store_reads', 'store_writes', 'store_commits']) assert.ok(Number.isInteger(i.counts[k]), k);

  status(await api.req('PUT', '/fs/s1', { json: { attrs: { n: 'Int' } } }), 201);
  status(await api.req('PUT', '/fs/s1/a', { json: { attrs: { n: 1 } } }), 201);
  const r2 = await api.req('GET', '/sys/info');
  assert.equal(r2.body.counts.spaces, 1);
  assert.ok(r2.body.counts.store_writes >= i.counts.store_writes + 2);
  assert.ok(r2.body.counts.store_commits > i.counts.store_commits);
  assert.ok(r2.body.uptime >= i.uptime);
});

function metricValue(text, name, labels = {}) {
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const ls = {};
    for (const p of (m[3] || '').match(/[a-zA-Z_]+="[^"]*"/g) || []) {
      const [k, v] = p.split('=');
      ls[k] = v.slice(1, -1);
    }
    if (Object.entries(labels).every(([k, v]) => ls[k] === v)) return Number(m[4]);
  }
  return undefined;
}

test('GET /sys/metrics is Prometheus text with the HTTP and store metrics', async () => {
  const r = await api.req('GET', '/sys/metrics');
  status(r, 200);
  assert.match(r.ctype, /^text\/plain/);
  const t = r.text;
  for (const name of ['m31_http_requests_total', 'm31_http_request_duration_seconds_bucket',
    'm31_http_request_duration_seconds_sum', 'm31_http_request_duration_seconds_count',
    'm31_store_operations_total', 'm31_leveldb_size_bytes']) {
    assert.ok(t.includes(name), `metrics contain ${name}`);
  }
  assert.match(t, /# TYPE m31_http_requests_total counter/);
  assert.match(t, /# TYPE m31_http_request_duration_seconds histogram/);
  assert.match(t, /m31_http_request_duration_seconds_bucket\{[^}]*le="\+Inf"\} \d+/);
  assert.ok(metricValue(t, 'm31_leveldb_size_bytes') >= 0);
  assert.ok(metricValue(t, 'm31_store_operations_total', { op: 'write' }) >= 2);
  // Every sample line is well formed.
  for (const line of t.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    assert.match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? ([0-9.eE+-]+|NaN|[+-]Inf)$/, line);
  }
});

test('the request counter grows by route, method and status', async () => {
  const labels = { route: 'sys_health', method: 'GET', status: '200' };
  const before = metricValue((await api.req('GET', '/sys/metrics')).text, 'm31_http_requests_total', labels) ?? 0;
  for (let i = 0; i < 3; i++) status(await api.req('GET', '/sys/health'), 200);
  const after = metricValue((await api.req('GET', '/sys/metrics')).text, 'm31_http_requests_total', labels);
  assert.equal(after, before + 3);
  problem(await api.req('GET', '/fs/nosuchspace/k'), 404);
  const m = (await api.req('GET', '/sys/metrics')).text;
  assert.ok(metricValue(m, 'm31_http_requests_total', { route: 'fs_object', method: 'GET', status: '404' }) >= 1);
  // An unmatched path is counted under route "none", not under its path.
  await api.req('GET', '/no/such/path/xyz');
  const m2 = (await api.req('GET', '/sys/metrics')).text;
  assert.ok(!m2.includes('xyz'), 'unmatched paths do not become label values');
  assert.ok(metricValue(m2, 'm31_http_requests_total', { route: 'none', status: '404' }) >= 1);
});

test('GET /openapi.json equals the committed openapi/openapi.json; If-None-Match gives 304', async () => {
  const committed = JSON.parse(readFileSync(OPENAPI_JSON, 'utf8'));
  const r = await api.req('GET', '/openapi.json');
  status(r, 200);
  assert.match(r.ctype, /^application\/json/);
  assert.deepEqual(r.body, committed);
  assert.equal(r.text, readFileSync(OPENAPI_JSON, 'utf8'), 'served byte for byte');
  const tag = r.headers.get('etag');
  assert.match(tag ?? '', /^"[^"]+"$/);
  const nm = await api.req('GET', '/openapi.json', { headers: { 'If-None-Match': tag } });
  status(nm, 304);
  assert.equal(nm.text, '');
  assert.equal(nm.headers.get('etag'), tag);
  const other = await api.req('GET', '/openapi.json', { headers: { 'If-None-Match': '"nope"' } });
  status(other, 200);
});

test('every answer fits the OpenAPI contract', () => api.verify());

test('the node stops cleanly (exit 0, no sanitizer report)', () => node.stop());
