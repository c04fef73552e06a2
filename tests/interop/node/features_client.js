// A Node.js tls client for tests/test_interop_features.cpp.
//
//   node features_client.js '<json config>'
//
// config: {port, dir: the test certificate directory, servername: "localhost" (SNI and the
// name checked), alpn: ["x", "echo"] (ALPNProtocols), clientCert: "client" (sends
// <name>-chain.pem and <name>.key), maxVersion, resume: bool (connect a second time
// offering the session of the first)}. The test root ca.pem is the only trusted CA and
// rejectUnauthorized stays true.
//
// For the Nth connection (N from 1) it prints lines "N.key=value": on secureConnect
// alpnProtocol, protocol, authorized, peerCN, reused; then it writes "ping N\n", waits
// for the uppercased echo (and, when a later connection resumes, for a 'session' event:
// TLS 1.3 tickets arrive after the handshake), prints "N.session=received" and
// "N.echo=PING N", and ends the connection with close_notify. After the last connection
// closes it prints "done" and exits 0. An error prints "N.error.code=...",
// "N.error.message=..." and exits 1. It gives up after 20 s (exit 3) or when its stdin
// closes (the test process is gone).
'use strict';
const tls = require('tls');
const fs = require('fs');
const path = require('path');

const config = JSON.parse(process.argv[2]);
const file = (name) => fs.readFileSync(path.join(config.dir, name));
const print = (line) => process.stdout.write(line + '\n');
const total = config.resume ? 2 : 1;

function connect(n, session) {
  const options = {
    host: '127.0.0.1',
    port: config.port,
    servername: config.servername || 'localhost',
    ca: file('ca.pem'),
    rejectUnauthorized: true,
  };
  if (config.alpn) options.ALPNProtocols = config.alpn;
  if (config.clientCert) {
    options.cert = file(config.clientCert + '-chain.pem');
    options.key = file(config.clientCert + '.key');
  }
  if (config.maxVersion) options.maxVersion = config.maxVersion;
  if (session) options.session = session;

  const expected = `PING ${n}\n`;
  const wantSession = n < total;
  let received = '';
  let saved = null;
  let ended = false;
  const socket = tls.connect(options, () => {
    const peer = socket.getPeerCertificate();
    print(`${n}.alpnProtocol=${socket.alpnProtocol}`);
    print(`${n}.protocol=${socket.getProtocol()}`);
    print(`${n}.authorized=${socket.authorized}`);
    print(`${n}.peerCN=${peer && peer.subject ? peer.subject.CN : ''}`);
    print(`${n}.reused=${socket.isSessionReused()}`);
    socket.write(`ping ${n}\n`);
  });
  const maybeEnd = () => {
    if (ended || received !== expected || (wantSession && saved === null)) return;
    ended = true;
    if (wantSession) print(`${n}.session=received`);
    print(`${n}.echo=${received.trim()}`);
    socket.end();
  };
  socket.on('session', (s) => {
    saved = s;
    maybeEnd();
  });
  socket.on('data', (data) => {
    received += data.toString('latin1');
    maybeEnd();
  });
  socket.on('error', (err) => {
    print(`${n}.error.code=${err.code}`);
    print(`${n}.error.message=${err.message}`);
    process.exit(1);
  });
  socket.on('close', () => {
    if (!ended) {
      print(`${n}.closed=early`);
      process.exit(1);
    }
    if (n < total) return connect(n + 1, saved);
    print('done');
    process.exit(0);
  });
}

connect(1, null);

process.stdin.on('end', () => process.exit(4));
process.stdin.on('error', () => process.exit(4));
process.stdin.resume();
setTimeout(() => process.exit(3), 20000).unref();
