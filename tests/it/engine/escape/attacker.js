// Project A's custom code in Node.js: the main cases of the escape suite again (network,
// the engine's API, processes, files), with Node's own modules only. Like attacker.py it
// answers what it observed per case and judges nothing.
const fs = require('fs');
const http = require('http');
const net = require('net');
const path = require('path');

const CONNECT_MS = 2000;

exports.handler = async (event) => {
  const out = {};
  for (const attempt of event.attempts) {
    out[attempt.case] = await KINDS[attempt.kind](attempt);
  }
  return out;
};

function connect(options, target) {
  return new Promise((resolve) => {
    const socket = net.connect(options);
    const done = (seen) => {
      socket.destroy();
      resolve({ target, ...seen });
    };
    socket.setTimeout(CONNECT_MS, () => done({ connected: false, error: 'ETIMEDOUT' }));
    socket.once('connect', () => done({ connected: true }));
    socket.once('error', (e) => done({ connected: false, error: e.code || String(e) }));
  });
}

async function tcp(attempt) {
  const out = [];
  for (const [host, port] of attempt.targets) {
    out.push(await connect({ host, port }, `${host} ${port}`));
  }
  return out;
}

async function unix(attempt) {
  const out = [];
  for (const p of attempt.paths) out.push(await connect({ path: p }, p));
  return out;
}

function request(spec) {
  return new Promise((resolve) => {
    const target = `${spec.method} ${spec.url}`;
    const call = http.request(spec.url, { method: spec.method, headers: spec.headers || {}, timeout: 5000 }, (answer) => {
      let body = '';
      answer.setEncoding('utf8');
      answer.on('data', (piece) => { if (body.length < 2000) body += piece; });
      answer.on('end', () => resolve({
        target,
        status: answer.statusCode,
        error_type: answer.headers['x-amzn-errortype'] || '',
        body: body.slice(0, 2000),
      }));
    });
    call.on('timeout', () => call.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    call.on('error', (e) => resolve({ target, error: e.code || String(e) }));
    if (spec.body !== undefined && spec.body !== null) call.write(spec.body);
    call.end();
  });
}

async function httpKind(attempt) {
  const out = [];
  for (const spec of attempt.requests) out.push(await request(spec));
  return out;
}

function sessionOf(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 1).trim().split(/\s+/)[3]);
}

// Visible processes outside this environment's session; 0 is a session whose leader is
// outside our PID namespace (the sandbox's own init).
function foreignPids() {
  const own = sessionOf(process.pid);
  const found = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let session;
    try { session = sessionOf(name); } catch { continue; }
    if (session !== own && session !== 0) found.push(Number(name));
  }
  return found;
}

async function processes() {
  return foreignPids().map((pid) => {
    let cmdline;
    try { cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').slice(0, 200); } catch (e) { cmdline = e.code; }
    return { pid, cmdline };
  });
}

async function environs() {
  return foreignPids().map((pid) => {
    try {
      const text = fs.readFileSync(`/proc/${pid}/environ`, 'utf8');
      // Names only: the values may be anybody's secrets, and this answer is stored.
      return { pid, read: true, names: text.split('\0').filter(Boolean).map((v) => v.split('=')[0]).slice(0, 40) };
    } catch (e) {
      return { pid, read: false, error: e.code };
    }
  });
}

function readOne(p) {
  try {
    const fd = fs.openSync(p, 'r');
    const buffer = Buffer.alloc(300);
    const n = fs.readSync(fd, buffer, 0, 300, null);
    fs.closeSync(fd);
    return { target: p, read: true, content: buffer.slice(0, n).toString('utf8') };
  } catch (e) {
    return { target: p, read: false, error: e.code };
  }
}

async function procRoots(attempt) {
  const out = [];
  for (const pid of foreignPids()) {
    for (const way of ['root', 'cwd']) out.push(readOne(`/proc/${pid}/${way}/tmp/${attempt.marker}`));
  }
  return out;
}

async function files(attempt) {
  const out = [];
  let budget = 400;
  const visit = (p, depth) => {
    if (budget-- <= 0) return;
    let isDir = false;
    try { isDir = fs.statSync(p).isDirectory(); } catch { /* read it as a file: the error says why */ }
    if (!isDir) {
      out.push(readOne(p));
      return;
    }
    let entries;
    try { entries = fs.readdirSync(p).sort(); } catch (e) {
      out.push({ target: p, listed: false, error: e.code });
      return;
    }
    out.push({ target: p, listed: true, entries: entries.slice(0, 50) });
    if (depth < 4) for (const entry of entries) visit(path.join(p, entry), depth + 1);
  };
  for (const p of attempt.paths) visit(p, 0);
  return out;
}

const KINDS = {
  tcp,
  unix,
  http: httpKind,
  processes,
  environs,
  proc_roots: procRoots,
  files,
};
