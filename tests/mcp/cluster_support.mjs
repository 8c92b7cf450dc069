// What the multi-host test (cluster.test.mjs) and the nginx case of sdk_v2.test.mjs start, with
// Debian's own packages: a throwaway
// PostgreSQL cluster (initdb + pg_ctl in a folder of the test's, as the unprivileged `postgres`
// user when the test runs as root), `toolhost serve` processes on fixed loopback ports, and nginx
// (`nginx -p DIR`) with conf/nginx/toolhost-cluster.conf in front. Everything they write stays in
// the test's work folder.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

import { until } from './sdk_test_support.mjs';

export async function freePort() {
  const probe = net.createServer();
  await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

async function accepts(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

// Debian's server binaries (postgresql-15), or why there are none.
function postgresBindir() {
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) {
    const dir = path.join(root, v, 'bin');
    if (['initdb', 'pg_ctl', 'psql'].every((f) => fs.existsSync(path.join(dir, f)))) return dir;
  }
  return null;
}

// Why no cluster can be started here (the test is skipped then), or null.
export function postgresUnavailable() {
  if (!postgresBindir()) return 'no PostgreSQL server binaries under /usr/lib/postgresql (scripts/setup-deps.sh installs postgresql)';
  if (process.getuid() === 0) {
    const r = spawnSync('id', ['-u', 'postgres']);
    if (r.status !== 0) return 'running as root and there is no `postgres` user to run the server as';
  }
  return null;
}

const asServerUser = (argv) => (process.getuid() === 0 ? ['runuser', '-u', 'postgres', '--', ...argv] : argv);

function run(argv, what) {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${what} failed (${r.status}): ${r.stdout}${r.stderr}`);
  return r.stdout;
}

// A PostgreSQL cluster in `dir`: {url(db), psql(sql, db), stop() (immediate: as a crash), start(),
// destroy()}. `settings`: more postgresql.conf lines, e.g. {fsync: 'off'}.
export async function startPostgres(dir, settings = {}) {
  const bin = postgresBindir();
  fs.mkdirSync(dir, { recursive: true });
  if (process.getuid() === 0) run(['chown', 'postgres:postgres', dir], 'chown');
  const data = path.join(dir, 'data');
  run(asServerUser([path.join(bin, 'initdb'), '-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8',
    '--locale=C.UTF-8', '--no-sync']), 'initdb');
  // Loopback only. fsync stays on: this test kills processes, not the machine, so it would not
  // show what fsync protects; it does show the cost of a real commit.
  fs.appendFileSync(path.join(data, 'postgresql.conf'),
    `\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '${dir}'\nmax_connections = 200\n` +
    Object.entries(settings).map(([k, v]) => `${k} = ${v}\n`).join(''));
  const port = await freePort();
  const ctl = (args) => run(asServerUser([path.join(bin, 'pg_ctl'), '-D', data, ...args]), `pg_ctl ${args.at(-1)}`);
  const start = () => ctl(['-l', path.join(dir, 'server.log'), '-o', `-p ${port}`, '-w', '-t', '60', 'start']);
  start();
  const url = (db = 'postgres') => `postgresql://postgres@127.0.0.1:${port}/${db}`;
  const psql = (sql, db = 'postgres') =>
    run([path.join(bin, 'psql'), '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-d', url(db), '-c', sql], 'psql').trim();
  let running = true;
  return {
    port,
    url,
    psql,
    stop: () => { if (running) { ctl(['-m', 'immediate', '-w', 'stop']); running = false; } },
    start: () => { if (!running) { start(); running = true; } },
    destroy: () => {
      try { if (running) ctl(['-m', 'immediate', '-w', 'stop']); } catch { /* already gone */ }
      running = false;
    },
  };
}

// `toolhost serve --http 127.0.0.1:PORT ARGS...` with `env`; {port, base, stderr(), kill(signal),
// exited, stop()}, once it accepts connections.
export async function startHost(toolhost, args, { port, env, cwd, logFile }) {
  const child = spawn(toolhost, ['serve', '--http', `127.0.0.1:${port}`, ...args], { cwd, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let gone = null;
  exited.then((s) => {
    gone = s;
    fs.appendFileSync(logFile, stderr);
    stderr = '';
  });
  await until(`toolhost on port ${port}`, async () => {
    if (gone) throw new Error(`toolhost serve on ${port} exited (${JSON.stringify(gone)}):\n${fs.readFileSync(logFile, 'utf8')}`);
    return accepts(port);
  });
  return {
    port,
    base: `http://127.0.0.1:${port}`,
    // What this host and its earlier runs (same log file) wrote so far.
    stderr: () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '') + stderr,
    exited,
    kill: (signal) => child.kill(signal),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

// conf/nginx/toolhost-cluster.conf (`confFile`) with the example's addresses replaced:
// 127.0.0.1:8080 by `port`, 127.0.0.1:8081.. by the hosts' ports. Two hosts given the same port
// are one server: each upstream keeps its first line for an address.
export function clusterConf(confFile, port, hostPorts) {
  let conf = fs.readFileSync(confFile, 'utf8').replaceAll('127.0.0.1:8080', `127.0.0.1:${port}`);
  hostPorts.forEach((p, i) => { conf = conf.replaceAll(`127.0.0.1:${8081 + i}`, `127.0.0.1:${p}`); });
  let seen = new Set();
  return conf.split('\n').filter((line) => {
    if (/^\s*upstream /.test(line)) seen = new Set();
    const server = line.match(/^\s*server (\S+?)[ ;]/);
    if (!server) return true;
    if (seen.has(server[1])) return false;
    seen.add(server[1]);
    return true;
  }).join('\n');
}

// Debian's nginx in `dir`, unprivileged: as this user, or as `nobody` when the test runs as root
// (then `dir` is given to nobody), with `httpConf` inside its `http { }` block (which must listen
// on 127.0.0.1:`port`); everything it writes stays in `dir`. {base, errorLog(), stop()}.
export async function startNginx(dir, httpConf, port) {
  fs.mkdirSync(dir, { recursive: true });
  const asRoot = process.getuid() === 0;
  if (asRoot) run(['chown', 'nobody', dir], 'chown');
  fs.writeFileSync(path.join(dir, 'site.conf'), httpConf);
  fs.writeFileSync(path.join(dir, 'nginx.conf'), `
daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
    access_log ${dir}/access.log;
    client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
    include ${dir}/site.conf;
}
`);
  const nginx = '/usr/sbin/nginx';
  if (!fs.existsSync(nginx)) throw new Error(`${nginx} is missing: scripts/setup-deps.sh installs nginx-light`);
  const argv = [nginx, '-p', dir, '-e', path.join(dir, 'error.log'), '-c', path.join(dir, 'nginx.conf')];
  const command = asRoot ? ['runuser', '-u', 'nobody', '--', ...argv] : argv;
  const child = spawn(command[0], command.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const errorLog = () => { try { return fs.readFileSync(path.join(dir, 'error.log'), 'utf8'); } catch { return ''; } };
  await until('nginx to listen', async () => {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}: ${stderr}\n${errorLog()}`);
    return accepts(port);
  });
  return {
    base: `http://127.0.0.1:${port}`,
    errorLog,
    // The master, found by its pid file (under runuser, `child` is runuser), stops at once with
    // its worker on SIGTERM.
    stop: () => {
      try { process.kill(Number(fs.readFileSync(path.join(dir, 'nginx.pid'), 'utf8')), 'SIGTERM'); } catch { /* gone */ }
    },
  };
}
