// The local provider's storage: a vault or drive is a directory under <home>/storage/<resource_id>,
// bind-mounted into sandboxes at its mount_path. Used with the local compute provider.
import { mkdir, rm } from 'node:fs/promises';
import type { StorageProvider, WorkspaceRef } from './types';
import { storageDir } from './local/paths';

export class DirectoryStorageProvider implements StorageProvider {
  constructor(private readonly home: string) {}

  async ensureWorkspace(w: WorkspaceRef) {
    return { steps: [{ step: 'workspace', state: 'ready', detail: `local workspace ${w.workspace_id} (no cloud identity needed)` }] };
  }

  async deleteWorkspace(): Promise<void> {}

  async createResource(_w: WorkspaceRef, r: { resource_id: string; name: string }) {
    await mkdir(storageDir(this.home, r.resource_id), { recursive: true, mode: 0o755 });
    return { backing_name: r.name };
  }

  async deleteResource(_w: WorkspaceRef, r: { resource_id: string }) {
    await rm(storageDir(this.home, r.resource_id), { recursive: true, force: true });
  }
}
