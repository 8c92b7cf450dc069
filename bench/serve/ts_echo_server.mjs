// The reference point of the MCP benchmark (bench/serve/run.sh): the official TypeScript SDK's
// Streamable HTTP server (McpServer + StreamableHTTPServerTransport on node:http), serving one
// tool "echo_echo" with the same input and output as toolhost's bundled echo plugin
// (plugins/echo: any object in, the same object out as structuredContent and as JSON text).
// Stateful sessions, like `toolhost serve --http`: one McpServer and transport per session.
//
//   node ts_echo_server.mjs [--port N] [--json] [--node-modules DIR]
//
// --json sets enableJsonResponse (responses as application/json instead of an SSE stream).
// Listens on 127.0.0.1 (port 0: any free one) and prints "listening <port>" on stdout when
// ready. The SDK comes from tests/mcp/node_modules (package-lock.json) unless --node-modules
// says otherwise; run it with Node.js 22 from there (node_modules/.bin/node).
import http from 'node:http';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath, pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const here = path.dirname(fileURLToPath(import.meta.url));
const modules = path.resolve(option('--node-modules', path.join(here, '../../tests/mcp/node_modules')));
const port = Number(option('--port', '0'));
const jsonResponse = args.includes('--json');

// The npm packages live in tests/mcp/node_modules, not next to this file: import them by path.
const load = (p) => import(pathToFileURL(path.join(modules, p)).href);
const { McpServer } = await load('@modelcontextprotocol/sdk/dist/esm/server/mcp.js');
const { StreamableHTTPServerTransport } = await load('@modelcontextprotocol/sdk/dist/esm/server/streamableHttp.js');
const { isInitializeRequest } = await load('@modelcontextprotocol/sdk/dist/esm/types.js');
const { z } = await load('zod/index.js');

function makeServer() {
  const server = new McpServer({ name: 'ts-echo', version: '1.0.0' });
  // plugins/echo: input {"type":"object"}, output {"type":"object"}, idempotent + read-only.
  const anyObject = z.object({}).passthrough();
  server.registerTool('echo_echo', {
    title: 'echo echo',
    description: 'Returns the arguments object exactly as it was given.',
    inputSchema: anyObject,
    outputSchema: anyObject,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  }, async (input) => ({
    content: [{ type: 'text', text: JSON.stringify(input) }],
    structuredContent: input,
  }));
  return server;
}

const sessions = new Map();  // session id -> transport

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function fail(res, status, message) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32000, message } }));
}

const httpServer = http.createServer(async (req, res) => {
  try {
    if (new URL(req.url, 'http://x').pathname !== '/mcp') return fail(res, 404, 'not found');
    const sid = req.headers['mcp-session-id'];
    if (req.method === 'POST') {
      let body;
      try {
        body = JSON.parse(await readBody(req));
      } catch {
        return fail(res, 400, 'parse error');
      }
      let transport = sid ? sessions.get(sid) : undefined;
      if (!transport) {
        if (sid || !isInitializeRequest(body)) return fail(res, sid ? 404 : 400, 'no valid session');
        transport = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          enableJsonResponse: jsonResponse,
          onsessioninitialized: (id) => { sessions.set(id, transport); },
        });
        transport.onclose = () => { if (transport.sessionId) sessions.delete(transport.sessionId); };
        await makeServer().connect(transport);
      }
      return await transport.handleRequest(req, res, body);
    }
    if (req.method === 'GET' || req.method === 'DELETE') {
      const transport = sid ? sessions.get(sid) : undefined;
      if (!transport) return fail(res, sid ? 404 : 400, 'no valid session');
      return await transport.handleRequest(req, res);
    }
    res.writeHead(405, { allow: 'GET, POST, DELETE' }).end();
  } catch (e) {
    if (!res.headersSent) fail(res, 500, String(e?.message ?? e));
    else res.end();
  }
});
httpServer.keepAliveTimeout = 60000;

httpServer.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening ${httpServer.address().port}\n`);
});

const stop = () => {
  for (const t of sessions.values()) t.close().catch(() => {});
  httpServer.close(() => process.exit(0));
  httpServer.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
