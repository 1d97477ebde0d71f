// Load: 50 concurrent pty shells streaming output plus 16 API writers, for 60 s, against one daemon.
// Reports API latency p50/p99 under that load against the same 16 writers alone (the baseline,
// measured in this run on the same daemon), errors (must be zero), and the daemon's RSS at the
// start, its peak, and at the end (all shells closed, sessions terminated).
//   npx tsx bench/load.ts            the 60 s run, printed as a table
//   ONMEMOS_LOAD_SECONDS=N           a shorter or longer load phase
// test/integration/hardening-load.test.ts runs a shorter one and asserts on errors and RSS.
import { Agent, request } from 'node:http';
import { startDaemon, newUser, removeHome, type RunningDaemon } from '../test/helpers/daemon';
import { openWs, type Shell } from '../test/helpers/ws';
import { PTY_SUBPROTOCOL } from '../daemon/client';
import { printTable, quantile, type Row, rssOf } from './lib';

export interface LoadOptions {
  shells?: number;
  writers?: number;
  seconds?: number;
  baselineSeconds?: number;
  sessions?: number;
}

export interface LoadResult {
  shells: number;
  writers: number;
  seconds: number;
  baselineSeconds: number;
  baseline: { p50: number; p99: number; writes: number; errors: string[] };
  load: { p50: number; p99: number; writes: number; errors: string[] };
  shellErrors: string[];
  /** bytes each shell received while streaming */
  shellBytes: number[];
  /** lines each shell was expected to print at least (80% of the schedule) */
  expectedTicks: number;
  ticks: number[];
  rss: { start: number; peak: number; end: number };
}


/** A lean keep-alive client (an SDK session), so the client is not what is measured. */
function client(base: string, key: string) {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const u = new URL(base);
  return (method: string, path: string, body?: unknown) => new Promise<{ status: number; json: any }>((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = request({ host: u.hostname, port: u.port, path, method, agent,
      headers: { 'x-api-key': key, ...(data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try { resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : undefined }); } catch (e) { reject(e); }
      });
    });
    req.setTimeout(30_000, () => req.destroy(new Error('no answer in 30 s')));
    req.on('error', reject);
    req.end(data);
  });
}

/**
 * `writers` loops of durable API writes until `until`: each iteration creates a user (admin), renames
 * it (admin), and patches a vault (public). Every call's latency is kept; any non-2xx is an error.
 */
async function writers(d: RunningDaemon, passport: string, vaultId: string, n: number, until: number, tag: string) {
  const admin = client(d.adminUrl, d.adminKey);
  const pub = client(d.publicUrl, passport);
  const lat: number[] = [];
  const errors: string[] = [];
  let writes = 0;
  const timed = async (what: string, f: () => Promise<{ status: number; json: any }>) => {
    const t = performance.now();
    try {
      const r = await f();
      lat.push(performance.now() - t);
      if (r.status < 200 || r.status > 299) errors.push(`${what}: ${r.status} ${JSON.stringify(r.json).slice(0, 200)}`);
      else writes++;
      return r;
    } catch (e) {
      errors.push(`${what}: ${(e as Error).message}`);
      return undefined;
    }
  };
  await Promise.all(Array.from({ length: n }, async (_, w) => {
    for (let i = 0; Date.now() < until; i++) {
      const r = await timed('create user', () => admin('POST', '/admin/users', { email: `${tag}-${w}-${i}@load.example` }));
      const id = r?.json?.user?.user_id;
      if (id) await timed('patch user', () => admin('PATCH', `/admin/users/${id}`, { name: `load ${w} ${i}` }));
      await timed('patch vault', () => pub('PATCH', `/v1/storage/${vaultId}`, { auto_mount: i % 2 === 0 }));
    }
  }));
  return { p50: quantile(lat, 0.5), p99: quantile(lat, 0.99), writes, errors };
}

export async function runLoad(opts: LoadOptions = {}): Promise<LoadResult> {
  const SHELLS = opts.shells ?? 50;
  const WRITERS = opts.writers ?? 16;
  const SECONDS = opts.seconds ?? Number(process.env.ONMEMOS_LOAD_SECONDS ?? 60);
  const BASE_SECONDS = opts.baselineSeconds ?? Math.min(15, SECONDS);
  const d = await startDaemon({ env: { ONMEMOS_LOG_LEVEL: 'warn' } });
  const shells: Shell[] = [];
  try {
    const u = await newUser(d);
    await d.admin.addCredits(u.user.user_id, 100_000);
    const vault = await u.client.createVault({ workspace_id: u.workspace.workspace_id, name: 'load-vault' });
    const sessions = await Promise.all(Array.from({ length: opts.sessions ?? 5 }, () => u.client.createSession({ workspace_id: u.workspace.workspace_id })));
    await new Promise((r) => setTimeout(r, 500));
    const rssStart = rssOf(d.proc.pid!);
    let peak = rssStart;
    const sampler = setInterval(() => { try { peak = Math.max(peak, rssOf(d.proc.pid!)); } catch { /* exited */ } }, 200);

    // warm-up (JIT, store indexes, keep-alive sockets), then the baseline: the same writers on the
    // same daemon, no shells
    await writers(d, u.passport, vault.resource_id, WRITERS, Date.now() + 3000, 'warm');
    const baseline = await writers(d, u.passport, vault.resource_id, WRITERS, Date.now() + BASE_SECONDS * 1000, 'base');

    // load: shells first, then writers for SECONDS while every shell streams
    const wsBase = d.publicUrl.replace(/^http/, 'ws');
    for (let i = 0; i < SHELLS; i++) {
      const s = sessions[i % sessions.length]!;
      shells.push(await openWs(`${wsBase}/v1/sessions/${s.id}/shell?passport=${u.passport}&cols=200&rows=50`, { protocols: [PTY_SUBPROTOCOL] }));
    }
    await Promise.all(shells.map((sh) => sh.waitFor(() => sh.messages.some((m) => m.type === 'hello'), 'hello', 30_000)));
    const shellErrors: string[] = [];
    let done = false;
    const bytes = shells.map(() => 0);
    shells.forEach((sh, i) => {
      sh.ws.on('message', (data: Buffer, bin: boolean) => { if (bin) bytes[i]! += data.length; });
      sh.ws.on('close', (code) => { if (!done) shellErrors.push(`shell ${i} closed early (${code})`); });
    });
    // 8 lines of ~70 bytes every 100 ms per shell, with bash builtins only (no fork per tick:
    // `read -t` on a FIFO nobody writes is the sleep), until SECONDS have passed; then a computed marker.
    shells.forEach((sh, i) => sh.send(Buffer.from(
      `mkfifo /tmp/w$$; exec 3<>/tmp/w$$; end=$((SECONDS+${SECONDS})); n=0; while ((SECONDS<end)); do for k in 1 2 3 4 5 6 7 8; do echo "tick-${i}-$n-$k-abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz"; done; n=$((n+1)); read -t 0.1 -u 3; done; echo STREAM-DONE-$((${i} + 1000))\r`)));
    const until = Date.now() + SECONDS * 1000;
    const load = await writers(d, u.passport, vault.resource_id, WRITERS, until, 'load');
    await Promise.all(shells.map((sh, i) => sh.waitForOutput(`STREAM-DONE-${i + 1000}\r\n`, 60_000).catch((e: Error) => { shellErrors.push(`shell ${i}: ${e.message.slice(0, 200)}`); })));
    const ticks = shells.map((sh, i) => sh.output().split(`tick-${i}-`).length - 1);
    for (const [i, sh] of shells.entries()) {
      for (const m of sh.messages) if (m.type === 'error') shellErrors.push(`shell ${i}: ${JSON.stringify(m)}`);
    }
    done = true;
    shells.forEach((sh) => sh.send(Buffer.from('exit\r')));
    await Promise.all(shells.map((sh) => Promise.race([sh.closed, new Promise((r) => setTimeout(r, 10_000))])));
    await Promise.all(sessions.map((s) => u.client.terminateSession(s.id)));
    await new Promise((r) => setTimeout(r, 2000));
    clearInterval(sampler);
    const rssEnd = rssOf(d.proc.pid!);
    return {
      shells: SHELLS, writers: WRITERS, seconds: SECONDS, baselineSeconds: BASE_SECONDS, baseline, load, shellErrors, shellBytes: bytes,
      // the echoed command line holds "tick-<i>-" once; 8 lines per 100 ms, 80% of the schedule
      expectedTicks: Math.floor(SECONDS * 10 * 8 * 0.8), ticks: ticks.map((t) => t - 1),
      rss: { start: rssStart, peak: Math.max(peak, rssEnd), end: rssEnd },
    };
  } finally {
    for (const sh of shells) sh.ws.terminate();
    const code = await d.stop();
    removeHome(d.home);
    if (code !== 0) throw new Error(`daemon exited ${code} after the load run`);
  }
}

const fmt = (n: number) => n.toFixed(1);

export async function run(): Promise<Row[]> {
  const r = await runLoad();
  const errors = r.baseline.errors.length + r.load.errors.length + r.shellErrors.length;
  if (errors) console.error(`load: ${errors} errors:\n${[...r.baseline.errors, ...r.load.errors, ...r.shellErrors].slice(0, 20).join('\n')}`);
  const mb = r.shellBytes.reduce((a, b) => a + b, 0) / 1e6;
  const who = `${r.shells} shells + ${r.writers} writers, ${r.seconds} s`;
  return [
    { name: `load: API p50 (${who}) / writers alone`, value: r.load.p50, unit: 'ms', baseline: r.baseline.p50, ratio: r.load.p50 / r.baseline.p50,
      note: `${errors} errors; ${r.load.writes} writes (${fmt(r.load.writes / r.seconds)}/s), shells got ${fmt(mb)} MB` },
    { name: `load: API p99 (${who}) / writers alone`, value: r.load.p99, unit: 'ms', baseline: r.baseline.p99, ratio: r.load.p99 / r.baseline.p99,
      note: `alone: ${r.baseline.writes} writes in ${r.baselineSeconds} s (${fmt(r.baseline.writes / r.baselineSeconds)}/s)` },
    { name: 'load: daemon RSS peak / at start', value: r.rss.peak, unit: 'MiB', baseline: r.rss.start, ratio: r.rss.peak / r.rss.start,
      note: `end (shells closed): ${fmt(r.rss.end)} MiB` },
  ];
}

if (require.main === module) run().then(printTable).catch((e) => { console.error(e); process.exit(1); });
