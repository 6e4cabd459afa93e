// Interop peer on the npm package `ws`, for tests/interop/run.sh.
//
//   node peer.js client URL   run the fixed client script against an interop echo server
//   node peer.js server       serve on 127.0.0.1 (any port), print `listening on ws://ADDR`
//
// The client prints `PASS|FAIL|NOTE FEATURE detail` lines (the same features as
// examples/interop_client.rs) and exits 1 on any FAIL. The server echoes, obeys `!ping P` and
// `!close CODE REASON`, and prints `interop PATH EVENT ...` lines (like examples/echo_server.rs
// --interop). permessage-deflate: ws's defaults (a client offers it; a server needs
// `perMessageDeflate: true`, with the default 1 KiB threshold). Every wait is bounded.
'use strict';

const crypto = require('crypto');
const WebSocket = require('ws');

const WAIT = 10000;
const MIB = 1 << 20;
const TEXT = 'héllo wörld ✓ 𝄞 😀 👍🏽 🇺🇦'; // 4-byte UTF-8 among 2- and 3-byte sequences

let failed = 0;
function line(verdict, feature, detail) {
  if (verdict === 'FAIL') failed++;
  process.stdout.write(`${verdict} ${feature} ${detail}\n`);
}
function check(feature, ok, good, bad) { line(ok ? 'PASS' : 'FAIL', feature, ok ? good : bad); }

function compressible(n) {
  const parts = [];
  let size = 0;
  for (let i = 0; size < n; i++) {
    const s = `The quick brown fox jumps over the lazy dog ${i}. `;
    parts.push(s);
    size += s.length;
  }
  return parts.join('').slice(0, n);
}

// A connection whose events are queued, so the script can await them in order.
function open(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { maxPayload: 64 * MIB, handshakeTimeout: WAIT });
    const conn = { ws, queue: [], waiters: [], pings: [], headers: {}, socket: null, closed: null };
    const push = (ev) => {
      const w = conn.waiters.shift();
      if (w) w(ev); else conn.queue.push(ev);
    };
    ws.on('upgrade', (res) => { conn.headers = res.headers; conn.socket = res.socket; });
    ws.on('message', (data, isBinary) => push({ type: 'message', data, isBinary }));
    ws.on('ping', (data) => conn.pings.push(data.toString()));
    ws.on('pong', (data) => push({ type: 'pong', data }));
    ws.on('close', (code, reason) => {
      conn.closed = { code, reason: reason.toString() };
      push({ type: 'close', code, reason: reason.toString() });
    });
    ws.on('error', (e) => push({ type: 'error', error: e }));
    ws.once('open', () => resolve(conn));
    ws.once('error', reject);
  });
}

function next(conn) {
  if (conn.queue.length) return Promise.resolve(conn.queue.shift());
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      conn.waiters.splice(conn.waiters.indexOf(waiter), 1);
      reject(new Error(`nothing within ${WAIT} ms`));
    }, WAIT);
    const waiter = (ev) => { clearTimeout(timer); resolve(ev); };
    conn.waiters.push(waiter);
  });
}

async function nextMessage(conn) {
  for (;;) {
    const ev = await next(conn);
    if (ev.type === 'message') return ev;
    if (ev.type === 'close' || ev.type === 'error') throw new Error(`${ev.type}: ${ev.code || ev.error}`);
  }
}

async function echo(conn, feature, message) {
  const isBinary = Buffer.isBuffer(message);
  conn.ws.send(message, { binary: isBinary });
  const ev = await nextMessage(conn);
  const same = ev.isBinary === isBinary && (isBinary ? ev.data.equals(message) : ev.data.toString() === message);
  const kind = (b) => (b ? 'binary' : 'text');
  check(feature, same, `${Buffer.byteLength(message)} bytes echoed identical (${kind(isBinary)})`,
    `sent ${Buffer.byteLength(message)} bytes (${kind(isBinary)}), got ${ev.data.length} (${kind(ev.isBinary)}) that differ`);
}

function wire(feature, what, n) {
  const detail = `${what} ${n} bytes on the wire for a 1048576-byte compressible message`;
  line(n < MIB / 4 ? 'PASS' : 'FAIL', feature, detail);
}

function closed(conn) {
  if (conn.closed) return Promise.resolve(conn.closed);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no close event')), WAIT);
    conn.ws.once('close', () => { clearTimeout(timer); resolve(conn.closed); });
  });
}

async function dataChecks(base) {
  const conn = await open(`${base}/data`);
  const ext = conn.headers['sec-websocket-extensions'] || '';
  check('deflate-negotiated', conn.ws.extensions.includes('permessage-deflate'),
    `Sec-WebSocket-Extensions: ${ext}`, `not negotiated: ${JSON.stringify(ext)}`);
  await echo(conn, 'text-utf8', TEXT);
  await echo(conn, 'binary', Buffer.from([...Array(256).keys()]));
  // Text in three frames, split inside 4-byte characters (𝄞 at byte 18, 😀 at 23 of
  // TEXT), the first frame over ws's 1 KiB compression threshold.
  const whole = Buffer.from(TEXT.repeat(100));
  const x = 30 * Buffer.byteLength(TEXT) + 18 + 2;
  const y = 70 * Buffer.byteLength(TEXT) + 23 + 1;
  const f0 = conn.socket.bytesWritten;
  conn.ws.send(whole.subarray(0, x), { binary: false, fin: false });
  conn.ws.send(whole.subarray(x, y), { binary: false, fin: false });
  conn.ws.send(whole.subarray(y), { binary: false, fin: true });
  const frag = await nextMessage(conn);
  const sent = conn.socket.bytesWritten - f0;
  check('fragmented', !frag.isBinary && frag.data.equals(whole),
    `${whole.length} bytes in 3 frames split at ${x} and ${y} (${sent} bytes on the wire), echoed identical`, `echo differs: ${frag.data.length} bytes`);
  await echo(conn, '1MiB', crypto.randomBytes(MIB));

  conn.ws.ping('client-ping-1');
  let ev;
  do { ev = await next(conn); } while (ev.type === 'message');
  check('ping-by-client', ev.type === 'pong' && ev.data.toString() === 'client-ping-1',
    'pong with the same payload', `got ${JSON.stringify(ev)}`);

  conn.pings.length = 0;
  conn.ws.send('!ping server-ping-1');
  const back = await nextMessage(conn);
  check('ping-by-server', conn.pings.includes('server-ping-1') && back.data.toString() === 'pong server-ping-1',
    'ping seen (ping event), server got our pong', `pings seen ${JSON.stringify(conn.pings)}, server said ${back.data}`);

  const text = compressible(MIB);
  const r0 = conn.socket.bytesRead;
  const w0 = conn.socket.bytesWritten;
  await echo(conn, 'deflate-roundtrip', text);
  wire('deflate-wire-c2s', 'we sent', conn.socket.bytesWritten - w0);
  wire('deflate-wire-s2c', 'we received', conn.socket.bytesRead - r0);
  conn.ws.close(1000);
  await closed(conn);
}

async function closeByClient(base) {
  const conn = await open(`${base}/close-by-client`);
  conn.ws.close(4000, 'bye');
  const c = await closed(conn);
  // ws reports 1006 when the close handshake did not complete.
  check('close-by-client', c.code !== 1006, `clean; server answered ${c.code} ${JSON.stringify(c.reason)}`,
    `not clean: ${JSON.stringify(c)}`);
}

async function closeByServer(base) {
  const conn = await open(`${base}/close-by-server`);
  conn.ws.send('!close 4000 bye');
  const c = await closed(conn);
  check('close-by-server', c.code === 4000 && c.reason === 'bye', `clean, got ${c.code} ${JSON.stringify(c.reason)}`,
    `want 4000 "bye", got ${JSON.stringify(c)}`);
}

async function client(url) {
  const base = url.replace(/\/+$/, '');
  for (const [name, stage] of [['data', dataChecks], ['close-by-client', closeByClient], ['close-by-server', closeByServer]]) {
    try {
      await stage(base);
    } catch (e) {
      line('FAIL', `${name}-connection`, String(e && e.message || e));
    }
  }
  return failed ? 1 : 0;
}

function server(lifetimeMs) {
  const port = Number(process.env.INTEROP_PORT || 0); // 0: any
  const wss = new WebSocket.Server({ host: '127.0.0.1', port, perMessageDeflate: true, maxPayload: 64 * MIB });
  const log = (s) => process.stdout.write(`interop ${s}\n`);
  wss.on('listening', () => process.stdout.write(`listening on ws://127.0.0.1:${wss.address().port}\n`));
  wss.on('headers', (headers, req) => {
    req.interopExt = (headers.find((h) => /^sec-websocket-extensions:/i.test(h)) || '-').replace(/^[^:]*:\s*/, '');
  });
  wss.on('connection', (ws, req) => {
    const path = req.url;
    log(`${path} open deflate=${req.interopExt || '-'}`);
    ws.on('ping', (data) => log(`${path} ping ${data}`));
    ws.on('pong', (data) => { log(`${path} pong ${data}`); ws.send(`pong ${data}`); });
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? null : data.toString();
      if (text !== null && text.startsWith('!ping ')) {
        ws.ping(text.slice('!ping '.length));
      } else if (text !== null && text.startsWith('!close ')) {
        const rest = text.slice('!close '.length);
        const sp = rest.indexOf(' ');
        ws.close(Number(sp < 0 ? rest : rest.slice(0, sp)), sp < 0 ? '' : rest.slice(sp + 1));
      } else {
        ws.send(data, { binary: isBinary });
      }
    });
    ws.on('close', (code, reason) => log(`${path} closed ${code} ${reason} clean=${code !== 1006}`));
  });
  setTimeout(() => process.exit(0), lifetimeMs).unref(); // bounded: the script kills it sooner
  setTimeout(() => {}, lifetimeMs);
}

const [mode, arg] = process.argv.slice(2);
if (mode === 'client' && arg) {
  const hard = setTimeout(() => { line('FAIL', 'client', 'overall timeout'); process.exit(1); }, 120000);
  client(arg).then((rc) => { clearTimeout(hard); process.exit(rc); });
} else if (mode === 'server') {
  server(Number(arg || 600) * 1000);
} else {
  process.stderr.write('usage: node peer.js client URL | server [SECONDS]\n');
  process.exit(2);
}
