import * as vscode from 'vscode';
import type { Session, StorageResource, Workspace } from '../api/types';
import { explainError, plainText } from '../api/errors';
import { COMMANDS } from '../commandIds';
import type { Services } from '../services';
import type { Node } from '../views/items';

// Runs a user action: errors become a notification that says what happened and what to do,
// and the views are refreshed before the command returns.
export async function act<T>(s: Services, what: string, fn: () => PromiseLike<T>): Promise<T | undefined> {
  try {
    const result = await fn();
    await s.model.refresh(); // the command finishes when the views show its effect
    return result;
  } catch (e) {
    if (e instanceof vscode.CancellationError) return undefined;
    const ex = explainError(what, e);
    s.log.error(`${what}: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
    s.connection.reportFailure(e);
    const buttons = ex.action ? [ex.action.title] : [];
    void vscode.window.showErrorMessage(plainText(ex.message), ...buttons).then((b) => {
      if (b && ex.action) void vscode.commands.executeCommand(ex.action.command);
    });
    void s.model.refresh(); // a 404/409 means the views were stale
    return undefined;
  }
}

// Commands need a working connection; when there is none, say which button fixes it.
export async function ensureReady(s: Services): Promise<boolean> {
  const state = s.connection.state === 'ready' ? 'ready' : await s.connection.check();
  if (state === 'ready') return true;
  const fix: Record<string, [string, string, string]> = {
    connecting: ['The OnMemOS daemon is still being contacted; try again in a moment.', 'Show Log', COMMANDS.showLog],
    noDaemon: [`No OnMemOS daemon answers at ${s.connection.settings.publicUrl}.`, 'Start Daemon', COMMANDS.startDaemon],
    noPassport: ['Set your passport first: it tells the daemon who you are.', 'Set Passport', COMMANDS.setPassport],
    badPassport: ['The daemon refused your passport (revoked, expired or from another daemon).', 'Change Passport', COMMANDS.setPassport],
    daemonError: [`The OnMemOS daemon at ${s.connection.settings.publicUrl} answers but fails requests; see the log.`, 'Show Log', COMMANDS.showLog],
  };
  const [message, button, command] = fix[state]!;
  const b = await vscode.window.showWarningMessage(message, button);
  if (b) await vscode.commands.executeCommand(command);
  return false;
}

export function asNode(arg: unknown): Node | undefined {
  if (typeof arg === 'object' && arg !== null && 'kind' in arg) return arg as Node;
  if (typeof arg === 'object' && arg !== null && 'node' in arg) return (arg as { node: Node }).node;
  return undefined;
}

export async function pickWorkspace(s: Services, arg?: unknown, title = 'Choose a workspace'): Promise<Workspace | undefined> {
  const node = asNode(arg);
  if (node?.kind === 'workspace' || node?.kind === 'group') return node.workspace;
  const wsId = typeof arg === 'string' ? arg : (arg as { workspace_id?: string } | undefined)?.workspace_id;
  await s.model.refresh();
  const list = s.model.snapshot.workspaces;
  if (wsId) return list.find((w) => w.workspace_id === wsId) ?? list.find((w) => w.name === wsId);
  if (list.length === 1) return list[0];
  if (!list.length) {
    const b = await vscode.window.showWarningMessage('You have no workspace yet. Create one in the admin forms (it needs the admin key).', 'Open Admin Forms');
    if (b) await vscode.commands.executeCommand(COMMANDS.openAdmin);
    return undefined;
  }
  const pick = await vscode.window.showQuickPick(list.map((w) => ({ label: w.name, description: w.workspace_id, detail: w.k8s_namespace ?? undefined, w })), { title, placeHolder: 'Workspace' });
  return pick?.w;
}

export async function pickSession(s: Services, arg: unknown, title: string, filter: (x: Session) => boolean = (x) => x.status === 'running'): Promise<Session | undefined> {
  const node = asNode(arg);
  if (node?.kind === 'shuttle' || node?.kind === 'mount') return node.session;
  const id = typeof arg === 'string' ? arg : (arg as { session_id?: string; id?: string } | undefined)?.session_id ?? (arg as { id?: string } | undefined)?.id;
  if (id) return s.connection.api.getSession(id);
  await s.model.refresh();
  const list = s.model.snapshot.sessions.filter(filter);
  if (!list.length) {
    const b = await vscode.window.showInformationMessage('No running shuttle. Launch one first.', 'Launch Shuttle');
    if (b) await vscode.commands.executeCommand(COMMANDS.launchShuttle);
    return undefined;
  }
  if (list.length === 1) return list[0];
  const names = new Map(s.model.snapshot.workspaces.map((w) => [w.workspace_id, w.name]));
  const pick = await vscode.window.showQuickPick(
    list.map((x) => ({ label: `$(vm-running) ${x.pod_name || x.id}`, description: `${x.status} · ${names.get(x.workspace_id) ?? x.workspace_id}`, detail: x.id, x })),
    { title, placeHolder: 'Shuttle' });
  return pick?.x;
}

export async function pickStorage(s: Services, arg: unknown, title: string): Promise<StorageResource | undefined> {
  const node = asNode(arg);
  if (node?.kind === 'storage') return node.resource;
  const id = typeof arg === 'string' ? arg : (arg as { resource_id?: string } | undefined)?.resource_id;
  await s.model.refresh();
  const list = s.model.snapshot.storage;
  if (id) {
    const r = list.find((x) => x.resource_id === id);
    if (!r) throw Object.assign(new Error(`No vault or drive with id ${id}`), { status: 404, message: `no vault or drive with id ${id}` });
    return r;
  }
  if (!list.length) { void vscode.window.showInformationMessage('You have no vaults or drives yet.'); return undefined; }
  const pick = await vscode.window.showQuickPick(
    list.map((r) => ({ label: `$(${r.storage_type === 'filestore' ? 'database' : 'archive'}) ${r.name}`, description: `${r.storage_type === 'filestore' ? 'drive' : 'vault'} · ${r.mount_path}`, detail: r.resource_id, r })),
    { title, placeHolder: 'Vault or drive' });
  return pick?.r;
}
