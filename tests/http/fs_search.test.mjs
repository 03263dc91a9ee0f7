// Search: equality, ranges, prefix, labels, conjunctions, paging with
// cursors, fields=, count=true, fmt=ruby, M31-Keys-Read on a selective
// query, and the 400s (cursor, unknown attribute, bad value, List/Map).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { problem, startNode, status } from './lib/node.mjs';
import { client } from './lib/contract.mjs';

let node;
let api;
const N = 250;
const key = (i) => `k${String(i).padStart(4, '0')}`;

// Runs fn(i) for i in [0, n) with at most `width` at a time.
async function parallel(n, width, fn) {
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, n) }, worker));
}

before(async () => {
  node = await startNode();
  api = client(node.base);
  status(await api.req('PUT', '/fs/docs', {
    json: { attrs: { n: 'Int', f: 'Float', s: 'String', b: 'Bool', y: 'Bytes', tags: 'List', m: 'Map', any: 'Any' } },
  }), 201);
  await parallel(N, 16, async (i) => {
    const r = await api.req('PUT', `/fs/docs/${key(i)}`, {
      json: {
        attrs: { n: i, f: i / 2, s: `w${i}`, b: i % 3 === 0, tags: [i], m: { i }, any: i % 7 },
        labels: { grp: i % 5, even: i % 2 === 0, color: ['red', 'green', 'blue'][i % 3] },
      },
    }, { contract: false });
    assert.equal(r.status, 201, r.text);
  });
});
after(async () => { await node?.stop(); });

async function search(q) {
  const r = await api.req('GET', `/fs/docs?${q}`);
  status(r, 200);
  assert.match(r.ctype, /^application\/json/);
  return r;
}
const keysOf = (r) => r.body.items.map((o) => o.key).sort();
const expectKeys = (pred) => Array.from({ length: N }, (_, i) => i).filter(pred).map(key);

test('equality on an attribute, with and without .eq', async () => {
  for (const q of ['n=42', 'n.eq=42']) {
    const r = await search(q);
    assert.deepEqual(keysOf(r), [key(42)]);
    assert.deepEqual(r.body.items[0].attrs.n, 42);
    assert.equal(r.body.next, null);
  }
  assert.deepEqual(keysOf(await search('s=w7')), [key(7)]);
  assert.deepEqual(keysOf(await search('n=100000')), []);
  const b = await search('b=true&limit=1000');
  assert.deepEqual(keysOf(b), expectKeys((i) => i % 3 === 0));
  assert.deepEqual(keysOf(await search('any=3&limit=1000')), expectKeys((i) => i % 7 === 3));
});

test('ranges: .gt, .gte, .lt, .lte on Int and Float', async () => {
  assert.deepEqual(keysOf(await search('n.gt=240')), expectKeys((i) => i > 240));
  assert.deepEqual(keysOf(await search('n.gte=240')), expectKeys((i) => i >= 240));
  assert.deepEqual(keysOf(await search('n.lt=5')), expectKeys((i) => i < 5));
  assert.deepEqual(keysOf(await search('n.lte=5')), expectKeys((i) => i <= 5));
  assert.deepEqual(keysOf(await search('n.gte=10&n.lt=20')), expectKeys((i) => i >= 10 && i < 20));
  assert.deepEqual(keysOf(await search('n.gt=-5&n.lte=0')), [key(0)]);
  assert.deepEqual(keysOf(await search('f.gt=120.5')), expectKeys((i) => i / 2 > 120.5));
  assert.deepEqual(keysOf(await search('f.lte=1')), expectKeys((i) => i / 2 <= 1));
  assert.deepEqual(keysOf(await search('s.gte=w98&s.lt=w99')), expectKeys((i) => `w${i}` >= 'w98' && `w${i}` < 'w99'));
});

test('.prefix on strings', async () => {
  const r = await search('s.prefix=w1&limit=1000');
  assert.deepEqual(keysOf(r), expectKeys((i) => `w${i}`.startsWith('w1')));
  assert.equal(r.body.items.length, 111);
  assert.deepEqual(keysOf(await search('s.prefix=w24')), expectKeys((i) => `w${i}`.startsWith('w24')));
  assert.deepEqual(keysOf(await search('s.prefix=zz')), []);
});

test('labels: label.x equality (read as JSON when it parses), ranges and prefix', async () => {
  assert.deepEqual(keysOf(await search('label.grp=3&limit=1000')), expectKeys((i) => i % 5 === 3));
  assert.deepEqual(keysOf(await search('label.even=true&limit=1000')), expectKeys((i) => i % 2 === 0));
  assert.deepEqual(keysOf(await search('label.color=red&limit=1000')), expectKeys((i) => i % 3 === 0));
  assert.deepEqual(keysOf(await search('label.grp.gte=3&limit=1000')), expectKeys((i) => i % 5 >= 3));
  assert.deepEqual(keysOf(await search('label.color.prefix=gr&limit=1000')), expectKeys((i) => i % 3 === 1));
  assert.deepEqual(keysOf(await search('label.nolabel=1')), []);

  // 5 (a number) and "5" (a string) are different label values.
  status(await api.req('PUT', '/fs/docs/num5', { json: { attrs: { n: -1 }, labels: { code: 5 } } }), 201);
  status(await api.req('PUT', '/fs/docs/str5', { json: { attrs: { n: -2 }, labels: { code: '5' } } }), 201);
  assert.deepEqual(keysOf(await search('label.code=5')), ['num5']);
  assert.deepEqual(keysOf(await search(`label.code=${encodeURIComponent('"5"')}`)), ['str5']);
  status(await api.req('DELETE', '/fs/docs/num5'), 204);
  status(await api.req('DELETE', '/fs/docs/str5'), 204);
  assert.deepEqual(keysOf(await search('label.code=5')), [], 'a deleted object leaves the label index');
});

test('several conditions are a conjunction', async () => {
  assert.deepEqual(keysOf(await search('label.grp=3&n.lt=100&limit=1000')), expectKeys((i) => i % 5 === 3 && i < 100));
  assert.deepEqual(keysOf(await search('s.prefix=w1&label.even=true&b=true&limit=1000')),
    expectKeys((i) => `w${i}`.startsWith('w1') && i % 2 === 0 && i % 3 === 0));
  assert.deepEqual(keysOf(await search('n=42&label.grp=3')), [], 'n=42 has grp 2');
  assert.deepEqual(keysOf(await search('n=42&label.grp=2')), [key(42)]);
});

async function pageAll(q, limit, maxPages) {
  const seen = [];
  let cursor = null;
  let pages = 0;
  for (; pages < maxPages; pages++) {
    const c = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const r = await search(`${q}${q ? '&' : ''}limit=${limit}${c}`);
    assert.ok(r.body.items.length <= limit, 'a page holds at most limit items');
    seen.push(...r.body.items.map((o) => o.key));
    cursor = r.body.next;
    if (cursor === null) break;
    assert.equal(typeof cursor, 'string');
    assert.equal(r.body.items.length, limit, 'only the last page is short');
  }
  assert.equal(cursor, null, `paging ended within ${maxPages} pages`);
  return { seen, pages: pages + 1 };
}

test('limit + cursor paging visits each of 250 objects exactly once', async () => {
  const { seen, pages } = await pageAll('', 7, 100);
  assert.equal(pages, Math.ceil(N / 7));
  assert.equal(seen.length, N, 'no object twice');
  assert.equal(new Set(seen).size, N);
  assert.deepEqual([...seen].sort(), expectKeys(() => true));
});

test('paging a conditional query and a range query visits each match once', async () => {
  const a = await pageAll('label.grp=1', 7, 100);
  assert.deepEqual(a.seen.slice().sort(), expectKeys((i) => i % 5 === 1));
  assert.equal(new Set(a.seen).size, a.seen.length);
  const b = await pageAll('n.gte=100&n.lt=200', 9, 100);
  assert.deepEqual(b.seen.slice().sort(), expectKeys((i) => i >= 100 && i < 200));
  assert.equal(new Set(b.seen).size, 100);
  const c = await pageAll('s.prefix=w2', 4, 100);
  assert.deepEqual(c.seen.slice().sort(), expectKeys((i) => `w${i}`.startsWith('w2')));
  assert.equal(new Set(c.seen).size, c.seen.length);
});

test('the default page is 100 items; limit bounds are 1..1000', async () => {
  const r = await search('');
  assert.equal(r.body.items.length, 100);
  assert.equal(typeof r.body.next, 'string');
  assert.equal((await search('limit=1')).body.items.length, 1);
  assert.equal((await search('limit=1000')).body.items.length, N);
  for (const l of ['0', '1001', 'x']) problem(await api.req('GET', `/fs/docs?limit=${l}`), 400, 'limit');
});

test('fields= keeps only the named attributes', async () => {
  const r = await search('n.lt=3&fields=n,s');
  assert.equal(r.body.items.length, 3);
  for (const o of r.body.items) {
    assert.deepEqual(Object.keys(o.attrs).sort(), ['n', 's']);
    assert.equal(o.attrs.s, `w${o.attrs.n}`);
    assert.ok(o.key && o.version >= 1, 'the object frame is kept');
  }
  const one = await search('n=4&fields=tags');
  assert.deepEqual(one.body.items[0].attrs, { tags: [4] });
  problem(await api.req('GET', '/fs/docs?fields=n,zz'), 400, 'fields');
});

test('count=true answers only {"count": N}', async () => {
  assert.deepEqual((await search('count=true')).body, { count: N });
  assert.deepEqual((await search('count=true&label.grp=3')).body, { count: 50 });
  assert.deepEqual((await search('count=true&n.gte=200')).body, { count: 50 });
  assert.deepEqual((await search('count=true&n=-9')).body, { count: 0 });
  const f = await search('count=false&n=1');
  assert.equal(f.body.items.length, 1);
  problem(await api.req('GET', '/fs/docs?count=maybe'), 400, 'count');
});

// Reads the Ruby literal subset the node writes (hashes with =>, arrays,
// strings, numbers, true/false/nil) by turning it into JSON.
function rubyToJson(text) {
  let out = '';
  for (let i = 0; i < text.length;) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (text.startsWith(' => ', i)) { out += ':'; i += 4; } else if (text.startsWith('nil', i)) { out += 'null'; i += 3; } else { out += c; i++; }
  }
  return JSON.parse(out);
}

test('fmt=ruby answers text/x-ruby with a Ruby Hash literal of the same answer', async () => {
  const j = await search('n.lt=3');
  const r = await api.req('GET', '/fs/docs?n.lt=3&fmt=ruby');
  status(r, 200);
  assert.match(r.ctype, /^text\/x-ruby/);
  const t = r.text.trim();
  assert.match(t, /^\{"items" => \[\{"key" => "k0000", /);
  assert.match(t, /"next" => nil\}$/);
  assert.deepEqual(rubyToJson(t), j.body);
  const c = await api.req('GET', '/fs/docs?count=true&fmt=ruby');
  assert.equal(c.text.trim(), `{"count" => ${N}}`);
});

test('search follows updates and deletions (indexes kept with the object)', async () => {
  status(await api.req('PUT', `/fs/docs/${key(42)}`, { json: { attrs: { n: 4200, s: 'moved' }, labels: { grp: 'x' } } }), 200);
  assert.deepEqual(keysOf(await search('n=42')), []);
  assert.deepEqual(keysOf(await search('n=4200')), [key(42)]);
  assert.deepEqual(keysOf(await search('s.prefix=w42')), []);
  assert.deepEqual(keysOf(await search('label.grp=x')), [key(42)]);
  status(await api.req('PATCH', `/fs/docs/${key(42)}`, { json: { attrs: { n: { $incr: 1 } } } }), 200);
  assert.deepEqual(keysOf(await search('n=4201')), [key(42)]);
  assert.deepEqual(keysOf(await search('n=4200')), []);
  status(await api.req('DELETE', `/fs/docs/${key(42)}`), 204);
  assert.deepEqual(keysOf(await search('n=4201')), []);
  assert.deepEqual(keysOf(await search('label.grp=x')), []);
  assert.deepEqual((await search('count=true')).body, { count: N - 1 });
  // Put it back as it was for any later test.
  status(await api.req('PUT', `/fs/docs/${key(42)}`, {
    json: { attrs: { n: 42, f: 21, s: 'w42', b: true, tags: [42], m: { i: 42 }, any: 0 }, labels: { grp: 2, even: true, color: 'red' } },
  }), 201);
});

test('bad searches are 400 naming the parameter', async () => {
  problem(await api.req('GET', '/fs/docs?cursor=zzz'), 400, 'cursor');
  const p = await search('limit=2');
  problem(await api.req('GET', `/fs/docs?n.gte=0&limit=2&cursor=${encodeURIComponent(p.body.next)}`), 400, 'cursor');
  problem(await api.req('GET', '/fs/docs?nope=1'), 400, 'nope');
  problem(await api.req('GET', '/fs/docs?n=abc'), 400, 'n');
  problem(await api.req('GET', '/fs/docs?n.gt=1.5'), 400, 'n.gt');
  problem(await api.req('GET', '/fs/docs?n=99999999999999999999'), 400, 'n');
  problem(await api.req('GET', '/fs/docs?b=yes'), 400, 'b');
  problem(await api.req('GET', '/fs/docs?f=abc'), 400, 'f');
  problem(await api.req('GET', '/fs/docs?tags=1'), 400, 'tags');
  const me = problem(await api.req('GET', '/fs/docs?m.eq=1'), 400);
  assert.ok(['m', 'm.eq'].includes(me.field), `field ${me.field}`);
  problem(await api.req('GET', '/fs/docs?n.prefix=1'), 400, 'n.prefix');
  problem(await api.req('GET', '/fs/nosuch?n=1'), 404, 'space');
});

test('M31-Keys-Read is small for a selective query on 2,000 objects', { timeout: 90_000 }, async () => {
  const BIG = 2000;
  status(await api.req('PUT', '/fs/big', { json: { attrs: { n: 'Int', s: 'String' } } }), 201);
  await parallel(BIG, 16, async (i) => {
    const r = await api.req('PUT', `/fs/big/o${i}`, { json: { attrs: { n: i, s: `s${i % 100}` }, labels: { tenth: i % 10 } } }, { contract: false });
    assert.equal(r.status, 201, r.text);
  });
  const check = async (q, expectCount, maxKeys) => {
    const r = await api.req('GET', `/fs/big?${q}`);
    status(r, 200);
    const kr = r.headers.get('m31-keys-read');
    assert.match(kr ?? '', /^\d+$/, `M31-Keys-Read on ${q}`);
    if (expectCount !== null) assert.equal(r.body.items.length, expectCount, q);
    assert.ok(Number(kr) <= maxKeys, `${q}: read ${kr} keys for ${r.body.items.length} answers (at most ${maxKeys} expected)`);
    return Number(kr);
  };
  await check('n=1234', 1, 10);
  await check('n.gte=1990', 10, 40);
  await check('s=s7', 20, 60);
  await check('s=s7&n.lt=100', 1, 60);
  const all = await check('limit=1000', 1000, 5000);
  assert.ok(all >= 1000, 'a full page reads at least its objects');
  await check('label.tenth=3&limit=5', 5, 30);
});

test('every answer fits the OpenAPI contract', () => api.verify());

test('the node stops cleanly (exit 0, no sanitizer report)', () => node.stop());
