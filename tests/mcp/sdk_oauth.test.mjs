// The official MCP TypeScript SDK client (@modelcontextprotocol/sdk, tests/mcp/node_modules) and
// its OAuth support (ClientCredentialsProvider) against `toolhost serve --http` as an OAuth 2.1
// resource server (serve.http.oauth, docs/security.md), with an authorization server of this
// file's own (node:http and node:crypto only) on 127.0.0.1: RFC 8414 metadata, a JWK Set with
// an ES256 key made here, and a token endpoint for client_credentials that issues ES256 JWTs.
// The client finds everything itself: 401 -> RFC 9728 metadata (named by WWW-Authenticate) ->
// authorization server metadata -> token -> the request again. Then scopes (a tool's and an
// operation's: 403 insufficient_scope) and tokens toolhost must refuse (401).
//
//   node sdk_oauth.test.mjs TOOLHOST_EXE TESTKIT_PLUGIN ECHO_PLUGIN WORK_DIR
//
// Run by ctest (mcp_sdk_oauth, tests/mcp/CMakeLists.txt) with Node.js 22 from node_modules.
// Everything of the last run stays in WORK_DIR: config.json, the plugin folder, toolhost's
// stderr (http.log) and every request the authorization server saw (as.log). Nothing waits for
// time to pass: the waits are for events (a port file, a request seen), bounded as safety nets.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { freshWork, sdkTestArgs, sleep, until } from './sdk_test_support.mjs';

const args = sdkTestArgs();
const { toolhost, work } = args;

// ------------------------------------------------------------------------------------ set-up

const { pluginDir, configFile } = freshWork(args);

// What toolhost asks of tokens: "tools" for every request, "echo:call" for any call of the echo
// tool, "log:write" for testkit_mt's log operation only.
const oauthScopes = { echo: ['echo:call'], 'testkit_mt.log': ['log:write'] };

// The clients the authorization server knows: their secrets, and the scopes they may get. A
// client asking for more gets what it may have (RFC 6749 §3.3 lets the server narrow a request).
// "agent-rogue" gets tokens signed by a key toolhost does not trust (under the trusted key's kid).
const clients = {
  'agent-echo': { secret: 'echo-secret', allowed: ['tools', 'echo:call'] },
  'agent-basic': { secret: 'basic-secret', allowed: ['tools'] },
  'agent-rogue': { secret: 'rogue-secret', allowed: ['tools', 'echo:call'] },
};

// A list that says when something is added to it: `next(what, pred, from)` resolves with the
// first entry from index `from` on, present or to come, that matches (at most `limitMs`, a
// safety net).
class Recorder extends EventEmitter {
  constructor() {
    super();
    this.entries = [];
  }

  push(entry) {
    this.entries.push(entry);
    this.emit('entry', entry);
  }

  next(what, pred, from = 0, limitMs = 30000) {
    const found = this.entries.slice(from).find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('entry', check);
        reject(new Error(`gave up after ${limitMs} ms waiting for ${what}`));
      }, limitMs);
      const check = (e) => {
        if (!pred(e)) return;
        clearTimeout(timer);
        this.off('entry', check);
        resolve(e);
      };
      this.on('entry', check);
    });
  }
}

// A free port on 127.0.0.1 (toolhost must know its resource URI, which holds the port, before
// it starts).
async function freePort() {
  const s = net.createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address();
  s.close();
  await once(s, 'close');
  return port;
}

// ------------------------------------------------------------------- the authorization server

const b64url = (x) => Buffer.from(x).toString('base64url');

// A compact JWS signed ES256 (the signature is r || s, 64 bytes: ieee-p1363).
function signJwt(privateKey, kid, claims) {
  const input = `${b64url(JSON.stringify({ alg: 'ES256', typ: 'at+jwt', kid }))}.${b64url(JSON.stringify(claims))}`;
  const signature = crypto.sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

async function readBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

// The authorization server. `resource` (toolhost's URI) is set before toolhost starts; tokens are
// only issued for it. Every request goes to `requests` ({method, path, host, userAgent, token?}),
// every token request to `tokenRequests` ({params, client, auth, status, error? or scope}).
async function startAuthorizationServer() {
  const key = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  // The same kid, another key: its tokens name the trusted key but their signature does not verify.
  const stranger = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = 'as-key-1';
  const jwks = { keys: [{ ...key.publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' }] };
  const as = {
    resource: undefined,
    requests: new Recorder(),
    tokenRequests: new Recorder(),
    stranger,
    issue(claims, { privateKey = key.privateKey, keyId = kid } = {}) {
      const now = Math.floor(Date.now() / 1000);
      return signJwt(privateKey, keyId, {
        iss: as.issuer, aud: as.resource, iat: now, exp: now + 300, jti: crypto.randomUUID(), ...claims,
      });
    },
  };
  const json = (res, status, body, headers = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
    res.end(JSON.stringify(body));
  };

  const token = async (req, res, request) => {
    const params = new URLSearchParams(await readBody(req));
    const seen = { params: Object.fromEntries(params), client: undefined, auth: undefined };
    request.token = seen;
    const fail = (status, error, description, headers) => {
      Object.assign(seen, { status, error });
      as.tokenRequests.push(seen);
      json(res, status, { error, error_description: description }, headers);
    };
    // Client authentication: client_secret_basic or client_secret_post.
    let id;
    let secret;
    const basic = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (basic) {
      const text = Buffer.from(basic[1], 'base64').toString('utf8');
      const colon = text.indexOf(':');
      [id, secret] = [text.slice(0, colon), text.slice(colon + 1)];
      seen.auth = 'client_secret_basic';
    } else if (params.has('client_id')) {
      [id, secret] = [params.get('client_id'), params.get('client_secret')];
      seen.auth = 'client_secret_post';
    }
    seen.client = id;
    const client = clients[id];
    if (!client || client.secret !== secret) {
      return fail(401, 'invalid_client', 'unknown client or wrong secret', { 'www-authenticate': 'Basic realm="as"' });
    }
    if (params.get('grant_type') !== 'client_credentials') {
      return fail(400, 'unsupported_grant_type', `grant_type ${params.get('grant_type')}`);
    }
    // RFC 8707: a resource indicator, when given, must be the one resource this server serves.
    if (params.has('resource') && params.get('resource') !== as.resource) {
      return fail(400, 'invalid_target', `unknown resource ${params.get('resource')}`);
    }
    const asked = params.has('scope') ? params.get('scope').split(' ').filter(Boolean) : client.allowed;
    const granted = asked.filter((s) => client.allowed.includes(s));
    if (granted.length === 0) return fail(400, 'invalid_scope', `none of ${asked.join(' ')} may be granted`);
    const claims = { sub: id, client_id: id, scope: granted.join(' ') };
    const access = id === 'agent-rogue' ? as.issue(claims, { privateKey: stranger.privateKey }) : as.issue(claims);
    Object.assign(seen, { status: 200, scope: claims.scope });
    as.tokenRequests.push(seen);
    json(res, 200, { access_token: access, token_type: 'Bearer', expires_in: 300, scope: claims.scope });
  };

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://as');
    const request = {
      method: req.method, path: url.pathname, host: req.headers.host, userAgent: req.headers['user-agent'],
    };
    as.requests.push(request);
    try {
      if (req.method === 'GET' && url.pathname === '/.well-known/oauth-authorization-server') {
        return json(res, 200, {
          issuer: as.issuer,
          // Required by RFC 8414 (and the SDK's schema); this server serves no browser flow.
          authorization_endpoint: `${as.issuer}/authorize`,
          response_types_supported: ['code'],
          token_endpoint: `${as.issuer}/token`,
          jwks_uri: `${as.issuer}/jwks.json`,
          grant_types_supported: ['client_credentials'],
          token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
          scopes_supported: ['tools', 'echo:call', 'log:write'],
        });
      }
      if (req.method === 'GET' && url.pathname === '/jwks.json') return json(res, 200, jwks);
      if (req.method === 'POST' && url.pathname === '/token') return await token(req, res, request);
      return json(res, 404, { error: 'not_found' });
    } catch (e) {
      return json(res, 500, { error: 'server_error', error_description: String(e?.stack ?? e) });
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  as.issuer = `http://127.0.0.1:${server.address().port}`;
  as.close = async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  };
  return as;
}

// --------------------------------------------------------------------------------- toolhost

// Starts `toolhost serve --http 127.0.0.1:<port>` as the resource server of `as`, at a port
// picked beforehand (tried again with another port should another process take it meanwhile).
async function startToolhost(as) {
  for (let attempt = 1; ; ++attempt) {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    as.resource = `${base}/mcp`;
    fs.writeFileSync(configFile, JSON.stringify({
      plugin_dirs: [],
      data_dir: path.join(work, 'data'),
      log_level: 'info',
      tools_enabled_by_default: false,
      tools: { echo: { enabled: true }, testkit_mt: { enabled: true } },
      serve: {
        http: {
          oauth: {
            resource: as.resource,
            authorization_servers: [as.issuer],
            jwks_url: `${as.issuer}/jwks.json`,
            // A token naming an unknown kid has the keys fetched again at once.
            jwks_min_refresh_ms: 0,
            algorithms: ['ES256'],
            required_scopes: ['tools'],
            scopes: oauthScopes,
          },
        },
      },
    }, null, 2));
    const portFile = path.join(work, 'port');
    fs.rmSync(portFile, { force: true });
    const jwksBefore = as.requests.entries.filter((r) => r.path === '/jwks.json').length;
    const server = spawn(toolhost, ['serve', '--http', `127.0.0.1:${port}`, '--port-file', portFile,
      '--config', configFile, '--no-default-plugins', '--plugin-dir', pluginDir],
    { cwd: work, stdio: ['ignore', 'ignore', 'pipe'] });
    const th = { server, base, port, jwksBefore, stderr: '' };
    server.stderr.on('data', (d) => { th.stderr += d; });
    th.exited = new Promise((resolve) => server.once('exit', (code, signal) => resolve({ code, signal })));
    let gone = null;
    th.exited.then((s) => { gone = s; });
    const ready = await until('the port file', async () => {
      if (gone) return 'exited';
      try {
        return fs.readFileSync(portFile, 'utf8').trim() === String(port) ? 'ready' : null;
      } catch {
        return null;
      }
    });
    if (ready === 'ready') return th;
    fs.writeFileSync(path.join(work, `http.${attempt}.log`), th.stderr);
    if (attempt < 3 && /Address already in use/.test(th.stderr)) continue;
    throw new Error(`toolhost serve exited (${JSON.stringify(gone)}) before it was ready:\n${th.stderr}`);
  }
}

// ------------------------------------------------------------------------------- the client

// A fetch that records what the SDK sends, in the order the answers came: {server: 'toolhost' or
// 'as', method, path, rpc (the JSON-RPC method of a POST /mcp), bearer (an access token was sent),
// token (which), status, wwwAuthenticate}.
function recordingFetch(log, servers) {
  return async (url, init) => {
    const u = new URL(url instanceof Request ? url.url : String(url));
    const headers = new Headers(init?.headers);
    const authorization = headers.get('authorization') ?? '';
    let rpc;
    if (typeof init?.body === 'string') {
      try {
        rpc = JSON.parse(init.body).method;
      } catch {
        // not JSON-RPC
      }
    }
    const entry = {
      server: servers.get(u.origin) ?? u.origin,
      method: init?.method ?? 'GET',
      path: u.pathname,
      rpc,
      bearer: authorization.startsWith('Bearer '),
      token: authorization.startsWith('Bearer ') ? authorization.slice(7) : undefined,
    };
    const res = await fetch(url, init);
    entry.status = res.status;
    entry.wwwAuthenticate = res.headers.get('www-authenticate') ?? undefined;
    log.push(entry);
    return res;
  };
}

const short = (e) =>
  `${e.server} ${e.method} ${e.path}${e.rpc ? ` ${e.rpc}` : ''}${e.bearer ? ' +token' : ''} -> ${e.status}`;

// The claims of a JWT (not verified: the test looks at what the authorization server issued).
const claimsOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));

// ------------------------------------------------------------------------------------- cases

describe('OAuth: the SDK client against toolhost serve --http as a resource server', () => {
  let as;
  let th;
  let servers;
  const open = [];  // connected SDK clients, closed at the end
  before(async () => {
    as = await startAuthorizationServer();
    th = await startToolhost(as);
    servers = new Map([[th.base, 'toolhost'], [as.issuer, 'as']]);
  });
  after(async () => {
    for (const c of open) await c.close().catch(() => {});
    if (th && th.server.exitCode === null && th.server.signalCode === null) th.server.kill('SIGKILL');
    if (th) fs.writeFileSync(path.join(work, 'http.log'), th.stderr);
    if (as) {
      fs.writeFileSync(path.join(work, 'as.log'), as.requests.entries.map((e) => `${JSON.stringify(e)}\n`).join(''));
      await as.close();
    }
  });

  // An SDK client with ClientCredentialsProvider for `clientId`, asking for `scope`; not connected.
  function sdkClient(clientId, scope) {
    const log = new Recorder();
    const provider = new ClientCredentialsProvider({
      clientId,
      clientSecret: clients[clientId].secret,
      scope,
      expectedIssuer: as.issuer,
    });
    const transport = new StreamableHTTPClientTransport(new URL(`${th.base}/mcp`), {
      authProvider: provider,
      fetch: recordingFetch(log, servers),
    });
    const client = new Client({ name: `toolhost-oauth-test-${clientId}`, version: '1.0.0' });
    const sdkErrors = [];
    client.onerror = (e) => { sdkErrors.push(String(e?.message ?? e)); };
    return { client, transport, provider, log, sdkErrors };
  }

  // Connects, and waits for the GET of the session's stream that connect() starts without
  // awaiting it, so that c.log holds everything of the connection.
  async function connect(c) {
    await c.client.connect(c.transport);
    open.push(c.client);
    await c.log.next('the GET of the session stream', (e) => e.method === 'GET' && e.path === '/mcp');
  }

  const metadataUrl = () => `${th.base}/.well-known/oauth-protected-resource/mcp`;

  test('toolhost started with the keys of the authorization server', () => {
    // It fetched the JWK Set before serving (a key set it cannot read stops the start).
    const jwks = as.requests.entries.filter((r) => r.path === '/jwks.json').slice(th.jwksBefore);
    assert.equal(jwks.length, 1, JSON.stringify(as.requests.entries));
    assert.equal(jwks[0].userAgent, 'toolhost');
  });

  test('RFC 9728 metadata, and a 401 that points to it', async () => {
    for (const p of ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']) {
      const r = await fetch(`${th.base}${p}`);
      assert.equal(r.status, 200, p);
      const meta = await r.json();
      assert.equal(meta.resource, as.resource);
      assert.deepEqual(meta.authorization_servers, [as.issuer]);
      assert.deepEqual([...meta.scopes_supported].sort(), ['echo:call', 'log:write', 'tools']);
      assert.deepEqual(meta.bearer_methods_supported, ['header']);
    }
    const r = await fetch(`${th.base}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
    });
    await r.body?.cancel();
    assert.equal(r.status, 401);
    assert.equal(r.headers.get('www-authenticate'), `Bearer resource_metadata="${metadataUrl()}", scope="tools"`);
  });

  test('discovery: 401, resource metadata, AS metadata, token, initialize again; tools/list and calls', async () => {
    const c = sdkClient('agent-echo', 'tools echo:call');
    const tokensBefore = as.tokenRequests.entries.length;
    await connect(c);

    // The requests in the order the SDK made them (each once its answer came).
    assert.deepEqual(c.log.entries.map(short), [
      'toolhost POST /mcp initialize -> 401',
      'toolhost GET /.well-known/oauth-protected-resource/mcp -> 200',
      'as GET /.well-known/oauth-authorization-server -> 200',
      'as POST /token -> 200',
      'toolhost POST /mcp initialize +token -> 200',
      'toolhost POST /mcp notifications/initialized +token -> 202',
      'toolhost GET /mcp +token -> 200',
    ]);
    assert.equal(c.log.entries[0].wwwAuthenticate, `Bearer resource_metadata="${metadataUrl()}", scope="tools"`);

    // What the authorization server was asked: client_credentials for toolhost's resource
    // (RFC 8707), the client's scopes, HTTP Basic client authentication.
    const tokenRequests = as.tokenRequests.entries.slice(tokensBefore);
    assert.equal(tokenRequests.length, 1, JSON.stringify(tokenRequests));
    assert.deepEqual(tokenRequests[0], {
      params: { grant_type: 'client_credentials', scope: 'tools echo:call', resource: as.resource },
      client: 'agent-echo',
      auth: 'client_secret_basic',
      status: 200,
      scope: 'tools echo:call',
    });
    // The token the SDK then sent is the one issued.
    const claims = claimsOf(c.log.entries[4].token);
    assert.equal(claims.aud, as.resource);
    assert.equal(claims.iss, as.issuer);
    assert.equal(claims.client_id, 'agent-echo');
    assert.equal(claims.scope, 'tools echo:call');
    assert.equal(c.provider.tokens().access_token, c.log.entries[4].token);

    const tools = (await c.client.listTools()).tools.map((t) => t.name);
    for (const n of ['echo_echo', 'testkit_mt_stats', 'testkit_mt_log']) {
      assert.ok(tools.includes(n), `${n} in ${tools}`);
    }
    const r = await c.client.callTool({ name: 'echo_echo', arguments: { hello: 'oauth' } });
    assert.ok(!r.isError, JSON.stringify(r));
    assert.deepEqual(r.structuredContent, { hello: 'oauth' });
    const s = await c.client.callTool({ name: 'testkit_mt_stats', arguments: {} });
    assert.ok(!s.isError, JSON.stringify(s));
    // One token for all of it.
    assert.equal(as.tokenRequests.entries.length, tokensBefore + 1);
    assert.deepEqual(c.sdkErrors, []);
  });

  test('an operation\'s scope: testkit_mt_log needs log:write, which agent-echo lacks', async () => {
    const c = sdkClient('agent-echo', 'tools echo:call');
    await connect(c);
    c.log.entries.length = 0;
    const tokensBefore = as.tokenRequests.entries.length;
    await assert.rejects(c.client.callTool({ name: 'testkit_mt_log', arguments: { level: 'info', message: 'x' } }),
      (e) => {
        assert.ok(e instanceof StreamableHTTPError, String(e));
        assert.equal(e.code, 403);
        assert.match(e.message, /Server returned 403 after trying upscoping/);
        return true;
      });
    const first = c.log.entries[0];
    assert.equal(short(first), 'toolhost POST /mcp tools/call +token -> 403');
    // The scopes to ask for: what the token has and what the call needs.
    assert.equal(first.wwwAuthenticate, `Bearer error="insufficient_scope", scope="echo:call tools log:write", `
      + `resource_metadata="${metadataUrl()}", error_description="calling testkit_mt.log needs the scope log:write"`);
    // The SDK tried to step up once: a new token (asking again for its configured scope), then
    // the same 403.
    const tokenRequests = as.tokenRequests.entries.slice(tokensBefore);
    assert.equal(tokenRequests.length, 1, JSON.stringify(tokenRequests));
    assert.equal(tokenRequests[0].params.scope, 'tools echo:call');
    assert.equal(c.log.entries.at(-1).wwwAuthenticate, first.wwwAuthenticate);
    // The session goes on.
    const r = await c.client.callTool({ name: 'echo_echo', arguments: { after: 'denied' } });
    assert.deepEqual(r.structuredContent, { after: 'denied' });
  });

  test('a token without echo:call: echo_echo is refused with 403, the rest works', async () => {
    const c = sdkClient('agent-basic', 'tools');
    await connect(c);
    const tokenRequests = as.tokenRequests.entries.filter((t) => t.client === 'agent-basic');
    assert.equal(tokenRequests.length, 1);
    assert.equal(tokenRequests[0].scope, 'tools');
    assert.ok((await c.client.listTools()).tools.some((t) => t.name === 'echo_echo'), 'tools/list needs only "tools"');
    const s = await c.client.callTool({ name: 'testkit_mt_stats', arguments: {} });
    assert.ok(!s.isError, JSON.stringify(s));

    c.log.entries.length = 0;
    await assert.rejects(c.client.callTool({ name: 'echo_echo', arguments: { a: 1 } }), (e) => {
      assert.ok(e instanceof StreamableHTTPError, String(e));
      assert.equal(e.code, 403);
      assert.match(e.message, /Server returned 403 after trying upscoping/);
      return true;
    });
    // 403, the SDK discovers again and gets a new token (still "tools": the challenge's scope is
    // not what a client_credentials provider asks for), the call again, the same 403.
    assert.deepEqual(c.log.entries.map(short), [
      'toolhost POST /mcp tools/call +token -> 403',
      'toolhost GET /.well-known/oauth-protected-resource/mcp -> 200',
      'as GET /.well-known/oauth-authorization-server -> 200',
      'as POST /token -> 200',
      'toolhost POST /mcp tools/call +token -> 403',
    ]);
    assert.equal(c.log.entries[0].wwwAuthenticate, `Bearer error="insufficient_scope", scope="tools echo:call", `
      + `resource_metadata="${metadataUrl()}", error_description="calling echo.echo needs the scope echo:call"`);
    const again = as.tokenRequests.entries.filter((t) => t.client === 'agent-basic');
    assert.equal(again.length, 2);
    assert.equal(again[1].params.scope, 'tools');
    assert.equal(again[1].params.resource, as.resource);
    assert.notEqual(c.log.entries[4].token, c.log.entries[0].token, 'the second try has the new token');

    // Other calls still work on the same session, with the new token.
    const s2 = await c.client.callTool({ name: 'testkit_mt_stats', arguments: {} });
    assert.ok(!s2.isError, JSON.stringify(s2));
    // The same tool over REST with the same token: the same 403.
    const rest = await fetch(`${th.base}/v1/tools/echo/echo`, {
      method: 'POST',
      headers: { authorization: `Bearer ${c.provider.tokens().access_token}`, 'content-type': 'application/json' },
      body: '{}',
    });
    await rest.body?.cancel();
    assert.equal(rest.status, 403);
    assert.match(rest.headers.get('www-authenticate'), /error="insufficient_scope"/);
    // The refusals are in the server's log (info), naming the client and the tool.
    const refusal = await until('the refusal in the log', () => th.stderr.split('\n').find(
      (l) => l.includes('call refused') && l.includes('oauth:agent-basic') && l.includes('echo')));
    assert.match(refusal, /needs the scope echo:call/);
  });

  test('a token signed by a key not in the JWK Set: 401, and the SDK gives up after one new token', async () => {
    const c = sdkClient('agent-rogue', 'tools echo:call');
    await assert.rejects(c.client.connect(c.transport), (e) => {
      assert.ok(e instanceof StreamableHTTPError, String(e));
      assert.equal(e.code, 401);
      assert.match(e.message, /Server returned 401 after successful authentication/);
      return true;
    });
    assert.deepEqual(c.log.entries.map(short), [
      'toolhost POST /mcp initialize -> 401',
      'toolhost GET /.well-known/oauth-protected-resource/mcp -> 200',
      'as GET /.well-known/oauth-authorization-server -> 200',
      'as POST /token -> 200',
      'toolhost POST /mcp initialize +token -> 401',
    ]);
    assert.equal(c.log.entries[4].wwwAuthenticate, `Bearer resource_metadata="${metadataUrl()}", scope="tools", `
      + 'error="invalid_token", error_description="the token\'s signature does not verify"');
    assert.equal(claimsOf(c.log.entries[4].token).aud, as.resource, 'a token fine in every other way');
  });

  test('a token naming an unknown kid: 401, and toolhost fetches the keys again', async () => {
    const jwt = as.issue({ sub: 'agent-echo', client_id: 'agent-echo', scope: 'tools echo:call' },
      { privateKey: as.stranger.privateKey, keyId: 'as-key-2' });
    const refetched = as.requests.next('toolhost to fetch the keys again', (r) => r.path === '/jwks.json',
      as.requests.entries.length);
    const r = await fetch(`${th.base}/v1/tools`, { headers: { authorization: `Bearer ${jwt}` } });
    await r.body?.cancel();
    assert.equal(r.status, 401);
    const challenge = r.headers.get('www-authenticate');
    assert.ok(challenge.startsWith(`Bearer resource_metadata="${metadataUrl()}", scope="tools", `
      + 'error="invalid_token", error_description="no ES256 key with kid '), challenge);
    const got = await refetched;
    assert.equal(got.userAgent, 'toolhost');
  });

  test('a token for another audience: 401', async () => {
    const jwt = as.issue({ aud: 'http://127.0.0.1:1/mcp', sub: 'agent-echo', scope: 'tools echo:call' });
    const r = await fetch(`${th.base}/v1/tools`, { headers: { authorization: `Bearer ${jwt}` } });
    await r.body?.cancel();
    assert.equal(r.status, 401);
    assert.match(r.headers.get('www-authenticate'),
      /error="invalid_token", error_description="the token is not meant for this resource/);
  });

  test('SIGTERM: the server exits with status 0', async () => {
    for (const c of open.splice(0)) await c.close();
    th.server.kill('SIGTERM');
    const { code, signal } = await Promise.race([
      th.exited,
      sleep(30000).then(() => ({ code: 'none', signal: 'still running 30 s after SIGTERM' })),
    ]);
    assert.equal(signal, null, `stderr:\n${th.stderr}`);
    assert.equal(code, 0, `stderr:\n${th.stderr}`);
  });
});
