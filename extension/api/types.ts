// Shapes of the daemon API the extension reads (DESIGN.md "API contract").
// Kept structural so the typed client in daemon/client satisfies them; only the fields the
// extension uses are listed.
export interface User {
  user_id: string;
  email: string;
  name?: string | null;
  user_type?: string;
  credits?: number;
  created_at?: string;
}

export interface PassportInfo {
  passport_id: string;
  user_id: string;
  name?: string;
  permissions?: string[];
  created_at?: string;
  expires_at?: string | null;
}

export interface CreatedPassport extends PassportInfo {
  passport_key: string;
  passport: string;
}

export interface Workspace {
  workspace_id: string;
  user_id: string;
  name: string;
  resource_package?: string | null;
  k8s_namespace?: string | null;
  identity_state?: string | null;
  created_at?: string;
}

export type StorageType = 'bucket' | 'filestore';
export type AccessMode = 'RW' | 'RO';

export interface StorageResource {
  resource_id: string;
  name: string;
  storage_type: StorageType;
  size_gb?: number | null;
  workspace_id: string;
  auto_mount: boolean;
  mount_path: string;
  access_mode: AccessMode | string;
  is_default: boolean;
  state?: string;
}

export interface StorageList {
  workspace_id: string;
  resources: StorageResource[];
  defaults: { bucket_id?: string | null; filestore_id?: string | null };
}

export interface Mount {
  resource_id: string;
  type: StorageType | string;
  mount_path: string;
  access_mode: string;
}

export interface Session {
  id: string;
  session_id?: string;
  workspace_id: string;
  user?: string;
  provider?: string;
  status: string;
  k8s_namespace?: string | null;
  pod_name?: string | null;
  storage_config?: { bucket_name?: string | null; pvc_name?: string | null; mounts?: Mount[] };
  ttl_minutes?: number | null;
  created_at?: string;
  expires_at?: string | null;
}

export interface CreateSessionRequest {
  workspace_id: string;
  ttl_minutes?: number;
  vault_id?: string;
  drive_id?: string;
}

export interface ExecuteResult {
  session_id?: string;
  command: string;
  stdout: string;
  stderr: string;
  returncode?: number;
  exit_code: number;
  success: boolean;
  duration_ms?: number;
  timed_out?: boolean;
}

export interface StoragePatch {
  is_default?: boolean;
  auto_mount?: boolean;
  mount_path?: string;
  access_mode?: AccessMode;
}

export interface CreateStorageRequest {
  workspace_id: string;
  name: string;
  size_gb?: number;
  auto_mount?: boolean;
  mount_path?: string;
  access_mode?: AccessMode;
}

export interface ShellInfo {
  shell_id: string;
  created_at?: string;
  attached?: boolean;
  cols?: number;
  rows?: number;
}
