// http and jam inside fibrils: a fibril fetches an HTML index served by
// this test, follows its links, unzips the books it finds and counts their
// words; a 404 is an answer, a file: URL and a body over max_bytes raise
// M31::HTTPError; every request comes from the node process itself (its
// socket is found among the node's file descriptors), and no Ruby in a
// fibril can reach a socket of its own.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { deflateRawSync } from 'node:zlib';
import { sleep, status } from './lib/node.mjs';
import { useNode } from './lib/contract.mjs';
import { done, runFibril } from './lib/fibrils.mjs';

const ctx = useNode({ args: ['--nuclei', '2'] });

// ------------------------------------------------------------ a tiny zip

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * A zip archive of entries [{name, data (Buffer|string|undefined for a
 * directory), store}]: local headers, deflated (or stored) data, the
 * central directory and its end record, as APPNOTE 6.3 lays them out.
 */
function makeZip(entries) {
  const locals = [];
  const centrals = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const data = e.data === undefined ? Buffer.alloc(0) : Buffer.from(e.data);
    const method = e.store || data.length === 0 ? 0 : 8;
    const body = method === 8 ? deflateRawSync(data) : data;
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // names are UTF-8
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(0x0314, 4); // made by: Unix, 2.0
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(e.name.endsWith('/') ? 0x10 : 0, 38); // dir flag
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, body);
    centrals.push(central, name);
    offset += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

// ------------------------------------------------------------ the site

const BIN = Buffer.from([0x00, 0x01, 0x80, 0xff, 0xfe, 0x20, 0x39, 0x40, 0xc3]);
const BOOKS = {
  '/books/a.zip': makeZip([
    { name: 'a/' },
    { name: 'a/tale.txt', data: 'It was the best of times, it was the worst of times.' },
  ]),
  '/books/sub/b.zip': makeZip([
    { name: 'pi.txt', data: 'Pi is 3.14159; PI, pi, Pie!' },
    { name: 'blob.bin', data: BIN, store: true },
  ]),
};
const INDEX = `<!DOCTYPE html>
<html><head><title>Books <a href="no-title.zip"></title></head>
<body>
<!-- <a href="commented.zip"> -->
<a href="a.zip">A</a> <a href='sub/b.zip#part'>B</a>
<A HREF=/books/c.txt>C</A>
<a href="a.zip">A again</a>
<a href="mailto:books@example.org">mail</a>
<a href="../missing">gone</a>
<script>document.write('<a href="scripted.zip">')</script>
</body></html>`;

const seen = []; // {path, ua, owner}
let server;
let base;

/** The pid owning the TCP socket whose local port is `port` (the client's
 * end of a connection to this server), or null: /proc/net/tcp gives the
 * socket's inode, /proc/<pid>/fd the process holding it. */
function socketOwner(port, pids) {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const lines = readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1);
  const row = lines.map((l) => l.trim().split(/\s+/))
    .find((f) => f[1] && f[1].endsWith(`:${hex}`));
  if (!row) return null;
  const link = `socket:[${row[9]}]`;
  for (const pid of pids) {
    let fds = [];
    try { fds = readdirSync(`/proc/${pid}/fd`); } catch { continue; }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === link) return pid;
      } catch { /* closed meanwhile */ }
    }
  }
  return null;
}

/** Every pid on the machine (to find a socket's owner wherever it is). */
function allPids() {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
}

before(async () => {
  server = http.createServer((req, res) => {
    const path = req.url;
    seen.push({ path, ua: req.headers['user-agent'], owner: socketOwner(req.socket.remotePort, allPids()) });
    if (path === '/books/index.html') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=UTF-8' });
      res.end(INDEX);
    } else if (BOOKS[path]) {
      res.writeHead(200, { 'Content-Type': 'application/zip' });
      res.end(BOOKS[path]);
    } else if (path === '/books/c.txt') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('Call me Ishmael. Some years ago');
    } else if (path === '/big') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('x'.repeat(2_000_000));
    } else if (path === '/old') {
      res.writeHead(301, { Location: '/books/index.html' });
      res.end();
    } else if (path === '/to-file') {
      res.writeHead(302, { Location: 'file:///etc/passwd' });
      res.end();
    } else if (path === '/slow') {
      setTimeout(() => { res.writeHead(200); res.end('late'); }, 2000);
    } else if (path === '/echo') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(req.headers));
    } else {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('no such page');
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${server.address().port}`;
});

after(async () => {
  server.closeAllConnections?.();
  await new Promise((r) => server.close(r));
});

// ------------------------------------------------------------ fibrils

const run = (body, ms) => runFibril(ctx.api, body, ms);

const CRAWL = `
def crawl(index)
  res = http.req(index)
  dir = index[0, index.rindex("/") + 1]
  files = {}
  counts = {}
  res.urls.each do |u|
    next unless u.start_with?(dir)
    r = http.req(u)
    texts = case r.content_type
            when "application/zip" then jam.unzip(r.content)
            when "text/plain" then { u[dir.size..-1] => r.content }
            else {}
            end
    texts.each do |name, text|
      files[name] = text.bytesize
      jam.count(text).each { |w, n| counts[w] = (counts[w] || 0) + n }
    end
  end
  [res.status, res.url, res.content_type, res.charset, res.urls, files,
   counts, jam.words("It's 42 pi-PI!")]
end
`;

test('a fibril crawls an index, unzips the books and counts their words', async () => {
  const index = `${base}/books/index.html`;
  const result = done(await run({ code: CRAWL, fn: 'crawl', args: [index] }));
  assert.deepEqual(result, [
    200, index, 'text/html', 'utf-8',
    [`${base}/books/a.zip`, `${base}/books/sub/b.zip`, `${base}/books/c.txt`, `${base}/missing`],
    { 'a/tale.txt': 52, 'pi.txt': 27, 'blob.bin': BIN.length, 'c.txt': 31 },
    {
      it: 2, was: 2, the: 2, best: 1, of: 2, times: 2, worst: 1,
      pi: 3, is: 1, pie: 1, call: 1, me: 1, ishmael: 1, some: 1, years: 1, ago: 1,
    },
    ['it', 's', 'pi', 'pi'],
  ]);
  // the node made the requests, as m31/<version>, never a worker
  const mine = seen.filter((s) => s.path.startsWith('/books/'));
  assert.deepEqual(mine.map((s) => s.path).sort(),
    ['/books/a.zip', '/books/c.txt', '/books/index.html', '/books/sub/b.zip']);
  const info = await ctx.api.req('GET', '/sys/info');
  for (const s of mine) {
    assert.equal(s.ua, `m31/${info.body.version}`);
    assert.equal(s.owner, ctx.node.pid, `${s.path} came from pid ${s.owner}`);
  }
});

test('a redirect is followed; a 404 is an answer, not an error; HEAD and headers', async () => {
  const result = done(await run({
    code: `
      r = http.req("${base}/old")
      m = http.req("${base}/nowhere")
      h = http.req("${base}/books/index.html", method: "HEAD")
      e = http.req("${base}/echo", headers: {"X-Book" => "moby", accept: "text/plain"}, timeout_ms: 5000)
      [r.status, r.url, r.urls.size, m.status, m.content, m.content_type, m.urls,
       h.status, h.content, h.urls, h.headers["content-type"], e.content.include?('"x-book":"moby"'),
       e.content.include?('"accept":"text/plain"'), r.is_a?(M31::HTTP::Response)]
    `,
  }));
  assert.deepEqual(result, [200, `${base}/books/index.html`, 4, 404, 'no such page', 'text/plain', [],
    200, '', [], 'text/html; charset=UTF-8', true, true, true]);
});

test('bad URLs, a redirect out of http, too large and too slow raise M31::HTTPError', async () => {
  const result = done(await run({
    code: `
      out = []
      ["file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://h/", "/relative", 42].each do |u|
        begin
          http.req(u)
          out << "fetched"
        rescue M31::HTTPError => e
          out << [e.code, e.field]
        end
      end
      [["${base}/to-file", {}], ["${base}/big", {max_bytes: 1000}],
       ["${base}/slow", {timeout_ms: 300}], ["${base}/big", {method: "POST"}]].each do |u, o|
        begin
          http.req(u, o)
          out << "fetched"
        rescue M31::HTTPError => e
          out << [e.code, e.field, e.message.size > 0, e.is_a?(StandardError)]
        end
      end
      begin
        http.req("${base}/big", "not a hash")
      rescue TypeError => e
        out << e.class.to_s
      end
      out << http.req("${base}/big").content.size
      out
    `,
  }));
  assert.deepEqual(result, [
    ['bad_request', 'url'], ['bad_request', 'url'], ['bad_request', 'url'], ['bad_request', 'url'],
    ['bad_request', 'url'],
    ['unreachable', 'url', true, true], ['too_large', '', true, true], ['timeout', '', true, true],
    ['bad_request', '', true, true],
    'TypeError', 2_000_000,
  ]);
  // unrescued, it fails the fibril with its class
  const f = await run({ code: 'http.req("file:///etc/passwd")' });
  assert.equal(f.state, 'failed');
  assert.equal(f.error.class, 'M31::HTTPError');
  assert.match(f.error.message, /only http and https/);
});

test('a body not valid UTF-8 arrives as bytes; jam errors raise M31::Jam::Error', async () => {
  const result = done(await run({
    code: `
      z = http.req("${base}/books/sub/b.zip")
      out = [z.content_type, z.content.bytesize, z.content[0, 2]]
      ["not a zip", z.content[0, 40], ""].each do |bad|
        begin
          jam.unzip(bad)
        rescue M31::Jam::Error => e
          out << e.message
        end
      end
      out
    `,
  }));
  assert.equal(result[0], 'application/zip');
  assert.equal(result[1], BOOKS['/books/sub/b.zip'].length);
  assert.equal(result[2], 'PK');
  assert.equal(result[3], 'not a zip archive');
  assert.match(result[4], /zip archive/);
  assert.match(result[5], /not a zip archive/);
});

test('no Ruby in a fibril reaches a socket of its own', async () => {
  const before = seen.length;
  const port = new URL(base).port;
  const result = done(await run({
    code: `
      names = %w[Socket TCPSocket UDPSocket UNIXSocket BasicSocket IPSocket Addrinfo
                 IO File Net HTTP Curl Process ObjectSpace]
      found = names.select { |n| Object.const_defined?(n) }
      found += M31.constants.map(&:to_s).select { |n| %w[Sock IO File].any? { |s| n.include?(s) } }
      tries = [
        "TCPSocket.new('127.0.0.1', ${port})", "Socket.tcp('127.0.0.1', ${port})",
        "IO.popen('curl ${base}/escape')", "open('|curl ${base}/escape')",
        "Kernel.open('${base}/escape')", "\`curl ${base}/escape\`",
        "system('curl ${base}/escape')", "exec('curl')",
        "Object.const_get(:TCPSocket)", "M31::HTTP.const_get(:Socket)",
        "M31::HTTP::Response.new({}).instance_eval('Socket')", "require 'socket'",
        "syscall(41, 2, 1, 0)",
      ].map do |src|
        begin
          eval(src)
          [src, "ran"]
        rescue Exception => e
          e.class.to_s
        end
      end
      [found, tries.uniq.sort]
    `,
  }));
  assert.deepEqual(result[0], []);
  assert.deepEqual(result[1], ['NameError', 'NoMethodError', 'NotImplementedError']);
  assert.equal(seen.length, before, 'a request reached the test server');
});
