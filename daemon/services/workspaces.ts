// Workspaces ("docks"): a user's unit of isolation. On gke a namespace + KSA (+ GSA) each; on local
// a directory. Names of the cloud identities are derived here so both providers agree.
import { createHash } from 'node:crypto';
import type { WorkspaceRow } from '../store';
import type { WorkspaceRef } from '../providers/types';
import { conflict, notFound } from '../errors';
import { assertOwnerActive, claimForDelete, newId, now, ownedRow, type ServiceContext } from './context';

export const KSA_NAME = 'onmemos-shuttle';

export function workspaceRef(w: WorkspaceRow): WorkspaceRef {
  return { workspace_id: w.workspace_id, user_id: w.user_id, name: w.name, k8s_namespace: w.k8s_namespace, ksa_name: w.ksa_name, gsa_email: w.gsa_email };
}

/** GSA account ids are 6–30 chars of [a-z0-9-]; derive a stable one from the workspace id. */
export function gsaEmail(workspace_id: string, project = 'onmemos-local'): string {
  const h = createHash('sha256').update(workspace_id).digest('hex').slice(0, 12);
  return `onm-${h}@${project}.iam.gserviceaccount.com`;
}

export function workspaces(ctx: ServiceContext) {
  const { store } = ctx;
  const getAny = (id: string): WorkspaceRow => {
    const w = store.get('workspaces', id);
    if (!w) throw notFound('workspace');
    return w;
  };
  /** A workspace of this user, else 404 (never reveal that another user's exists). */
  const getOwned = (user_id: string, id: string): WorkspaceRow => ownedRow(store, 'workspaces', id, user_id, 'workspace');
  return {
    getAny,
    getOwned,
    list: (user_id?: string) => store.data.workspaces.filter((w) => !user_id || w.user_id === user_id),
    async create(b: { user_id: string; name: string; workspace_id?: string; resource_package: string; description: string }) {
      assertOwnerActive(store, b.user_id);
      const workspace_id = b.workspace_id ?? newId('ws-', 5);
      if (store.data.workspaces.some((w) => w.workspace_id === workspace_id)) throw conflict(`workspace_id "${workspace_id}" is taken`);
      if (store.data.workspaces.some((w) => w.user_id === b.user_id && w.name === b.name)) throw conflict(`this user already has a workspace named "${b.name}"`);
      const row: WorkspaceRow = {
        workspace_id, user_id: b.user_id, name: b.name, resource_package: b.resource_package, description: b.description,
        k8s_namespace: `onm-${workspace_id}`, ksa_name: KSA_NAME, gsa_email: gsaEmail(workspace_id, ctx.config.gcpProject),
        identity_state: 'pending', defaults: { bucket_id: null, filestore_id: null }, created_at: now(),
      };
      const identity = await ctx.storage.ensureWorkspace(workspaceRef(row));
      // Its user deleted or being deleted meanwhile: the row is refused, and what was just made for
      // it goes too (unless the id is another workspace's by now).
      let ownerGone = false;
      try {
        return await store.write((d, tx) => {
          try { assertOwnerActive(store, b.user_id); } catch (e) { ownerGone = true; throw e; }
          if (d.workspaces.some((w) => w.workspace_id === workspace_id)) throw conflict(`workspace_id "${workspace_id}" is taken`);
          if (d.workspaces.some((w) => w.user_id === b.user_id && w.name === b.name)) throw conflict(`this user already has a workspace named "${b.name}"`);
          row.identity = identity;
          row.identity_state = ctx.config.provider === 'local' ? 'ready' : 'pending';
          tx.put('workspaces', row);
          return row;
        });
      } catch (e) {
        if (ownerGone && !store.get('workspaces', workspace_id)) {
          await ctx.storage.deleteWorkspace(workspaceRef(row))
            .catch((err: unknown) => ctx.log.warn('removing what was made for a refused workspace failed', { workspace_id, error: String(err) }));
        }
        throw e;
      }
    },
    /** Delete a workspace with its vaults and drives (claimForDelete: refused while it has live shuttles). */
    async remove(id: string, deleteStorage: (resourceIds: string[]) => Promise<void>) {
      await claimForDelete(ctx, 'workspaces', 'workspace', id, async (w) => {
        await deleteStorage(store.data.storage_resources.filter((r) => r.workspace_id === id).map((r) => r.resource_id));
        await ctx.storage.deleteWorkspace(workspaceRef(w));
      });
      await store.write((_d, tx) => { if (store.get('workspaces', id)) tx.del('workspaces', id); });
    },
    async ensureIdentity(id: string, options: { project?: string; region?: string; cluster?: string; bucket?: string }) {
      const w = getAny(id);
      let state: WorkspaceRow['identity_state'];
      let identity: Record<string, unknown>;
      if (ctx.ensureIdentity) {
        ({ state, identity } = await ctx.ensureIdentity(workspaceRef(w), options));
      } else {
        identity = { provider: ctx.config.provider, ...(await ctx.storage.ensureWorkspace(workspaceRef(w))) };
        state = 'ready';
      }
      return store.write((d, tx) => {
        const row = store.get('workspaces', id);
        if (!row) throw notFound('workspace');
        row.identity_state = state;
        row.identity = identity;
        tx.put('workspaces', row);
        return { identity: { workspace_id: id, state, k8s_namespace: row.k8s_namespace, ksa_name: row.ksa_name, gsa_email: row.gsa_email, ...identity } };
      });
    },
  };
}
