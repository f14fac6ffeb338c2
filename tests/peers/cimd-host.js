// An HTTPS host for ch's OAuth Client ID Metadata Document (CIMD, MCP 2025-11-25), for ch's
// tests. Plain node:https with a throw-away self-signed certificate made by `openssl` at start.
//
// Usage: node tests/peers/cimd-host.js
// Prints exactly one line on stdout once it listens:
//   `READY https://127.0.0.1:PORT/ch/client.json <CA file>`
// (the client id, and the PEM certificate an authorization server must trust to fetch it: pass
// it to oidc-server.js as NODE_EXTRA_CA_CERTS). It stops on SIGTERM/SIGINT, or when stdin is a
// pipe and closes.
//
// Environment:
//   CH_TEST_CIMD_DIR  where to write the key and certificate (the caller removes it); default
//                     a new directory under the system temp dir, removed on a clean stop
//
// GET /ch/client.json answers the document: client_id (its own URL), client_name, loopback
// redirect URIs (RFC 8252: any port), grant types authorization_code and refresh_token,
// token_endpoint_auth_method none, application_type native. Anything else is a 404.
// `GET /__log` answers the paths fetched so far as a JSON array.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';

console.log = console.error;
process.stdout.on('error', () => {});

const ownDir = !process.env.CH_TEST_CIMD_DIR;
const dir = process.env.CH_TEST_CIMD_DIR || fs.mkdtempSync(path.join(os.tmpdir(), 'ch-cimd-'));
const key = path.join(dir, 'key.pem');
const cert = path.join(dir, 'cert.pem');
execFileSync('openssl', [
  'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
  '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1',
  '-addext', 'subjectAltName=IP:127.0.0.1',
], { stdio: ['ignore', 'ignore', 'inherit'] });

const log = [];
const server = https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) });
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(0, '127.0.0.1', resolve);
});
const clientId = `https://127.0.0.1:${server.address().port}/ch/client.json`;

server.on('request', (req, res) => {
  const url = new URL(req.url, 'https://127.0.0.1');
  if (url.pathname === '/__log') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(log));
    return;
  }
  log.push(url.pathname);
  if (req.method !== 'GET' || url.pathname !== '/ch/client.json') {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"error":"not_found"}');
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=60' });
  res.end(JSON.stringify({
    client_id: clientId,
    client_name: 'ch (test)',
    application_type: 'native',
    redirect_uris: ['http://127.0.0.1/callback', 'http://[::1]/callback'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  }));
});

const stop = () => {
  server.close();
  if (ownDir) fs.rmSync(dir, { recursive: true, force: true });
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
if (fs.fstatSync(0).isFIFO()) {
  process.stdin.on('end', stop);
  process.stdin.resume();
}

process.stdout.write(`READY ${clientId} ${cert}\n`);
