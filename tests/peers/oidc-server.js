// A real OAuth 2.1 authorization server for ch's tests: oidc-provider on 127.0.0.1.
//
// Usage: node tests/peers/oidc-server.js
// Prints exactly one line on stdout once it listens: `READY http://127.0.0.1:PORT[/PATH]`
// (the issuer). Everything else goes to stderr. It stops on SIGTERM/SIGINT, or when stdin is a
// pipe and closes (so a test that dies does not leave it running).
//
// Environment:
//   CH_TEST_AT_TTL            access-token lifetime in seconds for authorization-code and
//                             device grants (default 3600)
//   CH_TEST_AT_TTL_REFRESHED  access-token lifetime for tokens issued by a refresh grant
//                             (default: CH_TEST_AT_TTL)
//   CH_TEST_ISSUER_PATH       mount the provider under this path (e.g. /tenant1), so the
//                             issuer has a path and discovery needs path insertion
//   CH_TEST_PORT              listen on this port instead of an ephemeral one
//   CH_TEST_DEVICE_CODE_TTL   device-code lifetime in seconds (the device authorization
//                             response's expires_in; default 600), short for expiry tests
//   CH_TEST_CIMD              `1`: accept OAuth Client ID Metadata Documents (client ids that
//                             are https URLs, fetched on use; metadata then says
//                             client_id_metadata_document_supported) and let those fetches
//                             reach loopback (cimd-host.js; its certificate is trusted through
//                             NODE_EXTRA_CA_CERTS)
//
// Clients (RFC 8252 native apps, loopback redirects on any port):
//   ch-test               public client, token_endpoint_auth_method none
//   ch-test-confidential  confidential client, secret `ch-test-secret` (client_secret_basic
//                         or client_secret_post)
//
// Policy: PKCE required (S256), refresh tokens always issued and rotated on every use (reuse
// of a rotated refresh token revokes the whole grant), clockTolerance 0, errors as JSON,
// RFC 9207 `iss` in authorization responses.
//
// Request log: every call to the token, revocation, userinfo, introspection, authorization,
// device-authorization and discovery endpoints is recorded (route, grant type, status, OAuth
// error; never a token value). `GET /__log` answers it as a JSON array, and each entry is
// also written to stderr as `LOG {json}`. Tests count refresh grants and revocations there.

import fs from 'node:fs';
import http from 'node:http';
import process from 'node:process';
import Provider from 'oidc-provider';

// stdout carries only the READY line, and test harnesses close their end after reading it.
// oidc-provider prints NOTICE lines with console.info (for example the first time a default
// helper runs, such as on a dynamically registered client's grant): send all console output
// to stderr and ignore stdout errors, so a late notice can never kill the server with EPIPE.
console.log = console.error;
console.info = console.error;
process.stdout.on('error', () => {});

const seconds = (name, fallback) => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`${name} must be a positive whole number of seconds, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return n;
};

const AT_TTL = seconds('CH_TEST_AT_TTL', 3600);
const AT_TTL_REFRESHED = seconds('CH_TEST_AT_TTL_REFRESHED', AT_TTL);
const ISSUER_PATH = (process.env.CH_TEST_ISSUER_PATH || '').replace(/\/+$/, '');
if (ISSUER_PATH && !/^\/[A-Za-z0-9._~\/-]+$/.test(ISSUER_PATH)) {
  console.error(`CH_TEST_ISSUER_PATH must look like /tenant1, got ${JSON.stringify(ISSUER_PATH)}`);
  process.exit(2);
}
const PORT = seconds('CH_TEST_PORT', 0);
const DEVICE_CODE_TTL = seconds('CH_TEST_DEVICE_CODE_TTL', 600);
const CIMD = process.env.CH_TEST_CIMD === '1';

const LOOPBACK_REDIRECTS = [
  'http://127.0.0.1/callback',
  'http://localhost/callback',
  'http://[::1]/callback',
];
const GRANT_TYPES = [
  'authorization_code',
  'refresh_token',
  'urn:ietf:params:oauth:grant-type:device_code',
];

const log = [];
const record = (entry) => {
  const full = { seq: log.length + 1, at: Date.now() / 1000, ...entry };
  log.push(full);
  console.error(`LOG ${JSON.stringify(full)}`);
};

const server = http.createServer();
// Keep idle connections longer than clients keep them pooled (reqwest: 90 s), so a client
// never reuses a connection the server is closing at that moment (node's default is 5 s, about
// one browser login: requests after a login then failed now and then with a reset).
server.keepAliveTimeout = 120_000;
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(PORT, '127.0.0.1', resolve);
});
const { port } = server.address();
const issuer = `http://127.0.0.1:${port}${ISSUER_PATH}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'ch-test',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      redirect_uris: LOOPBACK_REDIRECTS,
      grant_types: GRANT_TYPES,
      response_types: ['code'],
    },
    {
      client_id: 'ch-test-confidential',
      client_secret: 'ch-test-secret',
      application_type: 'native',
      token_endpoint_auth_method: 'client_secret_basic',
      redirect_uris: LOOPBACK_REDIRECTS,
      grant_types: GRANT_TYPES,
      response_types: ['code'],
    },
    {
      client_id: 'ch-test-confidential-post',
      client_secret: 'ch-test-secret',
      application_type: 'native',
      token_endpoint_auth_method: 'client_secret_post',
      redirect_uris: LOOPBACK_REDIRECTS,
      grant_types: GRANT_TYPES,
      response_types: ['code'],
    },
  ],
  scopes: ['openid', 'offline_access', 'profile', 'email', 'api:read', 'api:write'],
  claims: { openid: ['sub'], profile: ['name'], email: ['email'] },
  responseTypes: ['code'],
  pkce: { required: () => true },
  clockTolerance: 0,
  cookies: { keys: ['ch-test-cookie-key-not-a-secret'] },
  features: {
    devInteractions: { enabled: true },
    registration: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: true },
    userinfo: { enabled: true },
    deviceFlow: { enabled: true },
    clientIdMetadataDocument: { enabled: CIMD, ack: CIMD ? 'draft-02' : undefined },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => undefined,
      useGrantedResource: () => false,
      getResourceServerInfo: (_ctx, resourceIndicator) => ({
        audience: resourceIndicator,
        scope: 'api:read api:write',
        accessTokenTTL: AT_TTL,
        accessTokenFormat: 'opaque',
      }),
    },
  },
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  // Outgoing fetches (client metadata documents) normally refuse special-use addresses such
  // as 127.0.0.1; the test document lives there, so the SSRF guard is dropped.
  ...(CIMD ? {
    fetch: (url, options) => {
      const { dispatcher: _ssrfGuard, ...rest } = options;
      return fetch(url, rest);
    },
  } : {}),
  rotateRefreshToken: true,
  expiresWithSession: async () => false,
  ttl: {
    AccessToken: (ctx) =>
      ctx?.oidc?.params?.grant_type === 'refresh_token' ? AT_TTL_REFRESHED : AT_TTL,
    RefreshToken: () => 14 * 24 * 60 * 60,
    AuthorizationCode: () => 60,
    DeviceCode: () => DEVICE_CODE_TTL,
    Grant: () => 14 * 24 * 60 * 60,
    Interaction: () => 3600,
    Session: () => 14 * 24 * 60 * 60,
    IdToken: () => 3600,
  },
  renderError: async (ctx, out) => {
    ctx.type = 'json';
    ctx.body = out;
  },
});

const LOGGED_ROUTES = new Set([
  'token',
  'revocation',
  'userinfo',
  'introspection',
  'authorization',
  'device_authorization',
  'discovery',
  'registration',
]);

provider.use(async (ctx, next) => {
  if (ctx.method === 'GET' && ctx.path === '/__log') {
    ctx.type = 'json';
    ctx.body = log;
    return;
  }
  await next();
  const route = ctx.oidc?.route;
  if (!route || !LOGGED_ROUTES.has(route)) return;
  const params = ctx.oidc?.params ?? {};
  const body = ctx.body && typeof ctx.body === 'object' && !Buffer.isBuffer(ctx.body) ? ctx.body : {};
  record({
    route,
    method: ctx.method,
    status: ctx.status,
    grant_type: route === 'token' ? params.grant_type : undefined,
    token_type_hint: route === 'revocation' ? params.token_type_hint : undefined,
    client_id: ctx.oidc?.client?.clientId,
    error: typeof body.error === 'string' ? body.error : undefined,
  });
});

provider.on('server_error', (_ctx, err) => console.error('server_error', err));

const callback = provider.callback();
server.on('request', (req, res) => {
  if (ISSUER_PATH) {
    if (req.url === ISSUER_PATH || req.url.startsWith(`${ISSUER_PATH}/`) || req.url.startsWith(`${ISSUER_PATH}?`)) {
      req.originalUrl = req.url;
      req.url = req.url.slice(ISSUER_PATH.length) || '/';
    } else {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'not_found', error_description: 'outside the issuer path' }));
      return;
    }
  }
  callback(req, res);
});

const stop = () => {
  server.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// A test harness that pipes stdin and then dies closes the pipe: stop with it.
if (fs.fstatSync(0).isFIFO()) {
  process.stdin.on('end', stop);
  process.stdin.resume();
}

process.stdout.write(`READY ${issuer}\n`);
