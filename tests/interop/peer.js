#!/usr/bin/env node
// A Node.js tls peer for tlsengine's interop tests (tests/test_interop_matrix.cpp).
//
//   node peer.js server [--cert F --key F] [--ca F] [--request-cert] [--alpn a,b]
//                       [--min-version V] [--max-version V]
//     Listens on 127.0.0.1 (a free port), prints {"event":"listening","port":N}, then one
//     {"event":"secure",...} line per connection, and echoes what it receives.
//
//   node peer.js client --port N [--host H] [--servername S] [--ca F] [--cert F --key F]
//                       [--alpn a,b] [--min-version V] [--max-version V]
//                       [--message TEXT | --http PATH] [--resume] [--timeout MS]
//     Sends the message and waits for it to come back (an echo server, which may greet
//     first), or sends an HTTP/1.1 GET and reads to the end; with --resume connects a
//     second time offering the first connection's session. Prints one
//     {"event":"result",...} line per connection; exits 0 when every exchange worked.
'use strict';
const fs = require('fs');
const tls = require('tls');

function parse(argv) {
  const o = { mode: argv[0] };
  for (let i = 1; i < argv.length; i++) {
    const name = argv[i].replace(/^--/, '');
    if (name === 'request-cert' || name === 'resume') o[name] = true;
    else o[name] = argv[++i];
  }
  return o;
}

const o = parse(process.argv.slice(2));
const print = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
const read = (f) => (f ? fs.readFileSync(f) : undefined);

function common() {
  const c = {};
  if (o.cert) c.cert = read(o.cert);
  if (o.key) c.key = read(o.key);
  if (o.ca) c.ca = read(o.ca);
  if (o.alpn) c.ALPNProtocols = o.alpn.split(',');
  if (o['min-version']) c.minVersion = o['min-version'];
  if (o['max-version']) c.maxVersion = o['max-version'];
  return c;
}

function server() {
  const options = common();
  if (o['request-cert']) {
    options.requestCert = true;
    options.rejectUnauthorized = true;
  }
  const srv = tls.createServer(options, (socket) => {
    const peer = socket.getPeerCertificate();
    print({
      event: 'secure',
      protocol: socket.getProtocol(),
      alpn: socket.alpnProtocol || '',
      authorized: socket.authorized,
      reused: socket.isSessionReused(),
      client: peer && peer.subject ? peer.subject.CN : '',
    });
    socket.pipe(socket); // echo; ends (close_notify) when the client ends
    socket.on('error', (e) => print({ event: 'socket-error', message: e.message }));
  });
  srv.on('tlsClientError', (e) => print({ event: 'tls-client-error', message: e.message }));
  srv.listen(0, '127.0.0.1', () => print({ event: 'listening', port: srv.address().port }));
}

function connectOnce(index, session) {
  return new Promise((resolve) => {
    const options = common();
    options.host = o.host || '127.0.0.1';
    options.port = Number(o.port);
    options.servername = o.servername || 'localhost';
    if (session) options.session = session;
    let received = '';
    let latestSession = null;
    let done = false;
    const finish = (ok, why) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      print({
        event: 'result', connection: index, ok, why: why || '',
        protocol: socket.getProtocol(), alpn: socket.alpnProtocol || '',
        authorized: socket.authorized, reused: socket.isSessionReused(), received,
      });
      socket.destroy();
      resolve({ ok, session: latestSession });
    };
    const timer = setTimeout(() => finish(false, 'timeout'), Number(o.timeout || 10000));
    const socket = tls.connect(options, () => {
      if (o.http) socket.write(`GET ${o.http} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
      else socket.write(o.message || 'hello from node\n');
    });
    socket.on('session', (s) => { latestSession = s; });
    socket.setEncoding('utf8');
    socket.on('data', (d) => {
      received += d;
      if (!o.http && received.includes(o.message || 'hello from node\n')) {
        // Our close_notify; the echo server answers with its own, then 'end'.
        socket.end();
      }
    });
    socket.on('end', () => {
      const wanted = o.http ? received.startsWith('HTTP/1.1 200') : received.includes(o.message || 'hello from node\n');
      finish(wanted, wanted ? '' : 'incomplete');
    });
    socket.on('error', (e) => finish(false, e.message));
  });
}

async function client() {
  const first = await connectOnce(0, null);
  let ok = first.ok;
  if (ok && o.resume) {
    if (!first.session) {
      print({ event: 'result', connection: 1, ok: false, why: 'no session to resume' });
      ok = false;
    } else {
      ok = (await connectOnce(1, first.session)).ok;
    }
  }
  process.exitCode = ok ? 0 : 1;
}

if (o.mode === 'server') server();
else if (o.mode === 'client') client();
else {
  process.stderr.write('usage: peer.js server|client [options]\n');
  process.exitCode = 2;
}
