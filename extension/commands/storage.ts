import * as vscode from 'vscode';
import { plainText } from '../api/errors';
import type { AccessMode, StorageResource } from '../api/types';
import { COMMANDS } from '../commandIds';
import type { Services } from '../services';
import { validateMountPath, validateStorageName } from '../validation';
import { storageKind as noun } from '../views/items';
import { act, ensureReady, pickStorage, pickWorkspace } from './util';

export interface CreateStorageOptions { workspace_id?: string; name?: string; mount_path?: string; access_mode?: AccessMode; auto_mount?: boolean }

const DEFAULT_MOUNT = { bucket: '/workspace', filestore: '/data' } as const;

export async function createStorage(s: Services, type: 'bucket' | 'filestore', arg?: unknown): Promise<StorageResource | undefined> {
  if (!(await ensureReady(s))) return undefined;
  const kind = type === 'bucket' ? 'Vault' : 'Drive';
  const opts: CreateStorageOptions = typeof arg === 'object' && arg !== null && !('kind' in arg) ? arg as CreateStorageOptions : {};
  const ws = await pickWorkspace(s, opts.workspace_id ?? arg, `Create ${kind} (1/3): workspace`);
  if (!ws) return undefined;
  const taken = new Set(s.model.snapshot.storage.filter((r) => r.workspace_id === ws.workspace_id).map((r) => r.name));
  const name = opts.name ?? await vscode.window.showInputBox({
    title: `Create ${kind} in ${ws.name} (2/3): name`,
    prompt: type === 'bucket' ? 'A vault is a bucket mounted into shuttles. Lowercase letters, digits and hyphens (3–63).' : 'A drive is a shared volume mounted into shuttles. Lowercase letters, digits and hyphens (3–63).',
    placeHolder: type === 'bucket' ? 'my-vault' : 'my-drive',
    ignoreFocusOut: true,
    validateInput: (v) => validateStorageName(v) ?? (taken.has(v.trim()) ? `“${v.trim()}” already exists in ${ws.name}.` : undefined),
  });
  if (!name) return undefined;
  const mountPath = opts.mount_path ?? await vscode.window.showInputBox({
    title: `Create ${kind} “${name}” (3/3): mount path`, prompt: 'Where shuttles see it: an absolute path without “..”.',
    value: DEFAULT_MOUNT[type], ignoreFocusOut: true, validateInput: validateMountPath,
  });
  if (!mountPath) return undefined;
  const req = { workspace_id: ws.workspace_id, name: name.trim(), mount_path: mountPath.trim(), access_mode: opts.access_mode, auto_mount: opts.auto_mount };
  const created = await act(s, `Create ${kind.toLowerCase()} “${name}”`, () => vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: plainText(`Creating ${kind.toLowerCase()} ${name}…`) },
    () => (type === 'bucket' ? s.connection.api.createBucket(req) : s.connection.api.createFilestore(req))));
  if (created) {
    void vscode.window.showInformationMessage(plainText(`${kind} “${created.name}” created${created.is_default ? ' (the default of its workspace)' : ''}, mounted at ${created.mount_path} in new shuttles.`));
  }
  return created;
}

async function update(s: Services, arg: unknown, title: string, patchFor: (r: StorageResource) => Promise<Parameters<Services['connection']['api']['updateStorage']>[1] | undefined>): Promise<StorageResource | undefined> {
  if (!(await ensureReady(s))) return undefined;
  const r = await pickStorage(s, arg, title);
  if (!r) return undefined;
  const patch = await patchFor(r);
  if (!patch) return undefined;
  return act(s, `${title} (${noun(r)} “${r.name}”)`, () => s.connection.api.updateStorage(r.resource_id, patch));
}

export function registerStorageCommands(s: Services): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand(COMMANDS.createVault, (arg?: unknown) => createStorage(s, 'bucket', arg)),
    vscode.commands.registerCommand(COMMANDS.createDrive, (arg?: unknown) => createStorage(s, 'filestore', arg)),
    vscode.commands.registerCommand(COMMANDS.setDefault, (arg?: unknown) => update(s, arg, 'Set as workspace default', async () => ({ is_default: true }))),
    vscode.commands.registerCommand(COMMANDS.toggleAutoMount, (arg?: unknown) => update(s, arg, 'Toggle auto-mount', async (r) => ({ auto_mount: !r.auto_mount }))),
    vscode.commands.registerCommand(COMMANDS.changeMountPath, (arg?: unknown, value?: unknown) => update(s, arg, 'Change mount path', async (r) => {
      const v = typeof value === 'string' ? value : await vscode.window.showInputBox({
        title: `Mount path of ${noun(r)} “${r.name}”`, prompt: 'Takes effect in shuttles launched from now on.', value: r.mount_path, validateInput: validateMountPath,
      });
      if (!v || v.trim() === r.mount_path) return undefined;
      const problem = validateMountPath(v);
      if (problem) throw Object.assign(new Error(problem), { status: 400, message: problem });
      return { mount_path: v.trim() };
    })),
    vscode.commands.registerCommand(COMMANDS.changeAccessMode, (arg?: unknown, value?: unknown) => update(s, arg, 'Change access mode', async (r) => {
      const mode = value === 'RW' || value === 'RO' ? value : (await vscode.window.showQuickPick([
        { label: 'Read-write', description: r.access_mode === 'RW' ? 'current' : '', mode: 'RW' as const },
        { label: 'Read-only', description: r.access_mode === 'RO' ? 'current' : '', mode: 'RO' as const },
      ], { title: `Access mode of ${noun(r)} “${r.name}” in new shuttles` }))?.mode;
      return mode && mode !== r.access_mode ? { access_mode: mode } : undefined;
    })),
    vscode.commands.registerCommand(COMMANDS.deleteStorage, async (arg?: unknown, o?: { confirm?: boolean }) => {
      if (!(await ensureReady(s))) return false;
      const r = await pickStorage(s, arg, 'Delete which vault or drive?');
      if (!r) return false;
      if (o?.confirm !== false) {
        const ok = await vscode.window.showWarningMessage(plainText(`Delete ${noun(r)} “${r.name}” and all its data?`),
          { modal: true, detail: `This cannot be undone. A ${noun(r)} attached to a running shuttle cannot be deleted: terminate that shuttle first.` }, 'Delete');
        if (ok !== 'Delete') return false;
      }
      const done = await act(s, `Delete ${noun(r)} “${r.name}”`, () => s.connection.api.deleteStorage(r.resource_id).then(() => true));
      return done === true;
    }),
  ];
}
