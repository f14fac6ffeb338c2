// A small MCP-like protected resource for ch's tests, in front of the real authorization
// server (oidc-server.js). Plain node:http, no dependencies.
//
// Usage: CH_TEST_AS=<issuer of oidc-server.js> node tests/peers/mcp-resource.js
// Prints exactly one line on stdout once it listens: `READY http://127.0.0.1:PORT`. It stops on
// SIGTERM/SIGINT, or when stdin is a pipe and closes.
//
// Environment:
//   CH_TEST_AS                 the real authorization server's issuer (required)
//   CH_TEST_INTROSPECT_CLIENT  client id for introspection (default ch-test-confidential)
//   CH_TEST_INTROSPECT_SECRET  its secret (default ch-test-secret)
//
// Every MCP endpoint below answers POST and GET. Without a valid bearer token it answers 401;
// with one it asks the authorization server's introspection endpoint (RFC 7662, client
// authenticated) and accepts the token only if it is active and its `aud` contains this
// endpoint's resource identifier (RFC 8707). Then it answers 200 with a JSON-RPC result
// carrying the introspected scope and audience (never the token).
//
// Endpoints (each a scenario for one test):
//   /mcp            401 with `WWW-Authenticate: Bearer resource_metadata=".../.well-known/
//                   oauth-protected-resource/mcp", scope="api:read"`; metadata lists CH_TEST_AS
//   /quiet/mcp      401 with no WWW-Authenticate; metadata only at the well-known path
//                   (scopes_supported ["api:read"])
//   /mismatch/mcp   header pointer; the metadata's resource names another URL
//   /html/mcp       header pointer; the metadata URL answers an HTML page
//   /redirect/mcp   header pointer; the metadata URL answers a 302
//   /badiss/mcp     metadata lists <this>/badiss-as, whose AS metadata names another issuer
//   /nos256/mcp     metadata lists <this>/nos256-as, whose AS metadata lacks S256
//   /noreg/mcp      metadata lists <this>/noreg-as, whose registration endpoint refuses
//                   (400 invalid_client_metadata)
//
// Request log: `GET /__log` answers every request as a JSON array of
// {method, path, authorized, status} (never a header value).

import fs from 'node:fs';
import http from 'node:http';
import process from 'node:process';

const AS = (process.env.CH_TEST_AS || '').replace(/\/+$/, '');
if (!AS) {
  console.error('CH_TEST_AS must name the authorization server issuer');
  process.exit(2);
}
const INTROSPECT_CLIENT = process.env.CH_TEST_INTROSPECT_CLIENT || 'ch-test-confidential';
const INTROSPECT_SECRET = process.env.CH_TEST_INTROSPECT_SECRET || 'ch-test-secret';

const discovery = await (await fetch(`${AS}/.well-known/openid-configuration`)).json();
const introspectionEndpoint = discovery.introspection_endpoint;
if (!introspectionEndpoint) {
  console.error('the authorization server advertises no introspection_endpoint');
  process.exit(2);
}

const log = [];
const server = http.createServer();
// Keep idle connections longer than clients keep them pooled (reqwest: 90 s), so a client
// never reuses a connection the server is closing at that moment (node's default is 5 s, about
// one browser login: requests after a login then failed now and then with a reset).
server.keepAliveTimeout = 120_000;
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(0, '127.0.0.1', resolve);
});
const base = `http://127.0.0.1:${server.address().port}`;

const MCP_PATHS = ['/mcp', '/quiet/mcp', '/mismatch/mcp', '/html/mcp', '/redirect/mcp',
  '/badiss/mcp', '/nos256/mcp', '/noreg/mcp'];

const prmUrl = (path) => `${base}/.well-known/oauth-protected-resource${path}`;

const asFor = (path) => {
  if (path.startsWith('/badiss/')) return `${base}/badiss-as`;
  if (path.startsWith('/nos256/')) return `${base}/nos256-as`;
  if (path.startsWith('/noreg/')) return `${base}/noreg-as`;
  return AS;
};

const prm = (path) => ({
  resource: path.startsWith('/mismatch/') ? `${base}/someone-else/mcp` : `${base}${path}`,
  authorization_servers: [asFor(path)],
  scopes_supported: ['api:read'],
  bearer_methods_supported: ['header'],
});

const fakeAsMetadata = (name) => {
  const issuer = `${base}/${name}`;
  return {
    issuer: name === 'badiss-as' ? `${base}/someone-else` : issuer,
    authorization_endpoint: `${issuer}/auth`,
    token_endpoint: `${issuer}/token`,
    registration_endpoint: `${issuer}/reg`,
    response_types_supported: ['code'],
    code_challenge_methods_supported: name === 'nos256-as' ? undefined : ['S256'],
  };
};

const json = (res, status, body, headers = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};

const readBody = (req) => new Promise((resolve) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
});

const introspect = async (token) => {
  const r = await fetch(introspectionEndpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${INTROSPECT_CLIENT}:${INTROSPECT_SECRET}`).toString('base64')}`,
    },
    body: new URLSearchParams({ token }).toString(),
  });
  return r.ok ? r.json() : { active: false };
};

const handle = async (req, res) => {
  const url = new URL(req.url, base);
  const path = url.pathname;
  await readBody(req);

  if (req.method === 'GET' && path === '/__log') return json(res, 200, log);

  const wk = '/.well-known/oauth-protected-resource';
  if (req.method === 'GET' && path.startsWith(wk)) {
    const described = path.slice(wk.length);
    if (!MCP_PATHS.includes(described)) return json(res, 404, { error: 'not_found' });
    if (described.startsWith('/html/')) {
      res.writeHead(200, { 'content-type': 'text/html' });
      return res.end('<!doctype html><title>Sign in</title><p>Welcome!</p>');
    }
    if (described.startsWith('/redirect/')) {
      res.writeHead(302, { location: `${base}/elsewhere` });
      return res.end();
    }
    return json(res, 200, prm(described));
  }

  const asMatch = path.match(/^\/\.well-known\/(oauth-authorization-server|openid-configuration)\/(badiss-as|nos256-as|noreg-as)$/);
  if (req.method === 'GET' && asMatch) return json(res, 200, fakeAsMetadata(asMatch[2]));
  if (req.method === 'POST' && path === '/noreg-as/reg') {
    return json(res, 400, { error: 'invalid_client_metadata', error_description: 'registration is closed here' });
  }

  if (MCP_PATHS.includes(path)) {
    const auth = req.headers.authorization || '';
    const m = auth.match(/^Bearer ([^\s]+)$/i);
    const challenge = path === '/quiet/mcp'
      ? {}
      : { 'www-authenticate': `Bearer resource_metadata="${prmUrl(path)}", scope="api:read"` };
    if (!m) return json(res, 401, { error: 'unauthorized' }, challenge);
    const info = await introspect(m[1]);
    const aud = Array.isArray(info.aud) ? info.aud : [info.aud];
    const resource = `${base}${path}`;
    if (!info.active || !aud.includes(resource)) {
      const h = path === '/quiet/mcp' ? {} : {
        'www-authenticate': `Bearer error="invalid_token", resource_metadata="${prmUrl(path)}"`,
      };
      return json(res, 401, { error: 'invalid_token', active: Boolean(info.active), aud }, h);
    }
    return json(res, 200, {
      jsonrpc: '2.0',
      id: 1,
      result: { authorized: true, scope: info.scope, aud, client_id: info.client_id },
    });
  }
  return json(res, 404, { error: 'not_found' });
};

server.on('request', (req, res) => {
  const entry = { method: req.method, path: req.url.split('?')[0], authorized: Boolean(req.headers.authorization) };
  res.on('finish', () => {
    entry.status = res.statusCode;
    log.push(entry);
  });
  handle(req, res).catch((e) => {
    console.error('mcp-resource error', e);
    if (!res.headersSent) json(res, 500, { error: 'server_error' });
  });
});

const stop = () => {
  server.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
if (fs.fstatSync(0).isFIFO()) {
  process.stdin.on('end', stop);
  process.stdin.resume();
}

process.stdout.write(`READY ${base}\n`);
