// Several hosts behind nginx (issue 18, docs/deployment.md): calls per second and p50/p99 through
// nginx (conf/nginx/toolhost-cluster.conf) to 1, 2 and 3 `toolhost serve` hosts sharing one
// throwaway PostgreSQL cluster, with the same load generator as bench/serve/run.sh (wrk +
// tools_call.lua, 2026-07-28 stateless requests, so that nginx spreads every request). Two
// workloads: echo_echo (no state: what serving and balancing cost) and memory_store (a write to
// the shared database per call).
//
//   tests/mcp/node_modules/.bin/node bench/serve/cluster.mjs [TOOLHOST_EXE [PLUGIN_DIR]]
//
// Builds nothing. Defaults: build/release/bin/toolhost and build/release/lib/toolhost/plugins.
// Environment: DURATION (wrk seconds per case, 10), CLIENTS (connections, 50), WRK_THREADS (1),
// WORK (scratch folder; default a new temporary one, removed unless KEEP=1). Needs wrk, nginx
// and PostgreSQL's server binaries (scripts/setup-deps.sh). Prints a table and one line per case
// (CLUSTERBENCH {...}); exit 1 when a response was not a 200 with a result.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { clusterConf, freePort, postgresUnavailable, startHost, startNginx, startPostgres } from '../../tests/mcp/cluster_support.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const toolhost = process.argv[2] ?? path.join(root, 'build/release/bin/toolhost');
const plugins = process.argv[3] ?? path.join(root, 'build/release/lib/toolhost/plugins');
const duration = Number(process.env.DURATION ?? 10);
const clients = Number(process.env.CLIENTS ?? 50);
const wrkThreads = Number(process.env.WRK_THREADS ?? 1);

for (const f of [toolhost, path.join(plugins, 'memory.so'), path.join(plugins, 'echo.so')])
  if (!fs.existsSync(f)) { console.error(`cluster.mjs: ${f} does not exist (build toolhost, echo, memory)`); process.exit(2); }
if (spawnSync('wrk', ['--version']).error) { console.error('cluster.mjs: wrk is not installed (scripts/setup-deps.sh)'); process.exit(2); }
const why = postgresUnavailable();
if (why) { console.error(`cluster.mjs: ${why}`); process.exit(2); }

const work = process.env.WORK ?? fs.mkdtempSync(path.join(os.tmpdir(), 'toolhost-cluster-bench-'));
fs.rmSync(work, { recursive: true, force: true });
fs.mkdirSync(path.join(work, 'plugins'), { recursive: true });
for (const t of ['echo', 'memory']) fs.symlinkSync(path.resolve(plugins, `${t}.so`), path.join(work, 'plugins', `${t}.so`));
const config = path.join(work, 'config.json');
fs.writeFileSync(config, JSON.stringify({
  plugin_dirs: [],
  data_dir: path.join(work, 'data'),
  log_level: process.env.LOG_LEVEL ?? 'warning',
  tools_enabled_by_default: false,
  tools: { echo: { enabled: true }, memory: { enabled: true, config: { sample_data: false } } },
}));

const pg = await startPostgres(path.join(work, 'postgres'), process.env.PG_FSYNC === 'off' ? { fsync: 'off' } : {});
pg.psql('CREATE DATABASE toolhost');
const env = { ...process.env, TOOLHOST_DATABASE_URL: pg.url('toolhost') };
const ports = [await freePort(), await freePort(), await freePort()];
const hosts = [];
const results = [];
let balancer;
let failed = false;

const workloads = [
  { name: 'echo_echo', tool: 'echo_echo', args: '{"message":"hello","n":42}' },
  { name: 'memory_store', tool: 'memory_store', args: '{"session_id":"bench","content":"the customer asked about the invoice of March"}' },
];

try {
  for (let n = 1; n <= 3; ++n) {
    // One more host; nginx in front of the first n (the absent ones' addresses point at present
    // ones, and startNginx keeps one server line per address in each upstream).
    hosts.push(await startHost(toolhost, ['--config', config, '--no-default-plugins', '--plugin-dir', path.join(work, 'plugins')],
      { port: ports[n - 1], cwd: work, env: { ...env, TOOLHOST_NODE_ID: `host${n}` }, logFile: path.join(work, `host${n}.log`) }));
    balancer?.stop();
    const upstreams = [0, 1, 2].map((i) => ports[Math.min(i, n - 1)]);
    const port = await freePort();
    balancer = await startNginx(path.join(work, `nginx-${n}`),
      clusterConf(path.join(root, 'conf/nginx/toolhost-cluster.conf'), port, upstreams), port);
    for (const w of workloads) {
      const r = spawnSync('wrk', [`-t${wrkThreads}`, `-c${clients}`, `-d${duration}s`, '--timeout', '10s', '--latency',
        '-s', path.join(here, 'tools_call.lua'), `${balancer.base}/mcp`],
      { env: { ...process.env, MCP_ERA: '2026-07-28', MCP_TOOL: w.tool, MCP_ARGUMENTS: w.args }, encoding: 'utf8' });
      const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith('MCPBENCH '));
      if (!line) throw new Error(`wrk gave no result: ${r.stdout}${r.stderr}`);
      const m = JSON.parse(line.slice('MCPBENCH '.length));
      const row = { hosts: n, workload: w.name, clients, rps: m.rps, p50_us: m.p50_us, p99_us: m.p99_us,
        non200: m.non200, bad: m.bad, socket_errors: m.socket_errors };
      if (m.non200 || m.bad || m.socket_errors) { failed = true; row.first_bad = m.first_bad; }
      results.push(row);
      console.log(`CLUSTERBENCH ${JSON.stringify(row)}`);
    }
  }
} finally {
  balancer?.stop();
  await Promise.all(hosts.map((h) => h.stop()));
  pg.destroy();
  if (!process.env.WORK && process.env.KEEP !== '1') fs.rmSync(work, { recursive: true, force: true });
}

console.log(`\n| hosts | workload | calls/s | p50 ms | p99 ms |\n|---|---|---|---|---|`);
for (const r of results)
  console.log(`| ${r.hosts} | ${r.workload} | ${Math.round(r.rps)} | ${(r.p50_us / 1000).toFixed(2)} | ${(r.p99_us / 1000).toFixed(2)} |`);
process.exit(failed ? 1 : 0);
