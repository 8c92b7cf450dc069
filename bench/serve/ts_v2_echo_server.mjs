// The 2026-07-28 reference point of the MCP benchmark (bench/serve/run.sh): the official
// TypeScript SDK v2's own stateless handler, createMcpHandler from @modelcontextprotocol/server,
// with a per-request McpServer serving one tool "echo_echo" with the same input and output as
// toolhost's bundled echo plugin (any object in, the same object out as structuredContent and as
// JSON text). Its handler is web-standard (Request -> Response); plain node:http carries it here
// (what @modelcontextprotocol/node's toNodeHandler does: the request's bytes in, the response's
// status, headers and body stream out).
//
//   node ts_v2_echo_server.mjs [--port N] [--node-modules DIR]
//
// Listens on 127.0.0.1 (port 0: any free one) and prints "listening <port>" on stdout when ready.
// Run it with Node.js 22 from tests/mcp/node_modules (node_modules/.bin/node).
import http from 'node:http';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const here = path.dirname(fileURLToPath(import.meta.url));
const modules = path.resolve(option('--node-modules', path.join(here, '../../tests/mcp/node_modules')));
const port = Number(option('--port', '0'));

const load = (p) => import(pathToFileURL(path.join(modules, p)).href);
const { McpServer, createMcpHandler } = await load('@modelcontextprotocol/server/dist/index.mjs');
const { z } = await load('zod/index.js');

const handler = createMcpHandler(() => {
  const server = new McpServer({ name: 'ts-v2-echo', version: '1.0.0' });
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
});

const httpServer = http.createServer(async (req, res) => {
  try {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    const request = new Request(`http://${req.headers.host}${req.url}`, {
      method: req.method, headers, body: hasBody ? Buffer.concat(chunks) : undefined,
    });
    const response = await handler.fetch(request);
    res.writeHead(response.status, Object.fromEntries(response.headers));
    if (response.body) Readable.fromWeb(response.body).pipe(res);
    else res.end();
  } catch (e) {
    res.writeHead(500, { 'Content-Type': 'text/plain' });
    res.end(String(e?.stack ?? e));
  }
});
httpServer.keepAliveTimeout = 60000;
httpServer.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening ${httpServer.address().port}\n`);
});

const stop = () => {
  httpServer.close(() => process.exit(0));
  httpServer.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
