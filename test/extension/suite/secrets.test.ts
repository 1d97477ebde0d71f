import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { OnMemOSExtensionApi } from '../../../extension/extension';
import type { Workspace } from '../../../extension/api/types';
import { isApiError } from '../../../extension/api/errors';
import { secretKey } from '../../../extension/secrets';
import type { Session } from '../../../extension/api/types';
import { activate, admin, env, pub, waitFor } from './env';

// Forgetting a credential removes it from SecretStorage and the extension follows: no passport
// means empty trees (so viewsWelcome shows "Set Passport" again) and a status bar asking for one;
// no admin key means the admin API is called without one and refuses.
describe('forgetting secrets', () => {
  let api: OnMemOSExtensionApi;
  let passport: string;
  let second: string;
  let workspace: Workspace;
  let session: Session | undefined;

  after(async () => {
    if (session) await pub(second, 'DELETE', `/v1/sessions/${session.id}`).catch(() => {});
  });

  async function openTerminal(): Promise<{ terminal: vscode.Terminal; pty: import('../../../extension/terminals/shellPty').ShellPty }> {
    const opened = await api.container.terminals.openFor(session!);
    await waitFor('the shell to say hello', () => !!opened.pty.id);
    await waitFor('the shell to be saved for reattach', () =>
      (api.container.context.workspaceState.get<{ shellId: string }[]>('onmemos.openShells') ?? []).some((x) => x.shellId === opened.pty.id));
    return opened;
  }

  async function closedByPassportChange(t: { terminal: vscode.Terminal; pty: { id: string | undefined } }): Promise<void> {
    await waitFor('the terminal to close', () => ![...api.container.terminals.terminals.values()].includes(t.pty as never)
      && !vscode.window.terminals.includes(t.terminal));
    const saved = api.container.context.workspaceState.get<{ shellId: string }[]>('onmemos.openShells') ?? [];
    assert.ok(!saved.some((x) => x.shellId === t.pty.id), 'its shell is still saved for reattach');
  }

  async function workspaceRows(): Promise<number> {
    return ((await api.container.trees.providers.get('workspaces')!.getChildren(undefined)) ?? []).length;
  }

  before(async () => {
    api = await activate();
    const { user } = await admin<{ user: { user_id: string } }>('POST', '/users', { email: `forget-${Date.now()}@example.com`, name: 'Forget Test' });
    passport = (await admin<{ passport: string }>('POST', '/passports', { user_id: user.user_id, name: 'forget' })).passport;
    workspace = (await admin<{ workspace: Workspace }>('POST', '/workspaces', { user_id: user.user_id, name: 'forget-ws' })).workspace;
    second = (await admin<{ passport: string }>('POST', '/passports', { user_id: user.user_id, name: 'forget-2' })).passport;
    assert.equal(await api.container.storeSecret('passport', passport), true);
    assert.equal(await api.container.storeSecret('adminKey', env.adminKey), true);
  });

  it('set passport / set admin key ignore a value passed from outside (a command: link cannot plant one)', async () => {
    const key = secretKey('passport', env.publicUrl);
    const before = await api.container.context.secrets.get(key);
    const running = vscode.commands.executeCommand('onmemos.passport.set', 'attacker-passport-0123456789');
    await new Promise((r) => setTimeout(r, 700)); // it asks instead: an input box is open
    assert.equal(await api.container.context.secrets.get(key), before);
    await vscode.commands.executeCommand('workbench.action.closeQuickOpen');
    assert.equal(await running, false);
    assert.equal(await api.container.context.secrets.get(key), before);
    const adminKey = secretKey('adminKey', env.adminUrl);
    const runningAdmin = vscode.commands.executeCommand('onmemos.adminKey.set', 'attacker-admin-key-0123456789');
    await new Promise((r) => setTimeout(r, 700));
    await vscode.commands.executeCommand('workbench.action.closeQuickOpen');
    assert.equal(await runningAdmin, false);
    assert.equal(await api.container.context.secrets.get(adminKey), env.adminKey);
  });

  it('changing the passport closes the terminals opened with the old one', async () => {
    const created = await pub<{ session: Session }>(passport, 'POST', '/v1/sessions', { workspace_id: workspace.workspace_id, ttl_minutes: 10 });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    session = created.body.session;
    const t = await openTerminal();
    assert.ok(api.container.terminals.terminals.get(t.terminal) === t.pty);
    assert.equal(await api.container.storeSecret('passport', second), true);
    await closedByPassportChange(t);
  });

  it('forgetting the passport closes the terminals opened with it', async () => {
    const t = await openTerminal();
    assert.equal(await vscode.commands.executeCommand('onmemos.passport.forget', { confirm: false }), true);
    await closedByPassportChange(t);
    assert.equal(await api.container.storeSecret('passport', passport), true); // for the next test
  });

  it('forget passport: the secret leaves SecretStorage, the views empty out and the status bar asks for a passport', async () => {
    const key = secretKey('passport', env.publicUrl);
    // Where it starts from, so the assertions below can fail.
    assert.ok(await api.container.context.secrets.get(key), 'no passport stored before forgetting');
    assert.equal(api.container.connection.state, 'ready');
    await waitFor('the workspace row', async () => (await workspaceRows()) > 0);
    assert.match(api.container.statusBar.text, /^\$\(rocket\) OnMemOS/);

    assert.equal(await vscode.commands.executeCommand('onmemos.passport.forget', { confirm: false }), true);

    assert.equal(await api.container.context.secrets.get(key), undefined);
    assert.equal(api.container.connection.state, 'noPassport');
    assert.equal(await workspaceRows(), 0, 'the workspaces tree still lists rows without a passport');
    assert.equal(api.container.statusBar.text, '$(key) OnMemOS: set passport');
    // The context key viewsWelcome reads follows the state; a later poll does not bring rows back.
    await new Promise((r) => setTimeout(r, 1500)); // > onmemos.pollIntervalSeconds (1 s in this tier)
    assert.equal(await workspaceRows(), 0);
    assert.equal(api.container.connection.state, 'noPassport');
  });

  it('forget admin key: the secret leaves SecretStorage and the admin API is no longer authorised', async () => {
    const key = secretKey('adminKey', env.adminUrl);
    assert.equal(await api.container.context.secrets.get(key), env.adminKey);
    assert.equal(await api.container.connection.hasAdminKey(), true);
    assert.ok(Array.isArray(await api.container.connection.admin.listUsers()));

    assert.equal(await vscode.commands.executeCommand('onmemos.adminKey.forget', { confirm: false }), true);

    assert.equal(await api.container.context.secrets.get(key), undefined);
    assert.equal(await api.container.connection.hasAdminKey(), false);
    const refused = await api.container.connection.admin.listUsers().then(() => undefined, (e: unknown) => e);
    assert.ok(isApiError(refused) && refused.status === 401, `the admin API answered without a key: ${String(refused)}`);
  });
});
