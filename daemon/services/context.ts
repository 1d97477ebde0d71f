// What every service gets: built once in main.ts (config → store → providers → services → apps).
import type { DaemonConfig } from '../config';
import type { Logger } from '../log';
import type { RowOf, SessionRow, Store } from '../store';
import { conflict, notFound } from '../errors';
import type { ComputeProvider, StorageProvider } from '../providers/types';
import type { TokenService } from '../auth/tokens';
import { randomBytes } from 'node:crypto';

export interface IdentityProvisioner {
  (workspace: import('../providers/types').WorkspaceRef, options: { project?: string; region?: string; cluster?: string; bucket?: string }):
    Promise<{ state: 'ready' | 'pending' | 'failed'; identity: Record<string, unknown> }>;
}

export interface ServiceContext {
  config: DaemonConfig;
  log: Logger;
  store: Store;
  compute: ComputeProvider;
  storage: StorageProvider;
  tokens: TokenService;
  ensureIdentity?: IdentityProvisioner;
  /** Find (and unless dry_run, delete) provider objects no live record owns (gke: owner labels). */
  gc?: (live: { workspace_ids: Iterable<string>; session_ids: Iterable<string>; resource_ids: Iterable<string> }, dryRun?: boolean) =>
    Promise<{ dry_run: boolean; orphans: unknown[]; deleted: number; errors: string[] }>;
}

/** A shuttle that holds (or is about to hold) a sandbox: pending or running. */
export const isLive = (s: Pick<SessionRow, 'status'>) => s.status === 'running' || s.status === 'pending';

/** The row with primary key `key` if it belongs to `user_id`, else a 404 that does not reveal whether it exists. */
export function ownedRow<T extends 'workspaces' | 'sessions' | 'storage_resources'>(store: Store, table: T, key: string, user_id: string, what: string): RowOf<T> {
  const row = store.get(table, key);
  if (!row || row.user_id !== user_id) throw notFound(what);
  return row;
}

/**
 * What a new shuttle, workspace, vault or drive is added to must still be there (else 404) and not
 * be being deleted (else 409). Called inside the write that adds it, so a delete either claimed the
 * owner first (this refuses) or sees what was added (and refuses itself).
 */
export function assertOwnerActive(store: Store, user_id: string, workspace_id?: string): void {
  const u = store.get('users', user_id);
  if (!u) throw notFound('user');
  if (u.deleting_at) throw conflict('this user is being deleted; nothing new can be added to it');
  if (workspace_id === undefined) return;
  const w = store.get('workspaces', workspace_id);
  if (!w || w.user_id !== user_id) throw notFound('workspace');
  if (w.deleting_at) throw conflict(`workspace ${workspace_id} is being deleted; use another workspace`);
}

/**
 * Delete a user or a workspace, claiming it first: one write checks that it has no live shuttles
 * (409) and marks it deleting (`deleting_at`), so nothing can be added to it from then on (each add
 * checks in its own write, assertOwnerActive) while `work` removes what it owns. If `work` fails the
 * mark is taken back. A row already marked (a delete that failed to finish) is deleted again.
 * Returns the row; the caller's last write removes it.
 */
export async function claimForDelete<T extends 'users' | 'workspaces'>(
  ctx: ServiceContext, table: T, what: 'user' | 'workspace', id: string, work: (row: RowOf<T>) => Promise<void>,
): Promise<RowOf<T>> {
  const { store } = ctx;
  const key = `${what}_id` as const;
  const row = await store.write((d, tx) => {
    const r = store.get(table, id);
    if (!r) throw notFound(what);
    const live = d.sessions.filter((s) => s[key] === id && isLive(s));
    if (live.length) throw conflict(`${what} has ${live.length} live shuttle(s); terminate them first`, { session_ids: live.map((s) => s.session_id) });
    if (!r.deleting_at) { r.deleting_at = now(); tx.put(table, r); }
    return r;
  });
  try {
    await work(row);
  } catch (e) {
    await store.write((_d, tx) => {
      const r = store.get(table, id);
      if (r?.deleting_at) { delete r.deleting_at; tx.put(table, r); }
    }).catch((err: unknown) => ctx.log.warn(`a ${what} whose delete failed is still marked deleting`, { [key]: id, error: String(err) }));
    throw e;
  }
  return row;
}

export const now = () => new Date().toISOString();
export const newId = (prefix: string, bytes = 6) => `${prefix}${randomBytes(bytes).toString('hex')}`;
