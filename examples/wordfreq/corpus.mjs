#!/usr/bin/env node
// corpus.mjs — a corpus for the word-frequency example, made here rather
// than downloaded, so every run (and every test) counts the same words.
//
// Books are English-like text over a Zipf-distributed vocabulary of a few
// thousand words (the word "pi" among them), with what makes splitting
// rules matter: mixed case, punctuation, digits, apostrophes, hyphens,
// UTF-8 such as "café" and curly quotes, CRLF line ends in some books.
// Each book is zipped by hand (deflate from node:zlib, the container and
// its CRC-32 written here), and index pages link the zips with relative
// hrefs: index.html -> shelf-NN/index.html -> book-NNNN.zip, so the
// program's spawn tree has depth.
//
//   node corpus.mjs --dir DIR [--size 4M] [--books N] [--shelves N] [--seed S]
//
// writes DIR/index.html, DIR/shelf-NN/{index.html,book-NNNN.zip}, the plain
// texts (the zips' entries, byte for byte) under DIR/texts/, and
// DIR/corpus.json, which describes it all; the lot is made in a directory
// beside DIR and renamed to DIR when whole. A DIR whose corpus.json matches
// the options is kept as it is. Every fourth book is zipped as two volumes
// (two entries). Deterministic: the same options give the same bytes.
//
// As a module: generate(opts) -> manifest, loadManifest(dir), parseSize(s).

import { deflateRawSync } from 'node:zlib';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const VERSION = 1; // bump when the output for the same options changes
const VOCABULARY = 4000;
const ZIPF_S = 1.05;
const BOOK_BYTES = 400 * 1024; // about a Project Gutenberg book

// ------------------------------------------------------------ randomness

/** sfc32, seeded from a string: small, fast and the same everywhere. */
function prng(seed) {
  let h = 1779033703 ^ seed.length;
  for (let i = 0; i < seed.length; i++) {
    h = Math.imul(h ^ seed.charCodeAt(i), 3432918353);
    h = (h << 13) | (h >>> 19);
  }
  const mix = () => {
    h = Math.imul(h ^ (h >>> 16), 2246822507);
    h = Math.imul(h ^ (h >>> 13), 3266489909);
    return (h ^= h >>> 16) >>> 0;
  };
  let a = mix(), b = mix(), c = mix(), d = mix();
  const next = () => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  return {
    next,
    int: (n) => Math.floor(next() * n),
    pick: (arr) => arr[Math.floor(next() * arr.length)],
    chance: (p) => next() < p,
  };
}

// ------------------------------------------------------------ vocabulary

// The most frequent English words, most frequent first: the head of the
// distribution, as in real books.
const COMMON = `the of and to a in that he was it his is with as i had for at by
on not be her which have you from this but all she they were my or an so one
their we him me said there been would no when what if will are them more who
into out up has do could then its any some time very man our than can your
upon only other little now such should great before about like made may these
must over see did came any us old well much good know day how never down
long first after say two own way might come here himself life eyes men thought
again where nothing still being same through just hand most place tell every
while last went many under house make away those take young head without
night give face think yet once even world found almost whole seemed heart
against each mind three door love side far nor better back thing`
  .split(/\s+/).filter((w, i, a) => w && a.indexOf(w) === i);

// Words whose bytes test the splitting rules: each is one vocabulary entry
// but not one letters-only word.
const SPECIAL = [
  "don't", "it's", "I'm", "o'clock", "can't", "won't", "isn't", "that's",
  "he'd", "you'll", "ma'am", "'tis", 'well-known', 'to-day', 'to-morrow',
  'twenty-one', 'self-evident', 'good-bye', 'café', 'naïve', 'façade',
  'Zürich', 'résumé', 'über', 'señor', 'cœur', 'déjà', 'fiancée', 'Ångström',
  'smörgåsbord', 'piñata', 'Москва', '東京', 'crème', 'brûlée', 'jalapeño',
  'London', 'Paris', 'Elizabeth', 'Darcy', 'Holmes', 'Watson', 'Thames',
  'England', 'Ahab', 'Queequeg', 'McAllister', 'MacDonald', 'DeWitt', 'USA',
  'NASA', 'OK', 'B2B', 'x86', 'mp3', 'A4', 'R2D2', 'e-mail', 'co-operate',
];

const ONSETS = ['', '', 'b', 'c', 'd', 'f', 'g', 'h', 'j', 'k', 'l', 'm', 'n', 'p',
  'r', 's', 't', 'v', 'w', 'y', 'z', 'bl', 'br', 'ch', 'cl', 'cr', 'dr', 'fl',
  'fr', 'gl', 'gr', 'pl', 'pr', 'qu', 'sc', 'sh', 'sk', 'sl', 'sm', 'sn', 'sp',
  'st', 'str', 'sw', 'th', 'tr', 'wh', 'wr'];
const VOWELS = ['a', 'e', 'i', 'o', 'u', 'a', 'e', 'i', 'o', 'a', 'e', 'ea',
  'ee', 'ai', 'ou', 'oo'];
const CODAS = ['', '', '', 'n', 'r', 's', 't', 'l', 'd', 'm', 'ng', 'nd', 'st',
  'rt', 'ck', 'sh', 'th', 'nt', 'ss', 'll', 'x'];
const SUFFIXES = ['', '', '', '', '', '', '', '', 'ing', 'ed', 's', 'ly', 'er',
  'tion', 'ness', 'ment', 'ful', 'less', 'ous', 'ish'];

/** A made-up English-sounding word of 1 to 3 syllables. */
function madeUpWord(r) {
  let w = '';
  const n = 1 + (r.chance(0.6) ? 1 : 0) + (r.chance(0.2) ? 1 : 0);
  for (let i = 0; i < n; i++) w += r.pick(ONSETS) + r.pick(VOWELS) + r.pick(CODAS);
  return w + r.pick(SUFFIXES);
}

/**
 * The vocabulary, most frequent first: the common words, then "pi" at a
 * rank where a small corpus still has some, then the special and made-up
 * words in a seeded order. Returns {words, cdf} for sampling.
 */
function vocabulary(seed) {
  const r = prng(`${seed}/vocabulary`);
  const seen = new Set([...COMMON, ...SPECIAL, 'pi']);
  const tail = [...SPECIAL];
  while (tail.length + COMMON.length + 1 < VOCABULARY) {
    const w = madeUpWord(r);
    if (!seen.has(w) && w.length > 1) {
      seen.add(w);
      tail.push(w);
    }
  }
  for (let i = tail.length - 1; i > 0; i--) { // Fisher-Yates
    const j = r.int(i + 1);
    [tail[i], tail[j]] = [tail[j], tail[i]];
  }
  const words = [...COMMON, ...tail];
  words.splice(120, 0, 'pi');
  // Titles draw from below the common words: "The The of And" reads badly.
  const titleWords = words.slice(COMMON.length + 1);
  return { words, cdf: zipfCdf(words.length), titles: { words: titleWords, cdf: zipfCdf(titleWords.length) } };
}

/** The cumulative Zipf distribution over n ranks. */
function zipfCdf(n) {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) cdf[i] = sum += 1 / (i + 1) ** ZIPF_S;
  for (let i = 0; i < n; i++) cdf[i] /= sum;
  return cdf;
}

/** A word drawn from the Zipf distribution of vocab. */
function zipfWord(r, vocab) {
  const u = r.next();
  const { cdf } = vocab;
  let lo = 0, hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cdf[mid] < u) lo = mid + 1; else hi = mid;
  }
  return vocab.words[lo];
}

// ----------------------------------------------------------------- books

const capital = (w) => w.charAt(0).toUpperCase() + w.slice(1);
const ROMAN = ['I', 'II', 'III', 'IV', 'V', 'VI', 'VII', 'VIII', 'IX', 'X', 'XI',
  'XII', 'XIII', 'XIV', 'XV', 'XVI', 'XVII', 'XVIII', 'XIX', 'XX'];

/** A number the way books write them; digits split words apart. */
function numberToken(r) {
  switch (r.int(6)) {
    case 0: return String(1500 + r.int(525)); // a year
    case 1: return String(1 + r.int(100));
    case 2: return '3.14159';
    case 3: { // an ordinal: "21st"
      const n = 1 + r.int(30);
      return n + ((n < 10 || n > 20) && ['th', 'st', 'nd', 'rd'][n % 10] || 'th');
    }
    case 4: return `No.${1 + r.int(99)}`;
    default: return `£${1 + r.int(500)}`;
  }
}

/** One sentence: words with case, possessives, hyphens, numbers, commas. */
function sentence(r, vocab) {
  const n = 4 + r.int(20);
  const out = [];
  for (let i = 0; i < n; i++) {
    let w = r.chance(0.01) ? numberToken(r) : zipfWord(r, vocab);
    if (i === 0) w = capital(w);
    else if (r.chance(0.01)) w = capital(w);
    else if (r.chance(0.003)) w = w.toUpperCase();
    if (r.chance(0.015)) w += r.chance(0.8) ? "'s" : '’s';
    if (i + 1 < n && r.chance(0.01)) w += (r.chance(0.8) ? '-' : '—') + zipfWord(r, vocab);
    if (i + 1 < n) {
      if (r.chance(0.08)) w += ',';
      else if (r.chance(0.01)) w += ';';
      else if (r.chance(0.005)) w += ' --';
    }
    out.push(w);
  }
  const end = r.next();
  let s = out.join(' ') + (end < 0.85 ? '.' : end < 0.92 ? '?' : end < 0.97 ? '!' : '...');
  if (r.chance(0.1)) s = r.chance(0.5) ? `“${s}”` : `"${s}"`;
  else if (r.chance(0.02)) s = `(${s})`;
  return s;
}

/** Greedy wrap of words at 72 columns, lines joined by eol. */
function wrap(text, eol) {
  const lines = [];
  let line = '';
  for (const w of text.split(' ')) {
    if (line && line.length + 1 + w.length > 72) {
      lines.push(line);
      line = w;
    } else {
      line = line ? `${line} ${w}` : w;
    }
  }
  if (line) lines.push(line);
  return lines.join(eol);
}

/**
 * Book number i (from 1): a header, chapters of paragraphs, an end line,
 * about `bytes` bytes of UTF-8. Starts with a letter and ends with a line
 * end, so books concatenated split into the same words as books apart.
 * Returns {title, parts: [String, ...]} (two parts: two volumes).
 */
function book(seed, i, bytes, vocab) {
  const r = prng(`${seed}/book/${i}`);
  const eol = i % 3 === 0 ? '\r\n' : '\n';
  const titleWord = () => capital(zipfWord(r, vocab.titles));
  const title = `The ${titleWord()} of ${titleWord()}`;
  const author = `${titleWord()} ${titleWord()}`;
  const volumes = i % 4 === 0 ? 2 : 1;
  const parts = [];
  for (let v = 1; v <= volumes; v++) {
    const chunks = [];
    let size = 0;
    const add = (s) => { chunks.push(s); size += Buffer.byteLength(s); };
    add(`Title: ${title}${volumes > 1 ? `, volume ${ROMAN[v - 1]}` : ''}${eol}Author: ${author}${eol}`);
    add(`Release date: ${1 + r.int(28)} March ${1990 + r.int(30)} [EBook #${1000 + i}]${eol}${eol}`);
    let chapter = 0;
    while (size < bytes / volumes) {
      if (chapter === 0 || r.chance(0.04)) {
        chapter++;
        add(`${eol}CHAPTER ${ROMAN[(chapter - 1) % ROMAN.length]}.${eol}${eol}`);
      }
      const k = 2 + r.int(7);
      const ss = [];
      for (let j = 0; j < k; j++) ss.push(sentence(r, vocab));
      add(wrap(ss.join(' '), eol) + eol + eol);
    }
    add(`End of ${title}${eol}`);
    parts.push(chunks.join(''));
  }
  return { title, parts };
}

// ------------------------------------------------------------------ zip

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE 802.3, as zip and gzip use it) of a Buffer. */
export function crc32(buf) {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const DOS_TIME = 0; // 00:00:00
const DOS_DATE = ((2026 - 1980) << 9) | (1 << 5) | 1; // 2026-01-01: fixed, so zips are reproducible

/**
 * A zip archive of entries [{name, data: Buffer}], each deflated (method
 * 8), with no extra fields, no data descriptors and no zip64 (entries are
 * far below 4 GiB).
 */
export function zip(entries) {
  const out = [];
  const central = [];
  let offset = 0;
  for (const { name, data } of entries) {
    const nameBuf = Buffer.from(name, 'utf8');
    const packed = deflateRawSync(data, { level: 6 });
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed: 2.0 (deflate)
    local.writeUInt16LE(0x0800, 6); // names are UTF-8
    local.writeUInt16LE(8, 8);
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(packed.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBuf.length, 26);
    local.writeUInt16LE(0, 28);
    const dir = Buffer.alloc(46);
    dir.writeUInt32LE(0x02014b50, 0);
    dir.writeUInt16LE((3 << 8) | 20, 4); // made by: Unix, 2.0
    dir.writeUInt16LE(20, 6);
    dir.writeUInt16LE(0x0800, 8);
    dir.writeUInt16LE(8, 10);
    dir.writeUInt16LE(DOS_TIME, 12);
    dir.writeUInt16LE(DOS_DATE, 14);
    dir.writeUInt32LE(crc, 16);
    dir.writeUInt32LE(packed.length, 20);
    dir.writeUInt32LE(data.length, 24);
    dir.writeUInt16LE(nameBuf.length, 28);
    // extra, comment, disk, internal attributes: 0
    dir.writeUInt32LE((0o100644 << 16) >>> 0, 38); // external: a regular file, rw-r--r--
    dir.writeUInt32LE(offset, 42);
    out.push(local, nameBuf, packed);
    central.push(dir, nameBuf);
    offset += local.length + nameBuf.length + packed.length;
  }
  const dirSize = central.reduce((n, b) => n + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(dirSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...out, ...central, end]);
}

// ----------------------------------------------------------------- pages

const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function page(title, items) {
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>${esc(title)}</title></head>
<body>
<h1>${esc(title)}</h1>
<ul>
${items.map(([href, text]) => `<li><a href="${esc(href)}">${esc(text)}</a></li>`).join('\n')}
</ul>
<p>Generated by examples/wordfreq/corpus.mjs.</p>
</body>
</html>
`;
}

// ------------------------------------------------------------- corpus

/** "100M", "40K", "1G", "5000" -> bytes (K = 1024). */
export function parseSize(s) {
  const m = /^(\d+(?:\.\d+)?)([KMG]?)B?$/i.exec(String(s).trim());
  if (!m) throw new Error(`bad size ${s}: use e.g. 40K, 100M, 1G`);
  return Math.round(Number(m[1]) * { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2].toUpperCase()]);
}

/** The options a corpus is made of, with the defaults filled in. */
export function normalize({ size = '4M', books, shelves, seed = '31' } = {}) {
  const bytes = typeof size === 'number' ? size : parseSize(size);
  const n = books ? Number(books) : Math.max(1, Math.round(bytes / BOOK_BYTES));
  const sh = shelves !== undefined && shelves !== null ? Number(shelves) : Math.ceil(Math.sqrt(n));
  if (!(n >= 1 && n <= 100000)) throw new Error(`bad number of books ${books}`);
  if (!(sh >= 0 && sh <= n)) throw new Error(`bad number of shelves ${shelves} (0..books)`);
  return { version: VERSION, size: bytes, books: n, shelves: sh, seed: String(seed) };
}

/** DIR/corpus.json, or null when there is none. */
export function loadManifest(dir) {
  const f = join(dir, 'corpus.json');
  return existsSync(f) ? JSON.parse(readFileSync(f, 'utf8')) : null;
}

const same = (m, o) => m && ['version', 'size', 'books', 'shelves', 'seed'].every((k) => m.options[k] === o[k]);

/**
 * Makes the corpus in opts.dir (see the top of the file) unless a corpus
 * of the same options is there; returns its manifest: {options, bytes
 * (text), zipBytes, index: "index.html", books: [{zip, title, texts:
 * [path, ...]}]} (paths relative to dir). opts.log(msg) hears progress.
 */
export function generate(opts) {
  const dir = resolve(opts.dir);
  const o = normalize(opts);
  const old = loadManifest(dir);
  if (same(old, o)) return old;
  // Made aside and renamed into place: a reader (or another generate of
  // the same corpus, e.g. two benchmarks at once) never sees half of one.
  const work = `${dir}.tmp-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(join(work, 'texts'), { recursive: true });
  const vocab = vocabulary(o.seed);
  const per = Math.floor(o.size / o.books);
  const manifest = { options: o, bytes: 0, zipBytes: 0, index: 'index.html', books: [] };
  const shelfOf = (i) => (o.shelves ? (i - 1) % o.shelves : -1); // round-robin
  const shelfDir = (s) => `shelf-${String(s + 1).padStart(2, '0')}`;
  for (let s = 0; s < o.shelves; s++) mkdirSync(join(work, shelfDir(s)));
  const t0 = Date.now();
  for (let i = 1; i <= o.books; i++) {
    const name = `book-${String(i).padStart(4, '0')}`;
    const { title, parts } = book(o.seed, i, per, vocab);
    const entries = parts.map((text, v) => ({
      name: parts.length > 1 ? `${name}-vol${v + 1}.txt` : `${name}.txt`,
      data: Buffer.from(text, 'utf8'),
    }));
    const z = zip(entries);
    const s = shelfOf(i);
    const zipPath = s < 0 ? `${name}.zip` : `${shelfDir(s)}/${name}.zip`;
    writeFileSync(join(work, zipPath), z);
    for (const e of entries) writeFileSync(join(work, 'texts', e.name), e.data);
    manifest.books.push({ zip: zipPath, title, texts: entries.map((e) => `texts/${e.name}`) });
    manifest.bytes += entries.reduce((n, e) => n + e.data.length, 0);
    manifest.zipBytes += z.length;
    if (opts.log && (i % 25 === 0 || i === o.books)) {
      opts.log(`corpus: ${i}/${o.books} books, ${(manifest.bytes / 1048576).toFixed(1)} MB of text, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
  }
  // Relative hrefs in two spellings ("x.zip", "./x.zip"): the program must
  // resolve them against the page's own URL.
  const link = (b, n) => {
    const base = b.zip.split('/').pop();
    return [n % 2 ? `./${base}` : base, `${b.title} (${b.zip.split('/').pop()})`];
  };
  if (o.shelves === 0) {
    writeFileSync(join(work, 'index.html'), page('M31 corpus', manifest.books.map(link)));
  } else {
    const top = [];
    for (let s = 0; s < o.shelves; s++) {
      const mine = manifest.books.filter((_, k) => shelfOf(k + 1) === s);
      writeFileSync(join(work, shelfDir(s), 'index.html'), page(`M31 corpus, shelf ${s + 1}`, mine.map(link)));
      top.push([`${shelfDir(s)}/index.html`, `Shelf ${s + 1} (${mine.length} books)`]);
    }
    writeFileSync(join(work, 'index.html'), page('M31 corpus', top));
  }
  writeFileSync(join(work, 'corpus.json'), `${JSON.stringify(manifest, null, 1)}\n`);
  const theirs = loadManifest(dir);
  if (same(theirs, o)) { // made by another process meanwhile: the same bytes
    rmSync(work, { recursive: true, force: true });
    return theirs;
  }
  rmSync(dir, { recursive: true, force: true });
  renameSync(work, dir);
  return manifest;
}

// ------------------------------------------------------------------ CLI

/** --name value pairs of argv -> {name: value}; --flag alone -> true. */
export function parseArgs(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]);
    if (!m) throw new Error(`unexpected argument ${argv[i]}`);
    const key = m[1].replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (m[2] !== undefined) o[key] = m[2];
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) o[key] = argv[++i];
    else o[key] = true;
  }
  return o;
}

if (import.meta.url === pathToFileURL(process.argv[1] || '').href) {
  const a = parseArgs(process.argv.slice(2));
  if (a.help || !a.dir) {
    console.log('usage: node corpus.mjs --dir DIR [--size 4M] [--books N] [--shelves N] [--seed S]');
    process.exit(a.help ? 0 : 2);
  }
  const m = generate({ ...a, log: (s) => console.error(s) });
  console.log(`${resolve(a.dir)}: ${m.books.length} books, ${m.bytes} bytes of text, ${m.zipBytes} bytes zipped, ${m.options.shelves} shelves`);
}
