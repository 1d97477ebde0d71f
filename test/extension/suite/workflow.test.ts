import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { OnMemOSExtensionApi } from '../../../extension/extension';
import type { ExecuteResult, Session, StorageResource, Workspace } from '../../../extension/api/types';
import { secretKey } from '../../../extension/secrets';
import type { Node } from '../../../extension/views/items';
import { activate, admin, env, pub, waitFor } from './env';

// A user's path through the extension, against the real daemon run.mjs started: resources made
// through the API show up in the trees, commands change them, a shuttle gets a working terminal.
describe('workflow against a real daemon', function () {
  let api: OnMemOSExtensionApi;
  let passport: string;
  let workspace: Workspace;
  let session: Session | undefined;
  let term: { terminal: vscode.Terminal; pty: import('../../../extension/terminals/shellPty').ShellPty } | undefined;

  async function labels(view: 'workspaces' | 'vaults' | 'drives' | 'shuttles', parent?: Node): Promise<string[]> {
    const p = api.container.trees.providers.get(view)!;
    const nodes = (await p.getChildren(parent)) ?? [];
    return Promise.all(nodes.map(async (n) => {
      const item = await p.getTreeItem(n);
      return `${item.label}${item.description ? ` — ${item.description}` : ''}`;
    }));
  }

  before(async () => {
    api = await activate();
    const { user } = await admin<{ user: { user_id: string } }>('POST', '/users', { email: `ext-${Date.now()}@example.com`, name: 'Extension Test' });
    const created = await admin<{ passport: string }>('POST', '/passports', { user_id: user.user_id, name: 'ext-host' });
    passport = created.passport;
    workspace = (await admin<{ workspace: Workspace }>('POST', '/workspaces', { user_id: user.user_id, name: 'ext-ws' })).workspace;
  });

  after(async () => {
    if (session) await pub(passport, 'DELETE', `/v1/sessions/${session.id}`).catch(() => {});
  });

  it('starts without a passport and says so', async () => {
    assert.equal(api.container.connection.settings.publicUrl, env.publicUrl);
    assert.equal(await api.container.connection.check(), 'noPassport');
    assert.deepEqual(await labels('workspaces'), []);
  });

  it('keeps the passport in SecretStorage, keyed by the daemon URL, never in settings', async () => {
    assert.equal(await api.container.storeSecret('passport', passport), true);
    assert.equal(await api.container.context.secrets.get(secretKey('passport', env.publicUrl)), passport);
    assert.equal(api.container.connection.state, 'ready');
    const settings = JSON.stringify(vscode.workspace.getConfiguration('onmemos'));
    assert.ok(!settings.includes(passport), 'the passport leaked into settings');
    // The admin key arrives the same way (the admin forms use it).
    assert.equal(await api.container.storeSecret('adminKey', env.adminKey), true);
    assert.equal(await api.container.context.secrets.get(secretKey('adminKey', env.adminUrl)), env.adminKey);
  });

  it('shows workspaces and a vault created through the API (by polling, no refresh command)', async () => {
    await waitFor('the workspace row', async () => (await labels('workspaces')).some((l) => l.startsWith('ext-ws')));
    const r = await pub<StorageResource>(passport, 'POST', '/v1/storage/buckets', { workspace_id: workspace.workspace_id, name: 'sdk-vault' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const rows = await waitFor('the vault row', async () => {
      const l = await labels('vaults');
      return l.some((x) => x.startsWith('sdk-vault')) && l;
    }, 15_000);
    assert.match(rows.find((x) => x.startsWith('sdk-vault'))!, /default · 10 GB · \/workspace · read-write/);
  });

  it('creates a drive by command, with the server accepting what validation let through', async () => {
    const drive = await vscode.commands.executeCommand<StorageResource>('onmemos.drive.create', { workspace_id: workspace.workspace_id, name: 'scratch-drive', mount_path: '/scratch' });
    assert.ok(drive, 'the command returned no drive');
    assert.equal(drive.storage_type, 'filestore');
    assert.ok((await labels('drives')).some((l) => l.startsWith('scratch-drive') && l.includes('/scratch')));
    const moved = await vscode.commands.executeCommand<StorageResource>('onmemos.storage.changeMountPath', drive.resource_id, '/mnt/scratch');
    assert.equal(moved?.mount_path, '/mnt/scratch');
    const toggled = await vscode.commands.executeCommand<StorageResource>('onmemos.storage.toggleAutoMount', drive.resource_id);
    assert.equal(toggled?.auto_mount, !drive.auto_mount);
    await waitFor('the drive row to follow', async () => (await labels('drives')).some((l) => l.includes('/mnt/scratch')));
  });

  it('launches a shuttle by command and opens a terminal that runs commands', async () => {
    const before = vscode.window.terminals.length;
    session = await vscode.commands.executeCommand<Session>('onmemos.shuttle.launch', { workspace_id: workspace.workspace_id, ttl_minutes: 15 });
    assert.ok(session, 'no shuttle launched (see the OnMemOS log)');
    assert.equal(session.status, 'running');
    await waitFor('a new terminal', () => vscode.window.terminals.length > before);
    const entry = [...api.container.terminals.terminals].find(([, pty]) => pty.sessionId === session!.id);
    assert.ok(entry, 'no terminal bound to the shuttle');
    const [terminal, pty] = entry;
    assert.match(terminal.name, /^OnMemOS: /);
    await waitFor('the shell hello', () => pty.id);
    terminal.sendText('echo "ext-$((6*7))"; pwd');
    await waitFor('the echo output in the terminal', () => /ext-42/.test(pty.transcript), 20_000);
    assert.ok((await labels('shuttles')).some((l) => l.includes('running')));
    term = { terminal, pty };
  });

  it('reattaches to the same shell, scrollback first, when the socket drops', async () => {
    const { terminal, pty } = term!;
    const shell = pty.id;
    const mark = pty.transcript.length;
    (pty as unknown as { ws: { terminate(): void } }).ws.terminate();
    await waitFor('the scrollback replayed after the reattach', () => pty.transcript.slice(mark).includes('ext-42'), 20_000);
    assert.equal(pty.id, shell, 'a new shell was opened instead of reattaching');
    terminal.sendText('echo "again-$((1+1))"');
    await waitFor('output after the reattach', () => pty.transcript.slice(mark).includes('again-2'));
  });

  it('shows the exit code when the shell ends', async () => {
    const { terminal, pty } = term!;
    terminal.sendText('exit 7');
    await waitFor('the exit code', () => pty.exited === 7);
    assert.match(pty.transcript, /exited with code 7/);
  });

  it('runs a command through Execute and reports its exit code', async () => {
    const r = await vscode.commands.executeCommand<ExecuteResult>('onmemos.shuttle.execute', session!.id, 'echo from-exec; echo oops >&2; exit 3');
    assert.ok(r);
    assert.equal(r.exit_code, 3);
    assert.match(r.stdout, /from-exec/);
    assert.match(r.stderr, /oops/);
  });

  it('refuses to delete a vault attached to a running shuttle, then deletes it once terminated', async () => {
    const vault = api.container.model.snapshot.storage.find((x) => x.name === 'sdk-vault')!;
    const mounted = session!.storage_config.mounts.some((m) => m.resource_id === vault.resource_id);
    assert.ok(mounted, 'the default vault was not mounted into the shuttle');
    assert.equal(await vscode.commands.executeCommand('onmemos.storage.delete', vault.resource_id, { confirm: false }), false);
    assert.ok(api.container.model.snapshot.storage.some((x) => x.resource_id === vault.resource_id));
    assert.equal(await vscode.commands.executeCommand('onmemos.shuttle.terminate', session!.id, { confirm: false }), true);
    await waitFor('the shuttle to leave the tree', async () => !(await labels('shuttles')).length);
    session = undefined;
    assert.equal(await vscode.commands.executeCommand('onmemos.storage.delete', vault.resource_id, { confirm: false }), true);
    await waitFor('the vault to leave the tree', async () => !(await labels('vaults')).some((l) => l.startsWith('sdk-vault')));
  });
});
