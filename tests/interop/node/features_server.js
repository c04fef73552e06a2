// A Node.js tls server for tests/test_interop_features.cpp.
//
//   node features_server.js '<json config>'
//
// config: {dir: the test certificate directory, leaf: "server-rsa" (default context's
// certificate: <leaf>-chain.pem and <leaf>.key), alpn: ["http/1.1"] (ALPNProtocols),
// sni: {"localhost": "server-rsa"} (server.addContext: hostname -> leaf), requestCert: bool
// (with rejectUnauthorized: true and ca = ca.pem), minVersion, maxVersion}.
//
// Prints "listening=<port>" once bound to 127.0.0.1 (port chosen by the kernel), then for the
// Nth secure connection (N from 1) lines "N.key=value": servername, alpnProtocol, protocol,
// authorized, authorizationError, peerCN, reused. Every byte a client sends is echoed back
// uppercased; a client's close_notify is answered (allowHalfOpen false). Handshake failures
// print "tlsClientError.code=..." and "tlsClientError.message=...". It runs until killed, until
// its stdin closes (the test process is gone), or for 60 s at most.
'use strict';
const tls = require('tls');
const fs = require('fs');
const path = require('path');

const config = JSON.parse(process.argv[2]);
const file = (name) => fs.readFileSync(path.join(config.dir, name));
const credentials = (leaf) => ({cert: file(leaf + '-chain.pem'), key: file(leaf + '.key')});
const print = (line) => process.stdout.write(line + '\n');

const options = credentials(config.leaf || 'server-rsa');
if (config.alpn) options.ALPNProtocols = config.alpn;
if (config.requestCert) {
  options.requestCert = true;
  options.rejectUnauthorized = true;
  options.ca = file('ca.pem');
}
if (config.minVersion) options.minVersion = config.minVersion;
if (config.maxVersion) options.maxVersion = config.maxVersion;

const server = tls.createServer(options);
for (const [hostname, leaf] of Object.entries(config.sni || {}))
  server.addContext(hostname, credentials(leaf));

let connections = 0;
server.on('secureConnection', (socket) => {
  const n = ++connections;
  const peer = socket.getPeerCertificate();
  print(`${n}.servername=${socket.servername}`);
  print(`${n}.alpnProtocol=${socket.alpnProtocol}`);
  print(`${n}.protocol=${socket.getProtocol()}`);
  print(`${n}.authorized=${socket.authorized}`);
  print(`${n}.authorizationError=${socket.authorizationError || ''}`);
  print(`${n}.peerCN=${peer && peer.subject ? peer.subject.CN : ''}`);
  print(`${n}.reused=${socket.isSessionReused()}`);
  socket.on('data', (data) => socket.write(data.toString('latin1').toUpperCase()));
  socket.on('error', (err) => print(`${n}.error.code=${err.code}`));
});
server.on('tlsClientError', (err) => {
  print(`tlsClientError.code=${err.code}`);
  print(`tlsClientError.message=${err.message}`);
});

server.listen(0, '127.0.0.1', () => print(`listening=${server.address().port}`));

process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
setTimeout(() => process.exit(3), 60000).unref();
