#!/usr/bin/env node
// kill_durability — SIGKILL a node in the middle of a write load, restart it
// on the same data directory, and check that every acknowledged write is
// there.
//
// Each round: concurrent writers PUT distinct keys and PATCH {"$incr": 1} a
// few counters, recording every write answered 2xx ("acknowledged") and every
// write that got no answer ("in flight": it may or may not have been
// applied). The node is SIGKILLed at a random moment of the load, then
// restarted on the same directory. Checks after each restart:
//   - the node opens cleanly (logs "listening", /sys/health is ok, no error
//     lines in its log);
//   - every acknowledged PUT reads back with exactly its value, and its index
//     entry finds it (a sample, by attribute equality);
//   - a PUT in flight at the kill is either absent or exactly its value;
//   - each counter is >= acknowledged increments and <= acknowledged + in
//     flight (summed over all rounds, as the counters live on);
//   - the space's object count equals the objects a full listing finds;
//   - no write was refused (non-2xx) or lost its connection before the kill.
// Several rounds run on the same directory, so recovery also meets a store
// that has already recovered once.
//
// Usage: M31_BIN=build/m31 node tests/fault/kill_durability.mjs
// Env: FAULT_ROUNDS (default 3), FAULT_SEED (default: time-based; printed),
// FAULT_SELFTEST=1 pretends one more PUT and one more increment were
// acknowledged than really were, to see the checks fail (exit 1).
// Bounded: every request has a timeout, every wait has a deadline, and the
// whole run is cut at 55 s. Ends with "N passed, M failed"; exit 1 on failure.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const BIN = resolve(process.env.M31_BIN || join(here, '../../build/m31'));
const ROUNDS = Number(process.env.FAULT_ROUNDS || 3);
let seed = Number(process.env.FAULT_SEED || (Date.now() % 1000000));
const SEED0 = seed;
const PUT_WRITERS = 12;
const INCR_WRITERS = 8;
const COUNTERS = 4;
const REQ_TIMEOUT_MS = 5000;
const OVERALL_MS = 55000;
const SPACE = 'kd';

// A small deterministic PRNG (mulberry32), so a failing seed can be replayed.
function rand() {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

let passed = 0;
let failed = 0;
function check(ok, what, detail) {
  if (ok) {
    passed++;
    console.log(`  ok    ${what}`);
  } else {
    failed++;
    console.log(`  FAIL  ${what}${detail ? `: ${detail}` : ''}`);
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------ node

let node = null; // { proc, port, log, exited }

function startNode(dataDir) {
  return new Promise((resolveStart, rejectStart) => {
    const proc = spawn(BIN, ['serve', '--port', '0', '--data', dataDir,
      '--log-level', 'info'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const n = { proc, port: 0, log: '', exited: null };
    const timer = setTimeout(() => {
      rejectStart(new Error(`no "listening" line in 10 s; log:\n${n.log}`));
    }, 10000);
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (s) => {
      n.log += s;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(n.log);
      if (m && !n.port) {
        n.port = Number(m[1]);
        clearTimeout(timer);
        resolveStart(n);
      }
    });
    proc.on('error', (e) => { clearTimeout(timer); rejectStart(e); });
    proc.on('exit', (code, sig) => {
      n.exited = { code, sig };
      if (!n.port) {
        clearTimeout(timer);
        rejectStart(new Error(`node exited (${code ?? sig}) before listening; log:\n${n.log}`));
      }
    });
    node = n;
  });
}

function waitExit(n, ms) {
  if (n.exited) return Promise.resolve(true);
  return Promise.race([
    new Promise((r) => n.proc.once('exit', () => r(true))),
    sleep(ms).then(() => false),
  ]);
}

function killNow(n) {
  if (n && !n.exited) {
    try { n.proc.kill('SIGKILL'); } catch { /* gone */ }
  }
}

// --------------------------------------------------------------- requests

async function req(method, path, body) {
  const init = {
    method,
    signal: AbortSignal.timeout(REQ_TIMEOUT_MS),
    headers: {},
  };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(`http://127.0.0.1:${node.port}${path}`, init);
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  return { status: res.status, json, text, headers: res.headers };
}

// Runs `fn` over `items` with at most `width` in flight.
async function pool(items, width, fn) {
  let i = 0;
  const workers = [];
  for (let w = 0; w < width; w++) {
    workers.push((async () => {
      while (i < items.length) {
        const k = i++;
        await fn(items[k], k);
      }
    })());
  }
  await Promise.all(workers);
}

// ------------------------------------------------------------------ state

const acked = new Map();    // key -> value (string) of acknowledged PUTs
const inflight = new Map(); // key -> value of PUTs without an answer
const counterAck = new Array(COUNTERS).fill(0);
const counterUnknown = new Array(COUNTERS).fill(0);

// One round of load; returns when the node has been SIGKILLed and every
// writer has stopped.
async function loadAndKill(round) {
  let killed = false;
  const stats = { puts: 0, incrs: 0, refused: 0, lostBeforeKill: 0,
    firstProblem: '' };

  const putWriter = async (w) => {
    for (let j = 0; !killed; j++) {
      const key = `r${round}-w${w}-${j}`;
      const value = `${key}:${Math.floor(rand() * 1e9).toString(36)}`;
      try {
        const r = await req('PUT', `/fs/${SPACE}/${key}`,
          { attrs: { s: value, n: j }, labels: { round } });
        if (r.status >= 200 && r.status < 300) {
          acked.set(key, value);
          stats.puts++;
        } else {
          stats.refused++;
          if (!stats.firstProblem) stats.firstProblem = `PUT ${key}: ${r.status} ${r.text.slice(0, 200)}`;
        }
      } catch (e) {
        inflight.set(key, value);
        if (!killed) {
          stats.lostBeforeKill++;
          if (!stats.firstProblem) stats.firstProblem = `PUT ${key}: ${e.cause?.code || e.message}`;
        }
      }
    }
  };

  const incrWriter = async (w) => {
    for (let j = 0; !killed; j++) {
      const c = (w + j) % COUNTERS;
      try {
        const r = await req('PATCH', `/fs/${SPACE}/counter${c}`,
          { attrs: { n: { $incr: 1 } } });
        if (r.status >= 200 && r.status < 300) {
          counterAck[c]++;
          stats.incrs++;
        } else {
          stats.refused++;
          if (!stats.firstProblem) stats.firstProblem = `PATCH counter${c}: ${r.status} ${r.text.slice(0, 200)}`;
        }
      } catch (e) {
        counterUnknown[c]++;
        if (!killed) {
          stats.lostBeforeKill++;
          if (!stats.firstProblem) stats.firstProblem = `PATCH counter${c}: ${e.cause?.code || e.message}`;
        }
      }
    }
  };

  const writers = [];
  for (let w = 0; w < PUT_WRITERS; w++) writers.push(putWriter(w));
  for (let w = 0; w < INCR_WRITERS; w++) writers.push(incrWriter(w));

  // Kill at a random moment between 0.8 and 2.0 s of load, once at least
  // 100 writes were acknowledged (bounded by 8 s in all).
  const killAt = 800 + Math.floor(rand() * 1200);
  const t0 = Date.now();
  while (Date.now() - t0 < 8000 &&
         (Date.now() - t0 < killAt || stats.puts + stats.incrs < 100)) {
    await sleep(20);
  }
  killed = true;
  if (process.env.FAULT_SELFTEST === '1') {
    acked.set(`r${round}-never-written`, 'x');
    counterAck[0] += counterUnknown[0] + 1;
  }
  const n = node;
  killNow(n);
  const gone = await waitExit(n, 5000);
  await Promise.race([Promise.all(writers), sleep(REQ_TIMEOUT_MS + 2000)]);
  const ms = Date.now() - t0;
  console.log(`round ${round}: SIGKILL after ${ms} ms of load: ${stats.puts} PUTs ` +
    `and ${stats.incrs} increments acknowledged, ` +
    `${stats.refused} refused, ${stats.lostBeforeKill} lost before the kill`);
  check(gone && n.exited?.sig === 'SIGKILL', `round ${round}: node died of SIGKILL`,
    JSON.stringify(n.exited));
  check(stats.refused === 0 && stats.lostBeforeKill === 0,
    `round ${round}: no write refused or cut before the kill`, stats.firstProblem);
  check(stats.puts > 0 && stats.incrs > 0,
    `round ${round}: the load made progress before the kill`);
}

async function verify(round, dataDir) {
  let n;
  try {
    n = await startNode(dataDir);
  } catch (e) {
    check(false, `round ${round}: node restarts on the same data directory`, e.message);
    return false;
  }
  check(true, `round ${round}: node restarts on the same data directory`);
  const health = await req('GET', '/sys/health').catch((e) => ({ status: 0, text: e.message }));
  check(health.status === 200 && health.json?.status === 'ok',
    `round ${round}: /sys/health is ok after restart`, `${health.status} ${health.text}`);
  await sleep(100);
  const errLines = n.log.split('\n').filter((l) => / (error|fatal) /i.test(l));
  check(errLines.length === 0, `round ${round}: no error lines in the restarted node's log`,
    errLines.slice(0, 3).join(' | '));

  // Every acknowledged PUT is there with its value.
  const missing = [];
  const wrong = [];
  const readFail = [];
  await pool([...acked], 16, async ([key, value]) => {
    try {
      const r = await req('GET', `/fs/${SPACE}/${encodeURIComponent(key)}`);
      if (r.status === 404) missing.push(key);
      else if (r.status !== 200) readFail.push(`${key}: ${r.status}`);
      else if (r.json?.attrs?.s !== value) wrong.push(`${key}: ${JSON.stringify(r.json?.attrs)}`);
    } catch (e) {
      readFail.push(`${key}: ${e.message}`);
    }
  });
  check(missing.length === 0 && wrong.length === 0 && readFail.length === 0,
    `round ${round}: all ${acked.size} acknowledged PUTs read back with their value`,
    `${missing.length} missing (${missing.slice(0, 3).join(', ')}), ` +
    `${wrong.length} wrong (${wrong.slice(0, 2).join('; ')}), ` +
    `${readFail.length} unreadable (${readFail.slice(0, 2).join('; ')})`);

  // A PUT in flight at the kill is all or nothing.
  let present = 0;
  const torn = [];
  await pool([...inflight], 16, async ([key, value]) => {
    try {
      const r = await req('GET', `/fs/${SPACE}/${encodeURIComponent(key)}`);
      if (r.status === 200) {
        if (r.json?.attrs?.s === value) present++;
        else torn.push(`${key}: ${JSON.stringify(r.json)}`);
      } else if (r.status !== 404) {
        torn.push(`${key}: ${r.status}`);
      }
    } catch (e) {
      torn.push(`${key}: ${e.message}`);
    }
  });
  console.log(`round ${round}: ${inflight.size} PUTs were in flight at kills so far; ` +
    `${present} of them were applied`);
  check(torn.length === 0, `round ${round}: in-flight PUTs are absent or whole`,
    torn.slice(0, 3).join('; '));

  // The index agrees with the objects: equality on "s" finds the object.
  const keys = [...acked.keys()];
  const sample = [];
  for (let i = 0; i < Math.min(40, keys.length); i++) {
    sample.push(keys[Math.floor(rand() * keys.length)]);
  }
  const badIdx = [];
  await pool(sample, 8, async (key) => {
    const value = acked.get(key);
    try {
      const r = await req('GET', `/fs/${SPACE}?s=${encodeURIComponent(value)}`);
      const items = r.json?.items || [];
      if (r.status !== 200 || items.length !== 1 || items[0].key !== key) {
        badIdx.push(`${key}: ${r.status} ${r.text.slice(0, 120)}`);
      }
    } catch (e) {
      badIdx.push(`${key}: ${e.message}`);
    }
  });
  check(badIdx.length === 0,
    `round ${round}: search by indexed attribute finds ${sample.length} sampled objects`,
    badIdx.slice(0, 2).join('; '));

  // Counters: acknowledged <= value <= acknowledged + in flight.
  for (let c = 0; c < COUNTERS; c++) {
    let v = 0;
    let status = 0;
    try {
      const r = await req('GET', `/fs/${SPACE}/counter${c}`);
      status = r.status;
      v = r.status === 200 ? r.json?.attrs?.n : 0;
    } catch (e) {
      status = e.message;
    }
    const lo = counterAck[c];
    const hi = counterAck[c] + counterUnknown[c];
    check((status === 200 || (status === 404 && lo === 0)) && Number.isInteger(v) &&
      v >= lo && v <= hi,
    `round ${round}: counter${c} = ${v}, within [${lo} acknowledged, ${hi} with in flight]`,
    `status ${status}`);
  }

  // The schema's object count matches what a full listing finds.
  let listed = 0;
  let cursor = null;
  let pages = 0;
  let listOk = true;
  do {
    const q = `limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const r = await req('GET', `/fs/${SPACE}?${q}`).catch((e) => ({ status: 0, text: e.message }));
    if (r.status !== 200) { listOk = false; break; }
    listed += r.json.items.length;
    cursor = r.json.next;
  } while (cursor && ++pages < 1000);
  const sch = await req('GET', `/fs/${SPACE}?schema`).catch((e) => ({ status: 0, text: e.message }));
  const expectedMin = acked.size + present + counterAck.filter((x) => x > 0).length;
  check(listOk && sch.status === 200 && sch.json?.objects === listed && listed >= expectedMin,
    `round ${round}: object count ${sch.json?.objects} = ${listed} listed (>= ${expectedMin} known)`,
    `${sch.status} ${String(sch.text).slice(0, 200)}`);
  return true;
}

async function main() {
  console.log(`kill_durability: ${BIN}, ${ROUNDS} rounds, seed ${SEED0}`);
  const dataDir = mkdtempSync(join(tmpdir(), 'm31-fault-'));
  try {
    await startNode(dataDir);
    const sp = await req('PUT', `/fs/${SPACE}`, { attrs: { s: 'String', n: 'Int' } });
    check(sp.status === 201, 'space created', `${sp.status} ${sp.text}`);
    for (let round = 1; round <= ROUNDS; round++) {
      await loadAndKill(round);
      if (!(await verify(round, dataDir))) break;
    }
  } finally {
    if (node && !node.exited) {
      node.proc.kill('SIGTERM');
      if (!(await waitExit(node, 5000))) killNow(node);
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const guard = setTimeout(() => {
  console.log(`  FAIL  the run took more than ${OVERALL_MS / 1000} s`);
  killNow(node);
  console.log(`${passed} passed, ${failed + 1} failed`);
  process.exit(1);
}, OVERALL_MS);

main().catch((e) => {
  failed++;
  console.log(`  FAIL  ${e.stack || e.message}`);
}).finally(() => {
  clearTimeout(guard);
  killNow(node);
  console.log(`\nsummary: ${acked.size} acknowledged PUTs, ` +
    `${counterAck.reduce((a, b) => a + b, 0)} acknowledged increments, ` +
    `${inflight.size + counterUnknown.reduce((a, b) => a + b, 0)} writes in flight at kills`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed === 0 && passed > 0 ? 0 : 1;
});
