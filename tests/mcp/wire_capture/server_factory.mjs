// Shared McpServer factory for the wire-capture scripts (HTTP and stdio).
// Built only from the public API of @modelcontextprotocol/server 2.x.
import {
    McpServer,
    ResourceTemplate,
    completable,
    createRequestStateCodec,
    inputRequired,
    inputResponse
} from '@modelcontextprotocol/server';
// The v2 SDK wants Standard Schema + JSON Schema (zod v4); the top-level zod in
// tests/mcp is 3.25 (for the v1 SDK), so use the copy the v2 server package ships.
import * as z from '../node_modules/@modelcontextprotocol/server/node_modules/zod/index.js';

// Fixed key so every per-request server instance (HTTP) can verify state minted
// by an earlier instance.
const codec = createRequestStateCodec({ key: 'wire-capture-fixed-hmac-key-0123456789abcdef', ttlSeconds: 600 });

/** state.extraTool: when true, an extra tool `added` is registered (used to trigger tools list_changed). */
export function makeServer(state = {}) {
    const server = new McpServer(
        { name: 'wire-capture-server', version: '1.0.0' },
        {
            capabilities: { tools: { listChanged: true }, resources: { listChanged: true }, prompts: { listChanged: true }, completions: {} },
            instructions: 'Wire capture test server.',
            requestState: { verify: codec.verify }
        }
    );

    server.registerTool(
        'echo',
        { description: 'Echo the text back', inputSchema: z.object({ text: z.string() }) },
        async ({ text }) => ({ content: [{ type: 'text', text }] })
    );

    server.registerTool(
        'ask',
        { description: 'Ask the user for their name via elicitation (input_required round trip)', inputSchema: z.object({}) },
        async (_args, ctx) => {
            const r = inputResponse(ctx.mcpReq.inputResponses, 'user_name');
            if (r.kind === 'elicit' && r.action === 'accept') {
                const st = ctx.mcpReq.requestState();
                return {
                    content: [{ type: 'text', text: `Hello, ${r.content?.name}! (state=${JSON.stringify(st)})` }]
                };
            }
            return inputRequired({
                inputRequests: {
                    user_name: inputRequired.elicit({
                        message: 'What is your name?',
                        requestedSchema: {
                            type: 'object',
                            properties: { name: { type: 'string', description: 'Your name' } },
                            required: ['name']
                        }
                    })
                },
                requestState: await codec.mint({ step: 'asked-name' })
            });
        }
    );

    server.registerTool(
        'slow',
        { description: 'Sends 3 progress notifications then returns', inputSchema: z.object({}) },
        async (_args, ctx) => {
            const token = ctx.mcpReq._meta?.progressToken;
            for (let i = 1; i <= 3; i++) {
                if (token !== undefined) {
                    await ctx.mcpReq.notify({
                        method: 'notifications/progress',
                        params: { progressToken: token, progress: i, total: 3, message: `step ${i}` }
                    });
                }
                await new Promise(r => setTimeout(r, 30));
            }
            return { content: [{ type: 'text', text: 'slow done' }] };
        }
    );

    if (state.extraTool) {
        server.registerTool(
            'added',
            { description: 'Tool added at runtime', inputSchema: z.object({}) },
            async () => ({ content: [{ type: 'text', text: 'added' }] })
        );
    }

    server.registerResource(
        'readme',
        'file:///readme.txt',
        { title: 'Readme', description: 'A static text resource', mimeType: 'text/plain' },
        async uri => ({ contents: [{ uri: uri.href, mimeType: 'text/plain', text: 'Hello from readme' }] })
    );

    server.registerResource(
        'greeting',
        new ResourceTemplate('greeting://{name}', {
            list: undefined,
            complete: { name: v => ['alice', 'bob', 'carol'].filter(n => n.startsWith(v)) }
        }),
        { title: 'Greeting', description: 'A templated greeting resource', mimeType: 'text/plain' },
        async (uri, { name }) => ({ contents: [{ uri: uri.href, mimeType: 'text/plain', text: `Hello, ${name}!` }] })
    );

    server.registerPrompt(
        'greet',
        {
            title: 'Greet',
            description: 'Greet someone by language',
            argsSchema: z.object({
                language: completable(z.string().describe('Language to greet in'), v =>
                    ['english', 'french', 'german', 'spanish'].filter(l => l.startsWith(v))
                )
            })
        },
        ({ language }) => ({
            description: 'A greeting prompt',
            messages: [{ role: 'user', content: { type: 'text', text: `Say hello in ${language}.` } }]
        })
    );

    return server;
}
