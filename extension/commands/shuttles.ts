import * as vscode from 'vscode';
import { plainText } from '../api/errors';
import type { CreateSessionRequest, ExecuteResult, Session } from '../api/types';
import { COMMANDS } from '../commandIds';
import type { Services } from '../services';
import { validateCommand, validateTtlMinutes } from '../validation';
import { act, ensureReady, pickSession, pickWorkspace } from './util';

// Options a caller (a test, another command) may pass to skip the quick picks.
export interface LaunchOptions { workspace_id?: string; vault_id?: string; drive_id?: string; ttl_minutes?: number; openTerminal?: boolean }

const TTL_CHOICES = [30, 60, 120, 240, 480];

export async function launchShuttle(s: Services, arg?: unknown): Promise<Session | undefined> {
  if (!(await ensureReady(s))) return undefined;
  const opts: LaunchOptions = typeof arg === 'object' && arg !== null && !('kind' in arg) ? arg as LaunchOptions : {};
  const ws = await pickWorkspace(s, opts.workspace_id ? opts.workspace_id : arg, 'Launch Shuttle (1/4): workspace');
  if (!ws) return undefined;
  const storage = s.model.snapshot.storage.filter((r) => r.workspace_id === ws.workspace_id);
  const req: CreateSessionRequest = { workspace_id: ws.workspace_id };
  const interactive = !opts.workspace_id;
  if (opts.vault_id) req.vault_id = opts.vault_id;
  else if (interactive) {
    const choice = await pickStorageFor(storage.filter((r) => r.storage_type === 'bucket'), 'vault', 'Launch Shuttle (2/4): vault');
    if (choice === null) return undefined;
    if (choice) req.vault_id = choice;
  }
  if (opts.drive_id) req.drive_id = opts.drive_id;
  else if (interactive) {
    const choice = await pickStorageFor(storage.filter((r) => r.storage_type === 'filestore'), 'drive', 'Launch Shuttle (3/4): drive');
    if (choice === null) return undefined;
    if (choice) req.drive_id = choice;
  }
  if (opts.ttl_minutes) req.ttl_minutes = opts.ttl_minutes;
  else if (interactive) {
    const ttl = await pickTtl();
    if (ttl === undefined) return undefined;
    req.ttl_minutes = ttl;
  }
  const session = await act(s, `Launch a shuttle in “${ws.name}”`, () => cancellableProgress(
    `Launching a shuttle in ${plainText(ws.name)}…`, (signal) => s.connection.api.createSession(req, signal)));
  if (!session) return undefined;
  s.log.info(`launched shuttle ${session.id} in ${ws.workspace_id} (${session.status})`);
  if (opts.openTerminal !== false) await act(s, 'Open a terminal in the new shuttle', () => s.terminals.openFor(session));
  return session;
}

// undefined = use the workspace defaults, null = the user cancelled.
async function pickStorageFor(list: { resource_id: string; name: string; mount_path: string; is_default: boolean; auto_mount: boolean }[], kind: string, title: string): Promise<string | undefined | null> {
  if (!list.length) return undefined;
  const auto = list.filter((r) => r.auto_mount).map((r) => r.name);
  const items = [
    { label: `$(star-full) Workspace defaults`, description: auto.length ? `auto-mount: ${auto.join(', ')}` : `no ${kind} is auto-mounted`, id: undefined as string | undefined },
    ...list.map((r) => ({ label: `$(${kind === 'vault' ? 'archive' : 'database'}) ${r.name}`, description: `${r.mount_path}${r.is_default ? ' · default' : ''}`, id: r.resource_id as string | undefined })),
  ];
  const pick = await vscode.window.showQuickPick(items, { title, placeHolder: `Which ${kind} to mount` });
  return pick ? pick.id : null;
}

async function pickTtl(): Promise<number | undefined> {
  const items = [...TTL_CHOICES.map((m) => ({ label: m < 60 ? `${m} minutes` : `${m / 60} hour${m === 60 ? '' : 's'}`, m })), { label: 'Custom…', m: 0 }];
  const pick = await vscode.window.showQuickPick(items, { title: 'Launch Shuttle (4/4): time to live', placeHolder: 'The shuttle is terminated after this time' });
  if (!pick) return undefined;
  if (pick.m) return pick.m;
  const v = await vscode.window.showInputBox({ title: 'Time to live (minutes)', value: '90', validateInput: validateTtlMinutes });
  return v ? Number(v) : undefined;
}

export async function terminateShuttle(s: Services, arg?: unknown, options?: { confirm?: boolean }): Promise<boolean> {
  if (!(await ensureReady(s))) return false;
  const session = await pickSession(s, arg, 'Terminate which shuttle?', () => true);
  if (!session) return false;
  if (options?.confirm !== false) {
    const ok = await vscode.window.showWarningMessage(
      `Terminate shuttle ${session.pod_name || session.id}?`,
      { modal: true, detail: 'Its processes and open terminals stop. Data in its vaults and drives is kept.' }, 'Terminate');
    if (ok !== 'Terminate') return false;
  }
  const done = await act(s, `Terminate shuttle ${session.id}`, () => vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Terminating shuttle ${session.pod_name || session.id}…` },
    () => s.connection.api.deleteSession(session.id).then(() => true)));
  return done === true;
}

export async function openTerminal(s: Services, arg?: unknown): Promise<vscode.Terminal | undefined> {
  if (!(await ensureReady(s))) return undefined;
  const session = await pickSession(s, arg, 'Open a terminal in which shuttle?');
  if (!session) return undefined;
  return (await act(s, `Open a terminal in shuttle ${session.id}`, () => s.terminals.openFor(session)))?.terminal;
}

export async function execute(s: Services, arg?: unknown, commandArg?: string): Promise<ExecuteResult | undefined> {
  if (!(await ensureReady(s))) return undefined;
  const session = await pickSession(s, arg, 'Execute in which shuttle?');
  if (!session) return undefined;
  const command = commandArg ?? await vscode.window.showInputBox({
    title: `Execute in ${session.pod_name || session.id}`, prompt: 'A shell command; its output and exit code appear in the “OnMemOS Exec” output.',
    placeHolder: 'ls -la /workspace', validateInput: validateCommand, ignoreFocusOut: true,
  });
  if (!command) return undefined;
  const out = s.execOutput;
  return act(s, `Execute “${command}”`, () => cancellableProgress(plainText(`Running “${command}”…`), async (signal) => {
    out.show(true);
    out.appendLine(`$ ${command}    [shuttle ${session.id}, ${new Date().toLocaleTimeString()}]`);
    try {
      const r = await s.connection.api.execute(session.id, command, 300, signal);
      if (r.stdout) out.append(r.stdout.endsWith('\n') ? r.stdout : `${r.stdout}\n`);
      if (r.stderr) out.append(r.stderr.split('\n').map((l, i, a) => (i === a.length - 1 && !l ? '' : `stderr: ${l}\n`)).join(''));
      out.appendLine(`[exit code ${r.exit_code}${r.timed_out ? ', timed out' : ''}${r.duration_ms != null ? `, ${r.duration_ms} ms` : ''}]`);
      out.appendLine('');
      if (r.exit_code !== 0) void vscode.window.showWarningMessage(plainText(`“${command}” exited with code ${r.exit_code}${r.timed_out ? ' (timed out)' : ''}. See the OnMemOS Exec output.`));
      return r;
    } catch (e) {
      out.appendLine(`[failed: ${e instanceof Error ? e.message : String(e)}]`);
      throw e;
    }
  }));
}

// A notification with a Cancel button that aborts the request; a cancelled request ends as a
// CancellationError, which act() does not report as a failure.
function cancellableProgress<T>(title: string, fn: (signal: AbortSignal) => Promise<T>): Thenable<T> {
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, async (_p, token) => {
    const ac = new AbortController();
    const sub = token.onCancellationRequested(() => ac.abort());
    try {
      return await fn(ac.signal);
    } catch (e) {
      if (token.isCancellationRequested) throw new vscode.CancellationError();
      throw e;
    } finally { sub.dispose(); }
  });
}

export function registerShuttleCommands(s: Services): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand(COMMANDS.launchShuttle, (arg?: unknown) => launchShuttle(s, arg)),
    vscode.commands.registerCommand(COMMANDS.terminateShuttle, (arg?: unknown, o?: { confirm?: boolean }) => terminateShuttle(s, arg, o)),
    vscode.commands.registerCommand(COMMANDS.openTerminal, (arg?: unknown) => openTerminal(s, arg)),
    vscode.commands.registerCommand(COMMANDS.execute, (arg?: unknown, command?: string) => execute(s, arg, typeof command === 'string' ? command : undefined)),
  ];
}
