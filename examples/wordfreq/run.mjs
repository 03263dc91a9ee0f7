#!/usr/bin/env node
// run.mjs — runs the word-frequency example end to end: makes the corpus
// (unless it is there), serves it, starts a node of its own (data in a
// temporary directory), POSTs wordfreq.rb as a fibril (fn "start", args
// [the index URL]), shows progress while the fibrils crawl, then prints
// the answer for "pi" and the top words, and stops both servers.
//
//   node run.mjs [--bin build/m31] [--size 4M] [--corpus build/wordfreq/corpus-4M] [--books N]
//                [--shelves N] [--seed S] [--program wordfreq.rb]
//                [--cpu-ms 600000] [--timeout 1800] [--stall 120] [--top 10]
//                [--nuclei N] [--check] [--json] [--keep]
//
// --check also counts the texts with `tr -cs A-Za-z '\n' | tr A-Z a-z |
// sort | uniq -c` and compares every word. --json (for the benchmark)
// prints one JSON object on stdout and the progress on stderr. --keep
// leaves the node's data directory. The root fibril is killed (DELETE) when
// it has not ended after --timeout seconds, or when nothing moved (fibril
// states, books fetched, CPU used, words stored) for --stall seconds: a
// crawl that stopped is reported, not waited on. Exit status 0 when the
// root fibril ended "done" (and, with --check, every count agreed).

import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate, parseArgs } from './corpus.mjs';
import { serveCorpus } from './serve.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '../..');

const a = parseArgs(process.argv.slice(2));
if (a.help) {
  // The usage is the block of comments at the top of this file.
  const head = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n');
  console.log(head.slice(1).filter((l, i, all) => all.slice(0, i + 1).every((x) => x.startsWith('//'))).map((l) => l.slice(3)).join('\n'));
  process.exit(0);
}
const opt = {
  bin: resolve(a.bin || join(REPO, 'build/m31')),
  corpus: resolve(a.corpus || join(REPO, 'build/wordfreq', `corpus-${a.size || '4M'}`)),
  program: resolve(a.program || join(HERE, 'wordfreq.rb')),
  cpuMs: Number(a.cpuMs || 600000),
  timeout: Number(a.timeout || 1800),
  stall: Number(a.stall || 120),
  top: Number(a.top || 10),
  nuclei: a.nuclei ? String(a.nuclei) : null,
  json: a.json === true,
  check: a.check === true,
  keep: a.keep === true,
};
const say = (s) => (opt.json ? process.stderr : process.stdout).write(`${s}\n`);
const num = (n) => n.toLocaleString('en-US');
const mb = (b) => `${(b / 1048576).toFixed(1)} MB`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// -------------------------------------------------------------- the node

/** Starts bin serve on a free port; resolves {base, proc, data, log}. */
async function startNode() {
  const data = mkdtempSync(join(tmpdir(), 'm31-wordfreq-'));
  const log = join(data, 'm31.log');
  const fd = openSync(log, 'w');
  const flags = ['serve', '--port', '0', '--bind', '127.0.0.1', '--data', join(data, 'node'), '--log-level', 'info'];
  if (opt.nuclei) flags.push('--nuclei', opt.nuclei);
  const proc = spawn(opt.bin, flags, { stdio: ['ignore', 'ignore', fd] });
  closeSync(fd);
  let exited = null;
  proc.on('exit', (code, signal) => { exited = { code, signal }; });
  for (let i = 0; i < 200; i++) {
    const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(readFileSync(log, 'utf8'));
    if (m) return { base: m[1], proc, data, log, exited: () => exited };
    if (exited) break;
    await sleep(50);
  }
  proc.kill('SIGKILL');
  throw new Error(`the node did not start:\n${readFileSync(log, 'utf8').slice(-3000)}`);
}

/** SIGTERM, then SIGKILL after 30 s; removes the data unless --keep. */
async function stopNode(node) {
  if (!node.exited()) {
    node.proc.kill('SIGTERM');
    for (let i = 0; i < 300 && !node.exited(); i++) await sleep(100);
    if (!node.exited()) node.proc.kill('SIGKILL');
  }
  if (opt.keep) say(`node data and log kept in ${node.data}`);
  else rmSync(node.data, { recursive: true, force: true });
}

async function api(node, method, path, body) {
  const res = await fetch(node.base + path, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, body: json, text };
}

/** Every item of a paged listing (limit 1000, following next). */
async function listAll(node, path) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < 100_000; page++) {
    const sep = path.includes('?') ? '&' : '?';
    const r = await api(node, 'GET', `${path}${sep}limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${r.text}`);
    items.push(...r.body.items);
    cursor = r.body.next;
    if (!cursor) return items;
  }
  throw new Error(`GET ${path}: the listing does not end`);
}

// ---------------------------------------------------------------- checks

/** The McIlroy pipeline over the corpus texts: Map word -> count. */
function pipelineCounts(dir, texts) {
  const r = spawnSync('sh', ['-c', "cat \"$@\" | tr -cs A-Za-z '\\n' | tr A-Z a-z | sort | uniq -c", 'sh', ...texts],
    { cwd: dir, env: { ...process.env, LC_ALL: 'C' }, maxBuffer: 1 << 30, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`the pipeline failed: ${r.stderr}`);
  const counts = new Map();
  for (const line of r.stdout.split('\n')) {
    const m = /^\s*(\d+) ?(.*)$/.exec(line);
    // An input that starts with a separator gives one empty "word": not a word.
    if (m && m[2] !== '') counts.set(m[2], Number(m[1]));
  }
  return counts;
}

// ------------------------------------------------------------------ main

const FINAL = new Set(['done', 'failed', 'killed']);

async function main() {
  const t0 = Date.now();
  const corpus = generate({ dir: opt.corpus, size: a.size || '4M', books: a.books, shelves: a.shelves, seed: a.seed, log: say });
  const o = corpus.options;
  say(`corpus: ${corpus.books.length} books (${mb(corpus.bytes)} of text, ${mb(corpus.zipBytes)} zipped) on ${o.shelves} shelves in ${opt.corpus}${Date.now() - t0 > 200 ? ` (made in ${((Date.now() - t0) / 1000).toFixed(1)} s)` : ''}`);
  const site = await serveCorpus(opt.corpus);
  let node = null;
  let root = null;
  const stopAll = async () => {
    await site.close();
    if (node) await stopNode(node);
  };
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => { stopAll().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143)); });
  }
  try {
    node = await startNode();
    say(`corpus at ${site.index}, node at ${node.base}`);
    const code = readFileSync(opt.program, 'utf8');
    const tPost = Date.now();
    const r = await api(node, 'POST', '/fibrils', { code, fn: 'start', args: [site.index], budget: { cpu_ms: opt.cpuMs } });
    if (r.status !== 201) throw new Error(`POST /fibrils: ${r.status} ${r.text}`);
    root = r.body.id;
    say(`root fibril ${root}: start(${JSON.stringify(site.index)})`);
    const expected = 2 + o.shelves + corpus.books.length; // root, main(index), pages, books
    let rec;
    let lastShown = 0;
    let lastLine = '';
    let lastMove = Date.now();
    for (;;) {
      rec = (await api(node, 'GET', `/fibrils/${root}`)).body;
      if (FINAL.has(rec.state)) break;
      let why = null;
      if ((Date.now() - tPost) / 1000 > opt.timeout) why = `not done after ${opt.timeout} s`;
      if (Date.now() - lastShown >= (opt.json ? 5000 : 1000)) { // less load on a measured node
        lastShown = Date.now();
        const p = await progress(node, site, tPost, expected);
        say(p.line);
        if (p.state !== lastLine) [lastLine, lastMove] = [p.state, Date.now()];
        else if ((Date.now() - lastMove) / 1000 > opt.stall) why = `no progress for ${opt.stall} s (is the node stuck?)`;
      }
      if (why) {
        await api(node, 'DELETE', `/fibrils/${root}`);
        throw new Error(`${why}: the root fibril was killed`);
      }
      await sleep(opt.json ? 50 : 200);
    }
    const wallMs = rec.ended ? Date.parse(rec.ended) - tPost : Date.now() - tPost;
    say((await progress(node, site, tPost, expected)).line);
    if (rec.state !== 'done') {
      throw new Error(`the root fibril ended ${rec.state}: ${JSON.stringify(rec.error || rec.reason)}`);
    }
    // wordfreq_timed.rb answers {"pi" => ..., "timings" => ...}.
    const pi = Array.isArray(rec.result) ? rec.result : rec.result?.pi;
    const timings = Array.isArray(rec.result) ? null : rec.result?.timings;
    const tList = Date.now();
    const words = await listAll(node, '/fs/words?fields=freq');
    const listMs = Date.now() - tList;
    const total = words.reduce((n, w) => n + w.attrs.freq, 0);
    const top = [...words].sort((x, y) => y.attrs.freq - x.attrs.freq || (x.key < y.key ? -1 : 1)).slice(0, opt.top);
    const children = await api(node, 'GET', `/fibrils?parent=${root}`);
    const fibrils = await listAll(node, '/fibrils');
    const cpu = treeCpu(node.proc.pid);
    const fibrilCpuMs = fibrils.reduce((n, f) => n + (f.cpu_ms || 0), 0);
    let check = null;
    if (opt.check) {
      const want = pipelineCounts(opt.corpus, corpus.books.flatMap((b) => b.texts));
      const got = new Map(words.map((w) => [w.key, w.attrs.freq]));
      const bad = [...want].filter(([w, n]) => got.get(w) !== n).concat([...got].filter(([w]) => !want.has(w)));
      check = { words: want.size, differ: bad.length, examples: bad.slice(0, 5) };
    }
    if (opt.json) {
      process.stdout.write(`${JSON.stringify({
        corpus: { books: corpus.books.length, bytes: corpus.bytes, zipBytes: corpus.zipBytes, shelves: o.shelves },
        wallMs, rootMs: Date.parse(rec.ended) - Date.parse(rec.created), fibrils: fibrils.length,
        fibrilCpuMs, cpu,
        pi, timings, distinct: words.length, total, listMs, check, served: site.stats,
      })}\n`);
    } else {
      say('');
      say(`done in ${(wallMs / 1000).toFixed(2)} s (POST /fibrils to the root fibril's end): ${fibrils.length} fibrils, ${site.stats.zips} books and ${site.stats.pages} pages fetched`);
      say(`GET /fibrils?parent=${root}: ${children.body.items.map((f) => `${f.id} (${f.state})`).join(', ')}`);
      say(`answer for "pi": ${JSON.stringify(pi)}`);
      say(`${num(words.length)} distinct words, ${num(total)} words in all (listed in ${listMs} ms); top ${opt.top}:`);
      for (const w of top) say(`${String(w.attrs.freq).padStart(8)} ${w.key}`);
      if (check) {
        say(check.differ === 0
          ? `checked: all ${num(check.words)} counts equal LC_ALL=C tr -cs A-Za-z '\\n' | tr A-Z a-z | sort | uniq -c`
          : `CHECK FAILED: ${check.differ} words differ from the pipeline, e.g. ${JSON.stringify(check.examples)}`);
      }
    }
    if (check && check.differ) process.exitCode = 1;
  } catch (e) {
    process.exitCode = 1;
    say(`wordfreq: ${e.message}`);
    if (node) say(`node log (last lines):\n${readFileSync(node.log, 'utf8').split('\n').slice(-15).join('\n')}`);
  } finally {
    await stopAll();
  }
}

/**
 * CPU seconds (user + system) of process pid ("node") and of its live
 * descendants ("workers": the zygote and the worker processes), from
 * /proc; null where /proc cannot tell.
 */
function treeCpu(pid) {
  let hz = 100;
  try { hz = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100; } catch { /* 100 */ }
  const procs = new Map(); // pid -> {ppid, cpu}
  let entries = [];
  try { entries = readdirSync('/proc').filter((d) => /^\d+$/.test(d)); } catch { return null; }
  for (const d of entries) {
    try {
      const st = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on
      procs.set(Number(d), { ppid: Number(f[1]), cpu: (Number(f[11]) + Number(f[12])) / hz });
    } catch { /* gone meanwhile */ }
  }
  if (!procs.has(pid)) return null;
  let workers = 0;
  const below = (p) => {
    for (const [c, v] of procs) {
      if (v.ppid === p) {
        workers += v.cpu;
        below(c);
      }
    }
  };
  below(pid);
  return { node: procs.get(pid).cpu, workers };
}

/**
 * Progress: {line} to show (time, fibrils by state, books fetched, words
 * in the space) and {state}, which changes whenever anything moves.
 */
async function progress(node, site, tPost, expected) {
  const fibrils = await listAll(node, '/fibrils');
  const by = {};
  let cpu = 0;
  for (const f of fibrils) {
    by[f.state] = (by[f.state] || 0) + 1;
    cpu += f.cpu_ms || 0;
  }
  const c = await api(node, 'GET', '/fs/words?count=true');
  const words = c.status === 200 ? num(c.body.count) : '-';
  const states = Object.entries(by).map(([s, n]) => `${n} ${s}`).join(', ');
  const tail = `fibrils ${fibrils.length}/${expected} (${states}); books fetched ${site.stats.zips}; distinct words stored ${words}`;
  return {
    line: `${((Date.now() - tPost) / 1000).toFixed(1).padStart(6)} s  ${tail}`,
    state: `${tail} ${cpu} ${site.stats.bytes}`,
  };
}

await main();
