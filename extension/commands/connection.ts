import * as vscode from 'vscode';
import { COMMANDS } from '../commandIds';
import { redact } from '../logger';
import type { Services } from '../services';
import { cleanKey, validateKey } from '../validation';
import type { Node } from '../views/items';
import { act, asNode } from './util';

// `value` only from inside the extension (the admin forms, the extension's API): the commands ignore
// their arguments, so a `command:` link in some rendered text cannot plant an attacker's credential.
export async function setSecret(s: Services, kind: 'passport' | 'adminKey', value?: string): Promise<boolean> {
  const url = kind === 'passport' ? s.connection.settings.publicUrl : s.connection.settings.adminUrl;
  const has = !!(await s.secrets.get(kind, url));
  const label = kind === 'passport' ? 'passport' : 'admin key';
  const v = value !== undefined ? value : await vscode.window.showInputBox({
    title: `${has ? 'Change' : 'Set'} the OnMemOS ${label} for ${url}`,
    prompt: kind === 'passport'
      ? 'Your passport (API key) from your administrator or the admin forms. Kept in VS Code Secret Storage.'
      : 'The daemon\'s admin key (its home\'s admin.key). Kept in VS Code Secret Storage.',
    password: true, ignoreFocusOut: true,
    validateInput: validateKey,
  });
  if (!v) return false;
  const problem = validateKey(v);
  if (problem) { void vscode.window.showErrorMessage(`The ${label} was not saved: ${problem}`); return false; }
  const key = cleanKey(v);
  await s.secrets.set(kind, url, key);
  s.log.info(`${label} set for ${url}: ${redact(key)}`);
  const state = await s.connection.check();
  if (kind === 'passport') {
    if (state === 'ready') void vscode.window.showInformationMessage(`Passport saved. Connected to ${url}.`);
    else if (state === 'badPassport') void vscode.window.showErrorMessage(`The daemon at ${url} refused this passport. Check it and set it again.`, 'Set Passport')
      .then((b) => b && vscode.commands.executeCommand(COMMANDS.setPassport));
  } else {
    const ok = await s.connection.admin.listUsers().then(() => true, () => false);
    if (!ok) void vscode.window.showWarningMessage(`The admin API at ${url} did not accept this admin key (or does not answer).`);
  }
  await s.model.refresh();
  return true;
}

// `{ confirm: false }` skips the modal (scripts and tests), as for terminate and delete.
async function forgetSecret(s: Services, kind: 'passport' | 'adminKey', options?: { confirm?: boolean }): Promise<boolean> {
  const url = kind === 'passport' ? s.connection.settings.publicUrl : s.connection.settings.adminUrl;
  const label = kind === 'passport' ? 'passport' : 'admin key';
  if (options?.confirm !== false) {
    const ok = await vscode.window.showWarningMessage(`Forget the ${label} stored for ${url}?`, { modal: true }, 'Forget');
    if (ok !== 'Forget') return false;
  }
  await s.secrets.forget(kind, url);
  s.log.info(`${label} forgotten for ${url}`);
  await s.connection.check();
  await s.model.refresh();
  return true;
}

function idOf(node: Node): string {
  switch (node.kind) {
    case 'workspace': case 'group': return node.workspace.workspace_id;
    case 'storage': return node.resource.resource_id;
    case 'shuttle': case 'mount': return node.session.id;
  }
}

export function registerConnectionCommands(s: Services): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand(COMMANDS.refresh, async () => { await s.connection.check(); await s.model.refresh(); }),
    vscode.commands.registerCommand(COMMANDS.setPassport, () => setSecret(s, 'passport')),
    vscode.commands.registerCommand(COMMANDS.forgetPassport, (o?: { confirm?: boolean }) => forgetSecret(s, 'passport', o)),
    vscode.commands.registerCommand(COMMANDS.setAdminKey, () => setSecret(s, 'adminKey')),
    vscode.commands.registerCommand(COMMANDS.forgetAdminKey, (o?: { confirm?: boolean }) => forgetSecret(s, 'adminKey', o)),
    vscode.commands.registerCommand(COMMANDS.copyId, async (arg?: unknown) => {
      const node = asNode(arg);
      if (!node) { void vscode.window.showInformationMessage('Use “Copy ID” from the context menu of a workspace, vault, drive or shuttle.'); return undefined; }
      const id = idOf(node);
      await vscode.env.clipboard.writeText(id);
      vscode.window.setStatusBarMessage(`$(copy) Copied ${id}`, 3000);
      return id;
    }),
    vscode.commands.registerCommand(COMMANDS.startDaemon, () => act(s, 'Start the OnMemOS daemon', () => vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'Starting the OnMemOS daemon…' },
      async () => {
        const ready = await s.daemon.start(true);
        if (ready) void vscode.window.showInformationMessage(`OnMemOS daemon started: public API ${ready.public}, admin API ${ready.admin}.`);
        if (s.connection.state === 'noPassport') {
          const b = await vscode.window.showInformationMessage('Next: create a user and a passport in the admin forms, or set a passport you already have.', 'Open Admin Forms', 'Set Passport');
          if (b === 'Open Admin Forms') s.openAdmin();
          else if (b === 'Set Passport') await vscode.commands.executeCommand(COMMANDS.setPassport);
        }
        return ready;
      }))),
    vscode.commands.registerCommand(COMMANDS.stopDaemon, () => act(s, 'Stop the OnMemOS daemon', async () => {
      const stopped = await s.daemon.stop();
      void vscode.window.showInformationMessage(stopped ? 'OnMemOS daemon stopped.' : `No daemon owns ${s.daemon.home} on this machine; a daemon elsewhere is stopped where it runs.`);
      return stopped;
    })),
    vscode.commands.registerCommand(COMMANDS.showDaemonLog, () => s.daemon.showLog()),
    vscode.commands.registerCommand(COMMANDS.showLog, () => s.log.show()),
    vscode.commands.registerCommand(COMMANDS.openSettings, () => vscode.commands.executeCommand('workbench.action.openSettings', '@ext:onmemos.onmemos')),
    vscode.commands.registerCommand(COMMANDS.openAdmin, () => s.openAdmin()),
  ];
}
