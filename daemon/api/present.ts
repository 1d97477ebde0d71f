// Store rows → the API's shapes (DESIGN.md). Secrets and internal fields never leave here.
import type { PassportRow, SessionRow, Store, StorageRow, UserRow, WorkspaceRow } from '../store';

/** Rows by primary key (the store's index): presenting a list never scans a table per row. */
type Rows = Pick<Store, 'get'>;
import type { z } from 'zod';
import type * as S from './schemas';
import { passportState } from '../services/users';
import { isDefault } from '../services/storage';

export const presentUser = (u: UserRow): z.infer<typeof S.User> => ({
  user_id: u.user_id, email: u.email, name: u.name, user_type: u.user_type, credits: u.credits, created_at: u.created_at,
});

export const presentPassport = (p: PassportRow): z.infer<typeof S.PassportInfo> => ({
  passport_id: p.passport_id, user_id: p.user_id, name: p.name, key_prefix: p.key_prefix, permissions: p.permissions,
  created_at: p.created_at, expires_at: p.expires_at, revoked_at: p.revoked_at, last_used_at: p.last_used_at, state: passportState(p),
});

export const presentWorkspace = (w: WorkspaceRow): z.infer<typeof S.Workspace> => ({
  workspace_id: w.workspace_id, user_id: w.user_id, name: w.name, resource_package: w.resource_package, description: w.description,
  k8s_namespace: w.k8s_namespace, ksa_name: w.ksa_name, gsa_email: w.gsa_email, identity_state: w.identity_state,
  created_at: w.created_at, defaults: { ...w.defaults },
});

export function presentResource(r: StorageRow, rows: Rows): z.infer<typeof S.StorageResource> {
  const w = rows.get('workspaces', r.workspace_id);
  return {
    resource_id: r.resource_id, name: r.name, storage_type: r.storage_type, size_gb: r.size_gb, workspace_id: r.workspace_id,
    auto_mount: r.auto_mount, mount_path: r.mount_path, access_mode: r.access_mode, is_default: isDefault(r, w), state: r.state,
    created_at: r.created_at, ...(r.storage_type === 'bucket' ? { bucket_name: r.backing_name } : { pvc_name: r.backing_name }),
  };
}

export function presentSession(s: SessionRow, rows: Rows): z.infer<typeof S.Session> {
  const backing = (type: string) => {
    const m = s.mounts.find((x) => x.type === type);
    return m ? rows.get('storage_resources', m.resource_id)?.backing_name ?? m.name : undefined;
  };
  const bucket_name = backing('bucket');
  const pvc_name = backing('filestore');
  return {
    id: s.session_id, session_id: s.session_id, workspace_id: s.workspace_id, user: s.user_id, user_id: s.user_id,
    provider: s.provider, template: s.template_id, status: s.status, k8s_namespace: s.k8s_namespace, pod_name: s.pod_name,
    details: { k8s_ns: s.k8s_namespace, pod: s.pod_name },
    storage_config: { ...(bucket_name ? { bucket_name } : {}), ...(pvc_name ? { pvc_name } : {}), mounts: s.mounts.map((m) => ({ ...m })) },
    ttl_minutes: s.ttl_minutes, created_at: s.created_at, expires_at: s.expires_at, ended_at: s.ended_at, end_reason: s.end_reason,
  };
}
