// Interchange (DESIGN.md): JSON on the wire round-trips every value exactly
// (integers stay integers over the whole 64-bit range, floats keep their
// double, UTF-8 is kept), and ?fmt=ruby answers the same value as a Ruby
// literal: evaluated by the real mruby it equals, type for type, the JSON
// answer (checked with an independent literal writer below).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { problem, startNode, status } from './lib/node.mjs';
import { client } from './lib/contract.mjs';

let node;
let api;
before(async () => {
  node = await startNode();
  api = client(node.base);
  status(await api.req('PUT', '/fs/x', {
    json: { attrs: { i: 'Int', f: 'Float', s: 'String', b: 'Bool', y: 'Bytes', l: 'List', m: 'Map', a: 'Any' } },
  }), 201);
});
after(async () => { await node?.stop(); });

/** PUTs `attrs`/`labels` under `key` and answers the GET of it (raw text too). */
async function roundTrip(key, body) {
  const path = `/fs/x/${encodeURIComponent(key)}`;
  status(await api.req('PUT', path, { json: body }), 201);
  const g = await api.req('GET', path);
  status(g, 200);
  return g;
}

test('Int keeps every 64-bit value exactly (beyond 2^53 too)', async () => {
  const values = ['9223372036854775807', '-9223372036854775808', '9007199254740993', '-9007199254740993', '0', '-1'];
  for (const [n, v] of values.entries()) {
    const path = `/fs/x/int${n}`;
    // Sent and compared as text: JavaScript numbers cannot hold these.
    const put = await api.req('PUT', path, { body: `{"attrs":{"i":${v}}}`, headers: { 'Content-Type': 'application/json' } });
    status(put, 201);
    const g = await api.req('GET', path);
    status(g, 200);
    assert.match(g.text, new RegExp(`"i":${v}[,}]`), `Int ${v} comes back as ${g.text}`);
  }
  // One past the range is not an Int: refused, not wrapped.
  const over = await api.req('PUT', '/fs/x/over', { body: '{"attrs":{"i":9223372036854775808}}', headers: { 'Content-Type': 'application/json' } });
  assert.ok([400, 422].includes(over.status), `2^63: ${over.status} ${over.text}`);
  problem(over);
  problem(await api.req('GET', '/fs/x/over'), 404, 'key');
});

test('Float keeps its double; an integral Float stays a number', async () => {
  const floats = [0.1, -0.0, 1e300, 5e-324, 1.7976931348623157e308, 2.5, 123456789.123456789];
  for (const [n, f] of floats.entries()) {
    // As text: JSON.stringify(-0) would send 0.
    const text = `{"attrs":{"f":${Object.is(f, -0) ? '-0.0' : JSON.stringify(f)}}}`;
    status(await api.req('PUT', `/fs/x/float${n}`, { body: text, headers: { 'Content-Type': 'application/json' } }), 201);
    const g = await api.req('GET', `/fs/x/float${n}`);
    status(g, 200);
    assert.ok(Object.is(g.body.attrs.f, f), `Float ${f} came back as ${g.body.attrs.f} (${g.text})`);
  }
  const g = await roundTrip('float-int', { attrs: { f: 3 } });
  assert.equal(g.body.attrs.f, 3);
});

test('UTF-8 is kept: astral characters, escaped surrogate pairs, U+2028, in values, keys and labels', async () => {
  const s = 'π ☃ 𝄞 😀 \u2028 \u00e9 e\u0301 "q" \\ / \t\n';
  const key = 'ключ-𝄞-😀';
  const g = await roundTrip(key, { attrs: { s, l: [s], m: { [s]: s } }, labels: { 'ラベル': s } });
  assert.equal(g.body.key, key);
  assert.equal(g.body.attrs.s, s);
  assert.deepEqual(g.body.attrs.l, [s]);
  assert.deepEqual(g.body.attrs.m, { [s]: s });
  assert.equal(g.body.labels['ラベル'], s);
  // Written with JSON escapes, read back as the same characters.
  const path = '/fs/x/escaped';
  status(await api.req('PUT', path, { body: '{"attrs":{"s":"\\ud834\\udd1e\\u00e9\\u2603"}}', headers: { 'Content-Type': 'application/json' } }), 201);
  assert.equal((await api.req('GET', path)).body.attrs.s, '𝄞é☃');
  // A lone surrogate is not Unicode: refused, nothing written.
  const bad = await api.req('PUT', '/fs/x/lone', { body: '{"attrs":{"s":"\\ud800"}}', headers: { 'Content-Type': 'application/json' } });
  assert.ok([400, 422].includes(bad.status), `lone surrogate: ${bad.status} ${bad.text}`);
  problem(await api.req('GET', '/fs/x/lone'), 404, 'key');
  // Bytes that are not UTF-8 are malformed JSON.
  const raw = Buffer.concat([Buffer.from('{"attrs":{"s":"a'), Buffer.from([0xff, 0xfe]), Buffer.from('"}}')]);
  problem(await api.req('PUT', '/fs/x/notutf8', { body: raw, headers: { 'Content-Type': 'application/json' } }), 400);
  problem(await api.req('GET', '/fs/x/notutf8'), 404, 'key');
});

test('a string holding U+0000 is valid JSON and round-trips', async () => {
  const path = '/fs/x/nul';
  const put = await api.req('PUT', path, {
    body: '{"attrs":{"s":"a\\u0000b","l":["\\u0000"]},"labels":{"n":"x\\u0000y"}}',
    headers: { 'Content-Type': 'application/json' },
  });
  status(put, 201);
  const g = await api.req('GET', path);
  status(g, 200);
  assert.equal(g.body.attrs.s, 'a\u0000b');
  assert.deepEqual(g.body.attrs.l, ['\u0000']);
  assert.equal(g.body.labels.n, 'x\u0000y');
});

test('Any, List and Map hold every JSON type, nested, exactly', async () => {
  const v = [null, true, false, 0, -1, 1.5, '', 'x', [], {}, [[[]]], { a: { b: { c: [1, { d: null }] } } }];
  const g = await roundTrip('mixed', { attrs: { a: v, l: v, m: { v } }, labels: { v } });
  assert.deepEqual(g.body.attrs.a, v);
  assert.deepEqual(g.body.attrs.l, v);
  assert.deepEqual(g.body.attrs.m, { v });
  assert.deepEqual(g.body.labels.v, v);
  // Object member order is not promised, but no member is lost or added.
  const many = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`k${i}`, i]));
  const h = await roundTrip('many', { attrs: { m: many } });
  assert.deepEqual(h.body.attrs.m, many);
});

// ------------------------------------------------------------ fmt=ruby

let mruby = null;
try {
  execFileSync('mruby', ['-e', 'p 1'], { timeout: 10_000, stdio: 'ignore' });
  mruby = 'mruby';
} catch { /* not installed: the mruby checks are skipped, the rest still run */ }

/** An independent Ruby literal of a JSON value: single-quoted strings, no interpolation possible. */
function rubyOf(v) {
  if (v === null) return 'nil';
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'number') {
    if (Number.isInteger(v) && !Object.is(v, -0) && !/[.e]/.test(String(v))) return `${v}`;
    return `Float(${JSON.stringify(String(Object.is(v, -0) ? '-0.0' : v))})`;
  }
  if (typeof v === 'string') return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (Array.isArray(v)) return `[${v.map(rubyOf).join(', ')}]`;
  return `{${Object.entries(v).map(([k, x]) => `${rubyOf(k)} => ${rubyOf(x)}`).join(', ')}}`;
}

// Type-exact deep equality (Ruby's == calls 1 and 1.0 equal; this does not).
const SAME_RB = `
def same(a, b)
  return false unless a.class == b.class
  case a
  when Hash then a.size == b.size && a.all? { |k, v| b.key?(k) && same(v, b[k]) }
  when Array then a.size == b.size && a.each_index.all? { |i| same(a[i], b[i]) }
  when Float then a == b && (a != 0.0 || (1.0 / a) == (1.0 / b))
  else a == b
  end
end
`;

/** Evaluates `literal` with mruby and asserts it is the same value as `json`. */
function assertSameInRuby(literal, json, what) {
  const prog = `${SAME_RB}\ngot = (${literal})\nwant = (${rubyOf(json)})\nunless same(got, want) then p got; p want; raise 'not the same value' end\n`;
  return new Promise((resolve) => {
    execFile(mruby, ['-e', prog], { timeout: 20_000, maxBuffer: 1 << 24 }, (err, out, errText) => {
      assert.ok(!err, `${what}: the Ruby literal does not evaluate to the JSON answer (${err?.message})\n${out}${errText}\nliteral: ${literal.slice(0, 600)}`);
      resolve();
    });
  });
}

const RUBY_PATHS = [
  '/fs/x/mixed', '/fs/x/float0', '/fs/x/float1', '/fs/x/float2', '/fs/x/float4', `/fs/x/${encodeURIComponent('ключ-𝄞-😀')}`,
  '/fs/x/int0', '/fs/x/int1', '/fs/x?limit=3', '/fs/x?count=true', '/fs/x?schema', '/fs?limit=5',
  '/fs/x/mixed/versions', '/fs/x/mixed/branches', '/sys/health', '/sys/info',
];

test('fmt=ruby evaluates (in mruby) to the same value as the JSON answer', { skip: mruby ? false : 'mruby is not installed' }, async () => {
  // A string made to break a naive writer: interpolation, escapes, quotes.
  status(await api.req('PUT', '/fs/x/evil', {
    json: { attrs: { s: '#{`id`} #$0 #@x \\ \' " \n\t\u0001 é 😀', m: { '#{1}': '#@y' } }, labels: { 'a"b': "c'd" } },
  }), 201);
  for (const p of [...RUBY_PATHS, '/fs/x/evil']) {
    const j = await api.req('GET', p);
    status(j, 200);
    const sep = p.includes('?') ? '&' : '?';
    const r = await api.req('GET', `${p}${sep}fmt=ruby`);
    status(r, 200);
    assert.match(r.ctype, /^text\/x-ruby/, p);
    // The Int extremes must not have passed through a JavaScript number.
    if (/int[01]$/.test(p)) {
      assert.match(r.text, /9223372036854775807|-9223372036854775808/, `${p}: ${r.text}`);
      continue;
    }
    // uptime moves between the two requests; compare the rest.
    if (p === '/sys/info') {
      assert.match(r.text, /"uptime" => [0-9.e+-]+/);
      // counts move too (the requests themselves are counted).
      const { uptime: _u, counts: _c, ...rest } = j.body;
      await assertSameInRuby(`(${r.text}).tap { |h| h.delete('uptime'); h.delete('counts') }`, rest, p);
      continue;
    }
    await assertSameInRuby(r.text, j.body, p);
  }
});

test('fmt=ruby on writes and errors: writes answer Ruby, errors stay problem+json', async () => {
  const w = await api.req('PUT', '/fs/x/rw?fmt=ruby', { json: { attrs: { i: 1 } } });
  status(w, 201);
  assert.match(w.ctype, /^text\/x-ruby/);
  assert.match(w.text, /^\{"key" => "rw"/);
  const p = await api.req('PATCH', '/fs/x/rw?fmt=ruby', { json: { attrs: { i: { $incr: 2 } } } });
  status(p, 200);
  assert.match(p.text, /"i" => 3/);
  const e = await api.req('GET', '/fs/x/nosuch?fmt=ruby');
  problem(e, 404, 'key');
});

test('every answer fits the OpenAPI contract', () => api.verify());

test('the node stops cleanly (exit 0, no sanitizer report)', () => node.stop());
