// What every service gets: built once in main.ts (config → store → providers → services → apps).
import type { DaemonConfig } from '../config';
import type { Logger } from '../log';
import type { RowOf, SessionRow, Store } from '../store';
import { notFound } from '../errors';
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

export const now = () => new Date().toISOString();
export const newId = (prefix: string, bytes = 6) => `${prefix}${randomBytes(bytes).toString('hex')}`;
