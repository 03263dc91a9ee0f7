// The word-frequency example (examples/wordfreq/wordfreq.rb, Figure 2 of
// the Andromeda paper) end to end: a generated corpus of 6 zipped books on
// 2 shelves (index.html -> shelf pages -> zips) is served on loopback, the
// program runs as a fibril on a fresh node, and then every word's count in
// space "words" must equal what `tr -cs A-Za-z '\n' | tr A-Z a-z | sort |
// uniq -c` makes of the same texts; the root answers fs.search for "pi";
// the spawn tree (root -> main(index) -> a page per shelf -> a book each)
// is visible through GET /fibrils?parent= while it runs and after.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, sleep, status } from './lib/node.mjs';
import { useNode } from './lib/contract.mjs';
import { generate } from '../../examples/wordfreq/corpus.mjs';
import { serveCorpus } from '../../examples/wordfreq/serve.mjs';

const ctx = useNode({ args: ['--nuclei', '2'] });
const PROGRAM = readFileSync(join(REPO, 'examples/wordfreq/wordfreq.rb'), 'utf8');
const FINAL = new Set(['done', 'failed', 'killed']);
const RUN_MS = 120_000;

let dir;
let corpus;
let site;
let root; // the root fibril's final record, once the program ran

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'm31-wordfreq-corpus-'));
  corpus = generate({ dir, size: '240K', books: 6, shelves: 2, seed: 'e2e' });
  site = await serveCorpus(dir);
});

after(async () => {
  await site?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const texts = () => corpus.books.flatMap((b) => b.texts);

/** The pipeline's counts over the corpus texts: Map word -> count. */
function pipelineCounts() {
  const out = execFileSync('sh', ['-c',
    "cat \"$@\" | tr -cs A-Za-z '\\n' | tr A-Z a-z | sort | uniq -c", 'sh', ...texts()],
  { cwd: dir, env: { ...process.env, LC_ALL: 'C' }, encoding: 'utf8', maxBuffer: 1 << 28 });
  const counts = new Map();
  for (const line of out.split('\n')) {
    if (!line) continue;
    const m = /^\s*(\d+) (.*)$/.exec(line);
    assert.ok(m, `a pipeline line with no word: ${JSON.stringify(line)} (texts start with a letter)`);
    counts.set(m[2], Number(m[1]));
  }
  return counts;
}

test('the corpus: zips hold the texts, pages link them with relative hrefs', () => {
  assert.equal(corpus.books.length, 6);
  assert.ok(corpus.books.some((b) => b.texts.length === 2), 'a book of two volumes');
  for (const b of corpus.books) {
    const unzipped = execFileSync('unzip', ['-p', join(dir, b.zip)], { maxBuffer: 1 << 26 });
    const plain = Buffer.concat(b.texts.map((t) => readFileSync(join(dir, t))));
    assert.ok(unzipped.equals(plain), `${b.zip} unzips to ${b.texts.join(' + ')}`);
  }
  const index = readFileSync(join(dir, 'index.html'), 'utf8');
  assert.deepEqual([...index.matchAll(/href="([^"]+)"/g)].map((m) => m[1]),
    ['shelf-01/index.html', 'shelf-02/index.html']);
  const shelf = readFileSync(join(dir, 'shelf-01/index.html'), 'utf8');
  for (const [, href] of shelf.matchAll(/href="([^"]+)"/g)) assert.match(href, /^(\.\/)?book-\d{4}\.zip$/);
  const all = texts().map((t) => readFileSync(join(dir, t), 'utf8')).join('');
  for (const s of ["'", '-', 'é', '3', 'Pi']) assert.ok(all.includes(s), `the texts contain ${s}`);
});

test('wordfreq.rb runs as a fibril; its spawn tree shows while it runs', async () => {
  const r = await ctx.api.req('POST', '/fibrils', {
    json: { code: PROGRAM, fn: 'start', args: [site.index], budget: { cpu_ms: 120_000 } },
  });
  status(r, 201);
  const id = r.body.id;
  let seenRunning = null; // a GET /fibrils?parent= answer while the root was not done
  const end = Date.now() + RUN_MS;
  for (;;) {
    const g = await ctx.api.req('GET', `/fibrils/${id}`);
    status(g, 200);
    if (FINAL.has(g.body.state)) {
      root = g.body;
      break;
    }
    if (!seenRunning) {
      const c = await ctx.api.req('GET', `/fibrils?parent=${id}`);
      status(c, 200);
      if (c.body.items.length > 0) seenRunning = c.body.items;
    }
    assert.ok(Date.now() < end, `the root is still ${g.body.state} after ${RUN_MS} ms`);
    await sleep(20);
  }
  assert.equal(root.state, 'done', JSON.stringify(root.error ?? root.reason));
  assert.ok(seenRunning, 'GET /fibrils?parent=<root> showed the child while the root ran');
  assert.equal(seenRunning.length, 1);
  assert.equal(seenRunning[0].parent, id);

  // root -> main(index) -> 2 shelf pages -> 3 books each, all done
  const kids = async (p) => {
    const c = await ctx.api.req('GET', `/fibrils?parent=${p}&limit=1000`);
    status(c, 200);
    assert.equal(c.body.next, null);
    for (const f of c.body.items) assert.equal(f.state, 'done', `${f.id}: ${JSON.stringify(f.error)}`);
    return c.body.items;
  };
  const [crawler] = await kids(id);
  assert.equal((await kids(id)).length, 1);
  const shelves = await kids(crawler.id);
  assert.equal(shelves.length, 2);
  const books = (await Promise.all(shelves.map((s) => kids(s.id)))).flat();
  assert.equal(books.length, 6);
  for (const b of books) assert.deepEqual(b.children, []);
  assert.equal(site.stats.zips, 6);
  assert.equal(site.stats.pages, 3);
});

test('every count equals tr | sort | uniq -c; the root answers fs.search for "pi"', async () => {
  assert.ok(root, 'the program ran (previous test)');
  const want = pipelineCounts();
  assert.ok(want.size > 1000, `a vocabulary of ${want.size} words`);

  // The whole space, page by page (small pages: many cursors).
  const got = new Map();
  let cursor = null;
  let pages = 0;
  do {
    const q = `/fs/words?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const p = await ctx.api.req('GET', q);
    status(p, 200);
    for (const o of p.body.items) {
      assert.ok(!got.has(o.key), `${o.key} listed twice`);
      got.set(o.key, o.attrs.freq);
    }
    cursor = p.body.next;
    assert.ok(++pages <= Math.ceil(want.size / 500) + 2, 'the listing ends');
  } while (cursor);
  assert.ok(pages > 1);

  const differ = [...want].filter(([w, n]) => got.get(w) !== n).map(([w, n]) => `${w}: ${got.get(w)} != ${n}`);
  assert.deepEqual(differ.slice(0, 10), [], `${differ.length} words counted differently`);
  assert.deepEqual([...got.keys()].filter((w) => !want.has(w)), [], 'words the pipeline does not make');
  assert.equal(got.size, want.size, 'one object per distinct word');
  const count = await ctx.api.req('GET', '/fs/words?count=true');
  status(count, 200);
  assert.equal(count.body.count, want.size);

  // The answer: fs.search(:words, {word: "pi"}), the object as stored.
  assert.ok(want.get('pi') > 0, 'the corpus has "pi"');
  assert.ok(Array.isArray(root.result) && root.result.length === 1, JSON.stringify(root.result));
  const [pi] = root.result;
  assert.equal(pi.key, 'pi');
  assert.deepEqual(pi.attrs, { freq: want.get('pi') });
  const g = await ctx.api.req('GET', '/fs/words/pi');
  status(g, 200);
  assert.deepEqual(pi, g.body);
});
