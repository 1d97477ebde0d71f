import * as vscode from 'vscode';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, statSync, accessSync, constants } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { isLocalUrl, portOf } from '../config';
import type { Connection } from '../api/connection';
import { Disposable } from '../lifecycle';
import type { Logger } from '../logger';
import type { SecretsManager } from '../secrets';
import { checkDaemonPid, type PidCheck } from './pid';
import { parseReadyLine, type ReadyLine } from './ready';

// Starts, adopts and stops the daemon bundled with the extension (dist/daemon.js), as a detached
// process that outlives the window; its output goes to <home>/daemon.log.
export class DaemonManager extends Disposable {
  private starting: Promise<ReadyLine | undefined> | undefined;
  private readonly pidKey = 'onmemos.daemon.pid';

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly connection: Connection,
    private readonly secrets: SecretsManager,
    private readonly log: Logger,
  ) {
    super();
    void this.updateManagedContext();
  }

  get home(): string {
    return this.connection.settings.daemonHome || process.env.ONMEMOS_HOME || join(homedir(), '.onmemos');
  }

  get logPath(): string { return join(this.home, 'daemon.log'); }
  get bundlePath(): string { return join(this.context.extensionPath, 'dist', 'daemon.js'); }
  // The daemon owning the configured home: its lock file names the pid (whoever started it);
  // else the one this extension started. Either may be stale: check it before signalling (pid.ts).
  get managedPid(): number | undefined {
    const check = this.checkManaged();
    return check.ok ? check.pid : undefined;
  }

  private checkManaged(): PidCheck & { from: string } {
    let lockPid: unknown;
    try { lockPid = JSON.parse(readFileSync(join(this.home, 'daemon.lock'), 'utf8')).pid; } catch { /* no lock: no daemon on this home */ }
    if (lockPid !== undefined) return { ...checkDaemonPid(lockPid, this.home), from: 'daemon.lock' };
    const saved = this.context.globalState.get<unknown>(`${this.pidKey}:${this.home}`);
    if (saved !== undefined) return { ...checkDaemonPid(saved, this.home), from: 'the pid this extension saved' };
    return { ok: false, why: 'no daemon.lock', from: 'nowhere' };
  }

  // When nothing answers and autoStart is on, start the bundled daemon (once per activation attempt).
  async ensureRunning(): Promise<void> {
    const s = this.connection.settings;
    if (this.connection.state !== 'noDaemon') { await this.adoptAdminKey(); return; }
    if (!s.autoStart || !isLocalUrl(s.publicUrl) || !isLocalUrl(s.adminUrl)) return;
    await this.start(false);
  }

  start(interactive = true): Promise<ReadyLine | undefined> {
    this.starting ??= this.doStart(interactive).finally(() => { this.starting = undefined; });
    return this.starting;
  }

  private async doStart(interactive: boolean): Promise<ReadyLine | undefined> {
    const s = this.connection.settings;
    if ((await this.connection.check()) !== 'noDaemon') {
      if (interactive) void vscode.window.showInformationMessage(`The OnMemOS daemon at ${s.publicUrl} is already running.`);
      await this.adoptAdminKey();
      return undefined;
    }
    if (!isLocalUrl(s.publicUrl) || !isLocalUrl(s.adminUrl)) {
      throw new Error(`The configured daemon (${s.publicUrl}) is not on this machine; start it there, or point onmemos.publicUrl/adminUrl at 127.0.0.1.`);
    }
    if (!existsSync(this.bundlePath)) throw new Error(`The bundled daemon is missing (${this.bundlePath}); reinstall the extension.`);
    const { command, env } = resolveRuntime(s.runtimePath);
    mkdirSync(this.home, { recursive: true, mode: 0o700 });
    const offset = existsSync(this.logPath) ? statSync(this.logPath).size : 0;
    const fd = openSync(this.logPath, 'a', 0o600);
    const args = [this.bundlePath, '--home', this.home, '--host', new URL(s.publicUrl).hostname.replace(/^\[|\]$/g, ''),
      '--admin-port', String(portOf(s.adminUrl)), '--public-port', String(portOf(s.publicUrl))];
    this.log.info(`starting daemon: ${command} ${args.join(' ')} (log ${this.logPath})`);
    const child = spawn(command, args, { detached: true, stdio: ['ignore', fd, fd], cwd: this.home, env: { ...process.env, ...env } });
    closeSync(fd);
    let exited: string | undefined;
    child.once('error', (e) => { exited = e.message; });
    child.once('exit', (code, signal) => { exited = `exited with ${signal ?? code}`; });
    child.unref();
    const ready = await this.waitForReady(offset, () => exited, 30_000);
    if (child.pid) await this.context.globalState.update(`${this.pidKey}:${this.home}`, child.pid);
    await this.updateManagedContext();
    this.log.info(`daemon ready (pid ${child.pid}): admin=${ready.admin} public=${ready.public}`);
    await this.adoptAdminKey();
    await this.connection.check();
    return ready;
  }

  private async waitForReady(offset: number, exited: () => string | undefined, timeoutMs: number): Promise<ReadyLine> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const text = readFileSync(this.logPath, 'utf8').slice(offset);
      for (const line of text.split('\n')) {
        const ready = parseReadyLine(line);
        if (ready) return ready;
      }
      const why = exited();
      if (why) throw new Error(`The daemon ${why} before it was ready: ${lastLines(text, 3) || 'no output'}`);
      await new Promise((r) => setTimeout(r, 150));
    }
    throw new Error(`The daemon did not print its ready line within ${timeoutMs / 1000} s; see its log (${this.logPath}).`);
  }

  // The daemon writes its generated admin key to <home>/admin.key: take it for the admin forms
  // unless the user set another one for this URL.
  async adoptAdminKey(): Promise<boolean> {
    const url = this.connection.settings.adminUrl;
    if (!isLocalUrl(url) || (await this.secrets.get('adminKey', url))) return false;
    const file = join(this.home, 'admin.key');
    if (!existsSync(file)) return false;
    const key = readFileSync(file, 'utf8').trim();
    if (!key) return false;
    await this.secrets.set('adminKey', url, key);
    this.log.info(`adopted the admin key from ${file}`);
    return true;
  }

  // false = no daemon owns this home here. Throws (and signals nothing) when the pid on record is
  // not this home's daemon: a stale pid reused by another process, or a damaged lock.
  async stop(): Promise<boolean> {
    const check = this.checkManaged();
    if (!check.ok) {
      await this.forgetPid();
      if (check.from === 'nowhere') return false;
      this.log.warn(`not stopping: the pid from ${check.from} fails the check (${check.why})`);
      if (check.gone) return false;
      throw new Error(`nothing was signalled: ${check.why} (pid from ${check.from === 'daemon.lock' ? join(this.home, 'daemon.lock') : check.from})`);
    }
    const pid = check.pid;
    this.log.info(`stopping daemon pid ${pid} (SIGTERM)`);
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + 10_000;
    const ours = () => checkDaemonPid(pid, this.home).ok;
    while (ours() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (ours()) { this.log.warn(`daemon pid ${pid} ignored SIGTERM for 10 s; sending SIGKILL`); process.kill(pid, 'SIGKILL'); }
    await this.forgetPid();
    await this.connection.check();
    return true;
  }

  async showLog(): Promise<void> {
    if (!existsSync(this.logPath)) {
      void vscode.window.showInformationMessage(`No daemon log yet at ${this.logPath}: the extension has not started a daemon with this home.`);
      return;
    }
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(this.logPath));
    const editor = await vscode.window.showTextDocument(doc, { preview: true });
    const end = doc.lineAt(doc.lineCount - 1).range.end;
    editor.revealRange(new vscode.Range(end, end));
  }

  private async forgetPid(): Promise<void> {
    await this.context.globalState.update(`${this.pidKey}:${this.home}`, undefined);
    await this.updateManagedContext();
  }

  private async updateManagedContext(): Promise<void> {
    await vscode.commands.executeCommand('setContext', 'onmemos.daemonManaged', this.managedPid !== undefined);
  }
}

export function resolveRuntime(configured: string): { command: string; env: Record<string, string> } {
  if (configured) return { command: configured, env: {} };
  const onPath = findOnPath(process.platform === 'win32' ? 'node.exe' : 'node');
  if (onPath) return { command: onPath, env: {} };
  // No node on PATH: the editor's own runtime can run the daemon (Electron as Node).
  return { command: process.execPath, env: { ELECTRON_RUN_AS_NODE: '1' } };
}

function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    try { accessSync(p, constants.X_OK); return p; } catch { /* next */ }
  }
  return undefined;
}

function lastLines(text: string, n: number): string {
  return text.trim().split('\n').slice(-n).join(' | ');
}
