// Vaults (buckets) and drives (filestores): flat resources of a workspace, with per-workspace
// defaults. The first of each type becomes the default. Deleting one attached to a live shuttle is 409.
import type { View, StorageRow, WorkspaceRow } from '../store';
import type { AccessMode, StorageType } from '../providers/types';
import { conflict, notFound } from '../errors';
import { assertOwnerActive, isLive, newId, now, ownedRow, type ServiceContext } from './context';
import { workspaceRef } from './workspaces';

const defaultKey = (t: StorageType) => (t === 'bucket' ? 'bucket_id' : 'filestore_id') as 'bucket_id' | 'filestore_id';

export function isDefault(r: StorageRow, w: WorkspaceRow | undefined): boolean {
  return !!w && w.defaults[defaultKey(r.storage_type)] === r.resource_id;
}

const label = (r: StorageRow) => (r.storage_type === 'bucket' ? 'vault' : 'drive');

/** The 409 for attaching, changing or picking a vault or drive that a delete has claimed. */
export function beingDeleted(r: StorageRow) {
  return conflict(`${label(r)} ${r.name} is being deleted; use another ${label(r)}`, { resource_id: r.resource_id });
}

export function liveAttachments(d: View, resource_id: string): string[] {
  const live = new Set(d.sessions.filter(isLive).map((s) => s.session_id));
  return d.session_attachments.filter((a) => a.resource_id === resource_id && !a.detached_at && live.has(a.session_id)).map((a) => a.session_id);
}

export interface NewResource {
  name: string;
  storage_type: StorageType;
  size_gb: number;
  auto_mount: boolean;
  mount_path: string;
  access_mode: AccessMode;
}

export function storage(ctx: ServiceContext) {
  const { store } = ctx;
  const getOwned = (user_id: string, resource_id: string): StorageRow => ownedRow(store, 'storage_resources', resource_id, user_id, 'storage resource');
  const workspaceOf = (r: StorageRow) => store.get('workspaces', r.workspace_id);

  const service = {
    getOwned,
    workspaceOf,
    list: (filter: { user_id?: string; workspace_id?: string }) =>
      store.data.storage_resources.filter((r) => (!filter.user_id || r.user_id === filter.user_id) && (!filter.workspace_id || r.workspace_id === filter.workspace_id)),

    async create(w: WorkspaceRow, b: NewResource): Promise<StorageRow> {
      assertOwnerActive(store, w.user_id, w.workspace_id);
      if (store.data.storage_resources.some((r) => r.workspace_id === w.workspace_id && r.name === b.name)) {
        throw conflict(`workspace ${w.workspace_id} already has a vault or drive named "${b.name}"`);
      }
      const resource_id = newId(b.storage_type === 'bucket' ? 'vault-' : 'drive-', 6);
      const backing = { resource_id, name: b.name, type: b.storage_type, size_gb: b.size_gb };
      const { backing_name } = await ctx.storage.createResource(workspaceRef(w), backing);
      // Its workspace (or user) deleted or being deleted meanwhile: the row is refused, and the
      // backing just made goes too (that delete's list of resources does not hold it).
      let ownerGone = false;
      try {
        return await store.write((d, tx) => {
          try { assertOwnerActive(store, w.user_id, w.workspace_id); } catch (e) { ownerGone = true; throw e; }
          if (d.storage_resources.some((r) => r.workspace_id === w.workspace_id && r.name === b.name)) {
            throw conflict(`workspace ${w.workspace_id} already has a vault or drive named "${b.name}"`);
          }
          const row: StorageRow = { resource_id, ...b, workspace_id: w.workspace_id, user_id: w.user_id, backing_name, state: 'ready', created_at: now() };
          tx.put('storage_resources', row);
          const ws = store.get('workspaces', w.workspace_id)!;
          if (!ws.defaults[defaultKey(b.storage_type)]) {
            ws.defaults[defaultKey(b.storage_type)] = resource_id;
            tx.put('workspaces', ws);
          }
          return row;
        });
      } catch (e) {
        if (ownerGone) {
          await ctx.storage.deleteResource(workspaceRef(w), { ...backing, backing_name })
            .catch((err: unknown) => ctx.log.warn('removing the backing of a refused vault or drive failed', { resource_id, error: String(err) }));
        }
        throw e;
      }
    },

    async patch(user_id: string, resource_id: string, b: { is_default?: boolean; auto_mount?: boolean; mount_path?: string; access_mode?: AccessMode }) {
      getOwned(user_id, resource_id);
      return store.write((d, tx) => {
        const r = store.get('storage_resources', resource_id);
        if (!r) throw notFound('storage resource');
        if (r.state === 'deleting') throw beingDeleted(r);
        if (b.auto_mount !== undefined) r.auto_mount = b.auto_mount;
        if (b.mount_path !== undefined) r.mount_path = b.mount_path;
        if (b.access_mode !== undefined) r.access_mode = b.access_mode;
        const ws = store.get('workspaces', r.workspace_id);
        if (ws && b.is_default === true) ws.defaults[defaultKey(r.storage_type)] = r.resource_id;
        if (ws && b.is_default === false && ws.defaults[defaultKey(r.storage_type)] === r.resource_id) ws.defaults[defaultKey(r.storage_type)] = null;
        tx.put('storage_resources', r);
        if (ws) tx.put('workspaces', ws);
        return r;
      });
    },

    async setDefaults(w: WorkspaceRow, b: { bucket_id?: string | null; filestore_id?: string | null }) {
      for (const [key, type] of [['bucket_id', 'bucket'], ['filestore_id', 'filestore']] as const) {
        const id = b[key];
        if (id === undefined || id === null) continue;
        const r = store.data.storage_resources.find((x) => x.resource_id === id && x.workspace_id === w.workspace_id);
        if (!r) throw notFound(`${type === 'bucket' ? 'vault' : 'drive'} ${id} in this workspace`);
        if (r.storage_type !== type) throw conflict(`${id} is a ${r.storage_type}, not a ${type}`);
        if (r.state === 'deleting') throw beingDeleted(r);
      }
      return store.write((d, tx) => {
        const ws = store.get('workspaces', w.workspace_id);
        if (!ws) throw notFound('workspace');
        if (b.bucket_id !== undefined) ws.defaults.bucket_id = b.bucket_id;
        if (b.filestore_id !== undefined) ws.defaults.filestore_id = b.filestore_id;
        tx.put('workspaces', ws);
        return { workspace_id: ws.workspace_id, defaults: { ...ws.defaults } };
      });
    },

    /**
     * Claim, then delete: one write checks that no live shuttle has it attached and marks it
     * 'deleting' (from then on no launch attaches it, see sessions' pickStorage and launch record),
     * and only then do its data go. A refused delete changes nothing; a failed one puts the state
     * back. A resource already 'deleting' (a delete that failed to finish, a daemon stopped midway)
     * is deleted again. `promote: false` (undoing a refused launch's on-demand resource) leaves no
     * default in its place instead of promoting another.
     */
    async remove(resource_id: string, options: { promote?: boolean } = {}) {
      const r = await store.write((d, tx) => {
        const row = store.get('storage_resources', resource_id);
        if (!row) throw notFound('storage resource');
        const using = liveAttachments(d, resource_id);
        if (using.length) throw conflict(`${row.name} is attached to live shuttle(s) ${using.join(', ')}; terminate them first`, { session_ids: using });
        if (row.state !== 'deleting') { row.state = 'deleting'; tx.put('storage_resources', row); }
        return row;
      });
      const w = workspaceOf(r);
      try {
        if (w) await ctx.storage.deleteResource(workspaceRef(w), { resource_id, name: r.name, type: r.storage_type, backing_name: r.backing_name });
      } catch (e) {
        await store.write((_d, tx) => {
          const row = store.get('storage_resources', resource_id);
          if (row?.state === 'deleting') { row.state = 'ready'; tx.put('storage_resources', row); }
        }).catch((err: unknown) => ctx.log.warn('a vault or drive whose delete failed could not be put back to ready', { resource_id, error: String(err) }));
        throw e;
      }
      await store.write((d, tx) => {
        if (!store.get('storage_resources', resource_id)) return; // another delete of it finished first
        tx.del('storage_resources', resource_id);
        const ws = store.get('workspaces', r.workspace_id);
        const key = defaultKey(r.storage_type);
        if (ws && ws.defaults[key] === resource_id) {
          // Promote the oldest remaining resource of the same type, as the first one would have been.
          ws.defaults[key] = options.promote === false ? null
            : d.storage_resources.find((x) => x.workspace_id === ws.workspace_id && x.storage_type === r.storage_type && x.state !== 'deleting')?.resource_id ?? null;
          tx.put('workspaces', ws);
        }
      });
    },
    async removeMany(ids: string[]) {
      for (const id of ids) await service.remove(id);
    },
  };
  return service;
}
