// fs inside fibrils: a fibril makes a space, puts, gets, invokes Int.incr,
// searches and deletes through the store; store errors raise
// M31::StoreError; a fibril killed at its CPU budget leaves exactly the
// invokes it completed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sleep, status } from './lib/node.mjs';
import { useNode } from './lib/contract.mjs';
import { FINAL, done, runFibril } from './lib/fibrils.mjs';

const ctx = useNode({ args: ['--nuclei', '2'] });

const run = (body, ms) => runFibril(ctx.api, body, ms);

test('a fibril makes a space, puts and gets; HTTP sees the same objects', async () => {
  const result = done(await run({
    code: `
      s = fs.add_space("fb_books", key: "isbn", attrs: {title: String, pages: Int, price: Float, tags: "List"})
      again = fs.add_space("fb_books", key: "isbn", attrs: {title: String, pages: Int, price: Float, tags: "List"})
      put = fs.put("fb_books", "42", attrs: {title: "Dune", pages: 412, price: 9.5, tags: ["sf"]}, labels: {shelf: 3})
      got = fs.get("fb_books", "42")
      missing = fs.get("fb_books", "nope")
      [s["key"], s["attrs"], s == again, put["version"], got["attrs"], got["labels"], missing]
    `,
  }));
  assert.deepEqual(result, ['isbn', { title: 'String', pages: 'Int', price: 'Float', tags: 'List' }, true, 1,
    { title: 'Dune', pages: 412, price: 9.5, tags: ['sf'] }, { shelf: 3 }, null]);
  const r = await ctx.api.req('GET', '/fs/fb_books/42');
  status(r, 200);
  assert.deepEqual(r.body.attrs, { title: 'Dune', pages: 412, price: 9.5, tags: ['sf'] });
  const sp = await ctx.api.req('GET', '/fs/fb_books?schema');
  status(sp, 200);
  assert.equal(sp.body.key, 'isbn');
});

test('Int.incr from many fibrils gives exact counts over HTTP', async () => {
  done(await run({ code: 'fs.add_space("fb_words", key: "word", attrs: {freq: Int, len: Int})' }));
  const code = `
    def count(words, times)
      times.times do
        words.each { |w| fs.invoke("fb_words", {word: w, freq: Int.incr, len: w.size}) }
      end
      fs.invoke("fb_words", {word: "pi", freq: Int.incr(10)}) # combined: nil
      fs.flush
      fs.get("fb_words", "pi")["attrs"]["freq"] >= 10
    end
  `;
  const fibs = [];
  for (let i = 0; i < 4; i++) {
    const r = await ctx.api.req('POST', '/fibrils', { json: { code, fn: 'count', args: [['pi', 'e', 'tau'], 25] } });
    status(r, 201);
    fibs.push(r.body.id);
  }
  for (const id of fibs) {
    for (;;) {
      const g = await ctx.api.req('GET', `/fibrils/${id}`);
      if (FINAL.has(g.body.state)) {
        assert.equal(done(g.body), true);
        break;
      }
      await sleep(30);
    }
  }
  for (const [w, n] of [['pi', 4 * 25 + 4 * 10], ['e', 100], ['tau', 100]]) {
    const r = await ctx.api.req('GET', `/fs/fb_words/${w}`);
    status(r, 200);
    assert.equal(r.body.attrs.freq, n, w);
    assert.equal(r.body.attrs.len, w.length);
  }
});

test('fs.search finds by key and by attribute; fs.delete removes', async () => {
  const result = done(await run({
    code: `
      fs.add_space("fb_find", key: "word", attrs: {freq: Int, lang: String})
      fs.put("fb_find", "pi", attrs: {freq: 3, lang: "en"})
      fs.put("fb_find", "pu", attrs: {freq: 3, lang: "fr"})
      fs.put("fb_find", "po", attrs: {freq: 5, lang: "en"})
      by_key = fs.search("fb_find", {word: "pi"}).map { |o| [o["key"], o["attrs"]["freq"]] }
      by_key_miss = fs.search("fb_find", {word: "pi", freq: 4})
      by_attr = fs.search("fb_find", {freq: 3}).map { |o| o["key"] }.sort
      both = fs.search("fb_find", {freq: 3, lang: "fr"}).map { |o| o["key"] }
      gone = fs.delete("fb_find", "po")
      again = fs.delete("fb_find", "po")
      [by_key, by_key_miss, by_attr, both, gone, again, fs.get("fb_find", "po")]
    `,
  }));
  assert.deepEqual(result, [[['pi', 3]], [], ['pi', 'pu'], ['pu'], true, false, null]);
  status(await ctx.api.req('GET', '/fs/fb_find/po'), 404);
});

test('a store error raises M31::StoreError, which the fibril can rescue', async () => {
  const result = done(await run({
    code: `
      fs.add_space("fb_err", key: "word", attrs: {freq: Int})
      out = []
      begin
        fs.put("fb_err", "x", attrs: {freq: "many"})
      rescue M31::StoreError => e
        out << [e.class.to_s, e.field, e.code, e.message.include?("freq")]
      end
      begin
        fs.invoke("fb_err", {word: "x", freq: 1.5})
      rescue M31::StoreError => e
        out << e.field
      end
      begin
        fs.get("fb_nospace", "x")
      rescue => e
        out << [e.class.to_s, e.field]
      end
      begin
        fs.add_space("fb_err", key: "word", attrs: {freq: Float})
      rescue M31::StoreError => e
        out << e.code
      end
      out << fs.get("fb_err", "x")
      out
    `,
  }));
  assert.deepEqual(result, [['M31::StoreError', 'attrs.freq', 'invalid', true], 'attrs.freq',
    ['M31::StoreError', 'space'], 'conflict', null]);
  status(await ctx.api.req('GET', '/fs/fb_err/x'), 404);
  // an unrescued store error fails the fibril with that class
  const f = await run({ code: 'fs.put("fb_err", "y", attrs: {nope: 1})' });
  assert.equal(f.state, 'failed');
  assert.equal(f.error.class, 'M31::StoreError');
});

test('a fibril killed at its CPU budget leaves exactly the invokes it completed', async () => {
  done(await run({ code: 'fs.add_space("fb_kill", key: "word", attrs: {freq: Int})' }));
  const k = await run({
    code: '7.times { fs.invoke("fb_kill", {word: "w", freq: Int.incr}) }\nfs.flush\n' +
      '3.times { fs.invoke("fb_kill", {word: "w", freq: Int.incr}) }\nloop {}',
    budget: { cpu_ms: 200 },
  });
  assert.equal(k.state, 'killed');
  assert.equal(k.reason, 'cpu budget exceeded');
  let r = await ctx.api.req('GET', '/fs/fb_kill/w');
  status(r, 200);
  assert.equal(r.body.attrs.freq, 7, 'the 3 increments put off were lost with the fibril');
  // invokes until the budget stops it: the count then never moves again
  const k2 = await run({
    code: 'loop { fs.invoke("fb_kill", {word: "v", freq: Int.incr}); fs.flush; 50_000.times { } }',
    budget: { cpu_ms: 150 },
  });
  assert.equal(k2.state, 'killed');
  r = await ctx.api.req('GET', '/fs/fb_kill/v');
  status(r, 200);
  const seen = r.body.attrs.freq;
  assert.ok(seen >= 1);
  await sleep(300);
  r = await ctx.api.req('GET', '/fs/fb_kill/v');
  assert.equal(r.body.attrs.freq, seen);
  assert.equal(r.body.version, seen);
});
