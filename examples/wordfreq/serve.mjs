#!/usr/bin/env node
// serve.mjs — a static file server for a corpus made by corpus.mjs: the
// "web site" the word-frequency program crawls. Loopback only; .html is
// text/html (with a charset parameter, as real servers send it), .zip
// application/zip, .txt text/plain; GET and HEAD; "/" and directories
// answer their index.html; nothing outside the directory is served.
//
//   node serve.mjs --dir DIR [--port 0]     prints the corpus URL
//
// As a module: serveCorpus(dir, {port}) -> {url, index, stats, close()}
// where stats counts what was served ({pages, zips, bytes, notFound}).

import { createReadStream, statSync } from 'node:fs';
import http from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.zip': 'application/zip',
  '.txt': 'text/plain; charset=utf-8',
  '.json': 'application/json',
};

/** The file under root that URL path p names, or null. */
function fileOf(root, p) {
  let rel;
  try {
    rel = decodeURIComponent(p.split('?')[0]);
  } catch {
    return null;
  }
  if (rel.includes('\0')) return null;
  let f = resolve(root, `.${rel}`);
  if (f !== root && !f.startsWith(root + sep)) return null;
  try {
    if (statSync(f).isDirectory()) f = join(f, 'index.html');
    return statSync(f).isFile() ? f : null;
  } catch {
    return null;
  }
}

/** Serves dir on 127.0.0.1:port (0: a free one). Resolves once listening. */
export function serveCorpus(dir, { port = 0 } = {}) {
  const root = resolve(dir);
  const stats = { pages: 0, zips: 0, bytes: 0, notFound: 0 };
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    const f = fileOf(root, req.url);
    if (!f) {
      stats.notFound++;
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    const size = statSync(f).size;
    const ext = extname(f);
    res.writeHead(200, {
      'Content-Type': TYPES[ext] || 'application/octet-stream',
      'Content-Length': size,
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    if (ext === '.zip') stats.zips++;
    else if (ext === '.html') stats.pages++;
    stats.bytes += size;
    createReadStream(f).pipe(res);
  });
  // Crawlers open many connections at once; keep the backlog ample.
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen({ host: '127.0.0.1', port, backlog: 1024 }, () => {
      const url = `http://127.0.0.1:${server.address().port}/`;
      ok({
        url,
        index: `${url}index.html`,
        stats,
        close: () => new Promise((done) => {
          server.closeAllConnections?.();
          server.close(() => done());
        }),
      });
    });
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] || '').href) {
  const args = process.argv.slice(2);
  const at = (name, dflt) => {
    const i = args.indexOf(name);
    return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
  };
  const dir = at('--dir');
  if (!dir) {
    console.error('usage: node serve.mjs --dir DIR [--port N]');
    process.exit(2);
  }
  const s = await serveCorpus(dir, { port: Number(at('--port', 0)) });
  console.log(`serving ${resolve(dir)} at ${s.index}`);
  const stop = () => s.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
