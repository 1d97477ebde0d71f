// Start the real daemon (dist/daemon.js, built by `npm test`) as a child process on port 0 with a
// temp home, parse its ready line, and hand out typed clients. Every test tier uses this.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { OnMemOSAdminClient, OnMemOSClient } from '../../daemon/client';
import { killShuttles } from './shuttles.mjs';

export const ROOT = resolve(__dirname, '..', '..');
export const DAEMON = join(ROOT, 'dist', 'daemon.js');

export interface RunningDaemon {
  home: string;
  adminUrl: string;
  publicUrl: string;
  adminKey: string;
  proc: ChildProcess;
  admin: OnMemOSAdminClient;
  publicClient(passport?: string): OnMemOSClient;
  /** stderr lines so far (structured logs). */
  logs: string[];
  /** SIGTERM and wait. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait. */
  kill(): Promise<void>;
  exited: Promise<number | null>;
}

export function tempHome(prefix = 'onmemos-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function startDaemon(options: { home?: string; env?: Record<string, string>; args?: string[]; nodeArgs?: string[]; timeoutMs?: number } = {}): Promise<RunningDaemon> {
  if (!existsSync(DAEMON)) throw new Error(`${DAEMON} is missing: run \`npm run build\` (npm test builds first)`);
  const home = options.home ?? tempHome();
  const proc = spawn(process.execPath, [...(options.nodeArgs ?? []), DAEMON, '--home', home, '--admin-port', '0', '--public-port', '0', ...(options.args ?? [])], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ONMEMOS_INTERNAL_API_KEY: '', ONMEMOS_STORE_VERIFY: '1', ...options.env },
  });
  const logs: string[] = [];
  createInterface({ input: proc.stderr! }).on('line', (l) => logs.push(l));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  const ready = await new Promise<{ admin: string; pub: string }>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`daemon not ready in time; stderr:\n${logs.join('\n')}`)), options.timeoutMs ?? 20_000);
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      const m = /^onmemos daemon ready admin=(\S+) public=(\S+)$/.exec(line);
      if (m) { clearTimeout(timer); res({ admin: m[1]!, pub: m[2]! }); }
    });
    void exited.then((code) => { clearTimeout(timer); rej(new Error(`daemon exited with ${code} before ready; stderr:\n${logs.join('\n')}`)); });
  });
  const adminKey = options.env?.ONMEMOS_INTERNAL_API_KEY || readFileSync(join(home, 'admin.key'), 'utf8').trim();
  return {
    home, adminUrl: ready.admin, publicUrl: ready.pub, adminKey, proc, logs, exited,
    admin: new OnMemOSAdminClient({ baseUrl: ready.admin, apiKey: adminKey }),
    publicClient: (passport) => new OnMemOSClient({ baseUrl: ready.pub, apiKey: passport }),
    async stop() { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM'); return exited; },
    async kill() { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL'); await exited; },
  };
}

/** End every shuttle of `home` (they outlive daemons by design), then delete it. */
export function removeHome(home: string) {
  killShuttles(home);
  // A killed supervisor's sandbox ends a moment after it: retry while its last files land.
  rmSync(home, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
}

/** A user with a passport and a workspace, ready to use the public API. */
export async function newUser(d: RunningDaemon, email = `u${Math.random().toString(36).slice(2, 10)}@example.com`) {
  const user = await d.admin.createUser({ email, name: email.split('@')[0] });
  const passport = await d.admin.createPassport({ user_id: user.user_id });
  const workspace = await d.admin.createWorkspace({ user_id: user.user_id, name: 'dev' });
  return { user, passport: passport.passport_key, workspace, client: d.publicClient(passport.passport_key) };
}

/** Raw HTTP for the cases the client would not send (malformed JSON, wrong types, huge bodies). */
export async function raw(url: string, init: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}) {
  const res = await fetch(url, { method: init.method ?? 'GET', headers: init.headers, body: init.body as unknown as string });
  const text = await res.text();
  let json: any;
  try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
  return { status: res.status, json, text, headers: res.headers };
}
