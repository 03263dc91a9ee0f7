// The m31 client commands (cli/), run as the real binary against a real
// node: get/put/patch/post/rm with their exit codes and output, problems
// printed as "Title: detail", usage errors, ps, run (streaming what a
// fibril sends, its result or error, --stdin, Ctrl-C) and repl with piped
// input.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, req, sleep, startNode, status } from './lib/node.mjs';

let node;
let dir;
before(async () => {
  node = await startNode({ args: ['--nuclei', '2'] });
  dir = await mkdtemp(join(tmpdir(), 'm31-cli-'));
});
after(async () => {
  await node?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/**
 * Runs `m31 ...args` with M31_URL set to the node (unless env says
 * otherwise), `input` written to its standard input (then closed), killed
 * after `timeout` ms. `onStdout(text, child)` sees the output as it comes.
 * Answers {code, signal, stdout, stderr, lines (stdout's non-empty lines)}.
 */
function m31(args, { input = '', env = {}, timeout = 30_000, onStdout } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, args, {
      env: { ...process.env, M31_URL: node.base, NO_COLOR: '1', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (c) => { stdout += c; onStdout?.(stdout, child); });
    child.stderr.on('data', (c) => { stderr += c; });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, lines: stdout.split('\n').filter((l) => l !== '') });
    });
    child.stdin.on('error', () => { /* it may exit before reading */ });
    child.stdin.end(input);
  });
}

/** Asserts the exit code, with the output in the message. */
function exited(r, code) {
  assert.equal(r.code, code,
    `exit ${r.code} (signal ${r.signal}), expected ${code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
}

async function file(name, text) {
  const p = join(dir, name);
  await writeFile(p, text);
  return p;
}

const FINAL = new Set(['done', 'failed', 'killed']);

async function settle(id, ms = 15_000) {
  const end = Date.now() + ms;
  for (;;) {
    const r = await req(node.base, 'GET', `/fibrils/${id}`);
    status(r, 200);
    if (FINAL.has(r.body.state)) return r.body;
    assert.ok(Date.now() < end, `fibril ${id} still ${r.body.state}`);
    await sleep(30);
  }
}

// ------------------------------------------------------------ usage, help

test('cli: help lists the commands; usage errors exit 2 with the usage', async () => {
  for (const args of [['--help'], ['help'], ['-h']]) {
    const r = await m31(args);
    exited(r, 0);
    for (const c of ['serve', 'get', 'put', 'patch', 'post', 'rm', 'ps', 'run', 'repl']) {
      assert.match(r.stdout, new RegExp(`^  ${c} `, 'm'), `${args}: ${c} listed`);
    }
  }
  const h = await m31(['run', '--help']);
  exited(h, 0);
  assert.match(h.stdout, /^usage: m31 run FILE\.rb \[ARGS\.\.\.\]/);
  assert.match(h.stdout, /--stdin/);
  const hs = await m31(['help', 'serve']);
  exited(hs, 0);
  assert.match(hs.stdout, /--port N/);

  const none = await m31([]);
  exited(none, 2);
  assert.match(none.stderr, /^usage: m31 <command>/m);
  const unknown = await m31(['frobnicate']);
  exited(unknown, 2);
  assert.match(unknown.stderr, /^m31: unknown command 'frobnicate'/);
  const missing = await m31(['get']);
  exited(missing, 2);
  assert.match(missing.stderr, /^m31 get: missing arguments \(m31 get URI\)/);
  assert.match(missing.stderr, /^usage: m31 get URI$/m);
  const badFlag = await m31(['ps', '-i']);
  exited(badFlag, 2);
  assert.match(badFlag.stderr, /--include is not a flag of this command/);
  const tooMany = await m31(['rm', '/fs/a/b', 'c']);
  exited(tooMany, 2);
  assert.equal(tooMany.stdout, '');
});

// ------------------------------------------------- get, put, patch, rm

test('cli: put, get, patch, rm round trip with exit codes and output', async () => {
  const space = await m31(['put', '/fs/words', '{"attrs":{"freq":"Int"}}']);
  exited(space, 0);
  assert.equal(JSON.parse(space.stdout).name, 'words');

  // --url instead of M31_URL, and a body from standard input
  const put = await m31(['--url', node.base, 'put', '/fs/words/pi'], {
    env: { M31_URL: 'http://127.0.0.1:1' }, input: '{"attrs":{"freq":3},"labels":{"lang":"en"}}',
  });
  exited(put, 0);
  assert.equal(JSON.parse(put.stdout).version, 1);

  const get = await m31(['get', '/fs/words/pi']);
  exited(get, 0);
  const obj = JSON.parse(get.stdout); // not a terminal: the bytes as they came
  assert.deepEqual([obj.key, obj.attrs, obj.labels, obj.version], ['pi', { freq: 3 }, { lang: 'en' }, 1]);

  const patch = await m31(['patch', '/fs/words/pi', '{"attrs":{"freq":{"$incr":2}}}']);
  exited(patch, 0);
  assert.equal(JSON.parse(patch.stdout).attrs.freq, 5);
  const patch2 = await m31(['patch', '/fs/words/pi', '-'], { input: '{"labels":{"seen":true}}' });
  exited(patch2, 0);
  assert.deepEqual(JSON.parse(patch2.stdout).labels, { lang: 'en', seen: true });

  // -i: the status line and headers, then the body
  const gi = await m31(['get', '-i', '/fs/words/pi']);
  exited(gi, 0);
  assert.match(gi.stdout, /^HTTP\/1\.1 200 OK\n/);
  assert.match(gi.stdout, /^ETag: "3"$/m);
  assert.ok(!gi.stdout.includes('\r'));
  assert.equal(JSON.parse(gi.stdout.slice(gi.stdout.indexOf('\n\n') + 2)).version, 3);

  // a full URL works as the URI
  const full = await m31(['get', `${node.base}/sys/health`], { env: { M31_URL: 'http://127.0.0.1:1' } });
  exited(full, 0);
  assert.deepEqual(JSON.parse(full.stdout), { status: 'ok' });

  const del = await m31(['rm', '/fs/words/pi']);
  exited(del, 0);
  assert.equal(del.stdout, '');
  status(await req(node.base, 'GET', '/fs/words/pi'), 404);

  // an API error: the problem's title and detail, exit 1, nothing on stdout
  const gone = await m31(['get', '/fs/words/pi']);
  exited(gone, 1);
  assert.equal(gone.stdout, '');
  assert.match(gone.stderr, /^Not Found: no object pi\b.*\n$/);
  const bad = await m31(['put', '/fs/words/e', '{"attrs":{"freq":"many"}}']);
  exited(bad, 1);
  assert.match(bad.stderr, /^Unprocessable Content: .*freq/);
  const noSpace = await m31(['rm', '/fs/nope']);
  exited(noSpace, 1);
  assert.match(noSpace.stderr, /^Not Found: /);
  // with -i the failed answer is shown too
  const goneI = await m31(['-i', 'get', '/fs/words/pi']);
  exited(goneI, 1);
  assert.match(goneI.stdout, /^HTTP\/1\.1 404 Not Found\n/);
  assert.match(goneI.stdout, /"title":"Not Found"/);
});

test('cli: post sends to a channel; an unreachable node exits 1', async () => {
  const ch = await m31(['post', '/channels', '{"type":"Int"}']);
  exited(ch, 0);
  const { send, recv } = JSON.parse(ch.stdout);
  const sent = await m31(['post', send, '42']);
  exited(sent, 0);
  assert.equal(JSON.parse(sent.stdout).seq, 1);
  const wrong = await m31(['post', send, '"x"']);
  exited(wrong, 1);
  assert.match(wrong.stderr, /^Unprocessable Content: /);
  const got = await m31(['get', `${recv}?wait=5`]);
  exited(got, 0);
  assert.equal(got.stdout, '42');

  const down = await m31(['get', '/sys/health'], { env: { M31_URL: 'http://127.0.0.1:1' } });
  exited(down, 1);
  assert.match(down.stderr, /^m31 get: GET http:\/\/127\.0\.0\.1:1\/sys\/health: /);
});

// -------------------------------------------------------------------- ps

test('cli: ps lists spawned fibrils with their state and result', async () => {
  const ok = await req(node.base, 'POST', '/fibrils', { json: { code: '6 * 7' } });
  status(ok, 201);
  const bad = await req(node.base, 'POST', '/fibrils', { json: { code: 'raise ArgumentError, "nope"' } });
  status(bad, 201);
  await settle(ok.body.id);
  await settle(bad.body.id);

  const r = await m31(['ps']);
  exited(r, 0);
  assert.match(r.lines[0], /^ID +STATE +PARENT +CPU_MS +MEMORY +CREATED +RESULT$/);
  const row = r.lines.find((l) => l.startsWith(`${ok.body.id} `));
  assert.ok(row, `no row for ${ok.body.id}:\n${r.stdout}`);
  assert.match(row, / done +- +\d+ +\d+(\.\d)?[BKMG] +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ +42$/);
  const brow = r.lines.find((l) => l.startsWith(`${bad.body.id} `));
  assert.match(brow, / failed .* ArgumentError: nope$/);

  const failed = await m31(['ps', '--state', 'failed']);
  exited(failed, 0);
  assert.ok(failed.lines.some((l) => l.startsWith(`${bad.body.id} `)));
  assert.ok(!failed.lines.some((l) => l.startsWith(`${ok.body.id} `)));
  const kids = await m31(['ps', '--parent', ok.body.id]);
  exited(kids, 0);
  assert.equal(kids.lines.length, 1); // the header alone
  const badState = await m31(['ps', '--state', 'sleepy']);
  exited(badState, 1);
  assert.match(badState.stderr, /^Bad Request: /);
});

// ------------------------------------------------------------------- run

test('cli: run streams what the fibril sends, in order, then its result', async () => {
  const p = await file('count.rb', 'def main(n)\n  n.times { |i| PARENT.send(i) }\n  :ok\nend\n');
  const r = await m31(['run', p, '5']);
  exited(r, 0);
  assert.deepEqual(r.lines, ['0', '1', '2', '3', '4', '"ok"']);
  const q = await m31(['run', '-q', p, '2']);
  exited(q, 0);
  assert.deepEqual(q.lines, ['0', '1']);

  // each ARG is JSON when it parses, else a string
  const a = await file('args.rb', 'def main(*a)\n  PARENT.send(a)\n  a.map { |x| x.class.to_s }\nend\n');
  const ra = await m31(['run', a, '5', 'word', '[1,2]', '"7"', 'true']);
  exited(ra, 0);
  assert.deepEqual(ra.lines.map((l) => JSON.parse(l)), [
    [5, 'word', [1, 2], '7', true],
    ['Integer', 'String', 'Array', 'String', 'TrueClass'],
  ]);

  // no main: the file's value is the result
  const plain = await file('plain.rb', 'x = 6\nx * 7\n');
  const rp = await m31(['run', plain]);
  exited(rp, 0);
  assert.deepEqual(rp.lines, ['42']);
});

test('cli: run of a raising program exits 1 with the error and backtrace', async () => {
  const p = await file('boom.rb', 'def helper\n  raise ArgumentError, "boom"\nend\n\ndef main\n  PARENT.send("before")\n  helper\nend\n');
  const r = await m31(['run', p]);
  exited(r, 1);
  assert.deepEqual(r.lines, ['"before"']);
  const err = r.stderr.split('\n');
  assert.equal(err[0], 'ArgumentError: boom');
  assert.match(err[1], /^\tfrom .*boom\.rb:2/); // the file, not the fingerprint
  assert.ok(!r.stderr.includes('sha256:'));

  const syntax = await file('syntax.rb', 'def main\n  1 +\nend end\n');
  const s = await m31(['run', syntax]);
  exited(s, 1);
  assert.match(s.stderr, /^Unprocessable Content: .*line/);

  const killed = await file('spin.rb', 'def main\n  loop {}\nend\n');
  const k = await m31(['run', '--cpu-ms', '100', killed]);
  exited(k, 1);
  assert.match(k.stderr, /^killed: cpu budget exceeded/);

  const none = await m31(['run', join(dir, 'nope.rb')]);
  exited(none, 2);
  assert.match(none.stderr, /cannot read .*nope\.rb/);
});

test('cli: run --stdin sends each input line and closes at end of input', async () => {
  const p = await file('echo.rb', [
    'def main',
    '  n = 0',
    '  begin',
    '    loop { PARENT.send(PARENT.recv.upcase); n += 1 }',
    '  rescue M31::ChannelClosed',
    '  end',
    '  n',
    'end',
    '',
  ].join('\n'));
  const r = await m31(['run', '--stdin', p], { input: 'one\ntwo words\n\nlast' });
  exited(r, 0);
  assert.deepEqual(r.lines, ['"ONE"', '"TWO WORDS"', '""', '"LAST"', '4']);
});

test('cli: Ctrl-C during run kills the fibril and exits 130', async () => {
  const p = await file('wait.rb', 'def main\n  PARENT.send("ready")\n  PARENT.recv\nend\n');
  let signalled = false;
  const r = await m31(['run', p], {
    onStdout: (out, child) => {
      if (!signalled && out.includes('"ready"')) {
        signalled = true;
        child.kill('SIGINT');
      }
    },
  });
  exited(r, 130);
  const id = /fibril \/fibrils\/(\S+) killed/.exec(r.stderr)?.[1];
  assert.ok(id, r.stderr);
  const f = await settle(id);
  assert.equal(f.state, 'killed');
});

// ------------------------------------------------------------------ repl

test('cli: repl with piped input prints results, output and errors', async () => {
  const r = await m31(['repl', node.base], {
    env: { M31_URL: 'http://127.0.0.1:1', M31_HISTORY: join(dir, 'hist') },
    input: 'a = 1\ndef f(x)\n x * 2\nend\nf(a + 20)\nputs "hey"; 5\nraise "no"\n[1,\n2]\nexit\n',
  });
  exited(r, 0);
  assert.ok(r.lines.includes('=> 42'), r.stdout);
  assert.deepEqual(r.lines, ['=> 1', '=> :f', '=> 42', 'hey', '=> 5', 'RuntimeError: no (line 1)', '=> [1, 2]']);
  assert.ok(!r.stdout.includes('m31>'), 'no prompts when input is not a terminal');
  // the session was deleted at exit
  const list = await req(node.base, 'GET', '/repl');
  status(list, 200);
  assert.deepEqual(list.body.items, []);
});
