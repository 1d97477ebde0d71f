import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { OnMemOSExtensionApi } from '../../../extension/extension';
import type { Workspace } from '../../../extension/api/types';
import { isApiError } from '../../../extension/api/errors';
import { secretKey } from '../../../extension/secrets';
import { activate, admin, env, waitFor } from './env';

// Forgetting a credential removes it from SecretStorage and the extension follows: no passport
// means empty trees (so viewsWelcome shows "Set Passport" again) and a status bar asking for one;
// no admin key means the admin API is called without one and refuses.
describe('forgetting secrets', () => {
  let api: OnMemOSExtensionApi;

  async function workspaceRows(): Promise<number> {
    return ((await api.container.trees.providers.get('workspaces')!.getChildren(undefined)) ?? []).length;
  }

  before(async () => {
    api = await activate();
    const { user } = await admin<{ user: { user_id: string } }>('POST', '/users', { email: `forget-${Date.now()}@example.com`, name: 'Forget Test' });
    const { passport } = await admin<{ passport: string }>('POST', '/passports', { user_id: user.user_id, name: 'forget' });
    await admin<{ workspace: Workspace }>('POST', '/workspaces', { user_id: user.user_id, name: 'forget-ws' });
    assert.equal(await vscode.commands.executeCommand('onmemos.passport.set', passport), true);
    assert.equal(await vscode.commands.executeCommand('onmemos.adminKey.set', env.adminKey), true);
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
