// The store's tables (DESIGN.md "Store") and their forward migrations.
import type { AccessMode, StorageType } from '../providers/types';

export type UserType = 'free' | 'pro' | 'enterprise';

export interface UserRow {
  user_id: string;
  email: string;
  name: string;
  user_type: UserType;
  credits: number;
  created_at: string;
  updated_at: string;
  /** Set while a delete runs (its storage is going): no shuttle, workspace, vault or drive may be added. */
  deleting_at?: string;
}

export interface PassportRow {
  passport_id: string;
  user_id: string;
  name: string;
  /** sha256 of the secret, hex. The secret itself is never stored. */
  key_hash: string;
  /** First characters of the secret, shown in lists so a user can tell passports apart. */
  key_prefix: string;
  permissions: string[];
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
}

export type IdentityState = 'pending' | 'ready' | 'failed';

export interface WorkspaceRow {
  workspace_id: string;
  user_id: string;
  name: string;
  resource_package: string;
  description: string;
  k8s_namespace: string;
  ksa_name: string;
  gsa_email: string;
  identity_state: IdentityState;
  identity?: Record<string, unknown>;
  defaults: { bucket_id: string | null; filestore_id: string | null };
  created_at: string;
  /** Set while a delete runs (its storage is going): no shuttle, vault or drive may be added. */
  deleting_at?: string;
}

export interface StorageRow {
  resource_id: string;
  name: string;
  storage_type: StorageType;
  size_gb: number;
  workspace_id: string;
  user_id: string;
  auto_mount: boolean;
  mount_path: string;
  access_mode: AccessMode;
  /** Bucket name (gke) / PVC name / directory name (local). */
  backing_name: string;
  /** 'deleting' from the moment a delete claims it (no launch may attach it) until its row goes. */
  state: 'ready' | 'deleting';
  created_at: string;
}

export type SessionStatus = 'pending' | 'running' | 'terminated' | 'expired' | 'failed';

export interface SessionMount {
  resource_id: string;
  type: StorageType;
  name: string;
  mount_path: string;
  access_mode: AccessMode;
}

export interface SessionRow {
  session_id: string;
  workspace_id: string;
  user_id: string;
  provider: 'local' | 'gke';
  template_id: string;
  status: SessionStatus;
  k8s_namespace: string;
  pod_name: string;
  mounts: SessionMount[];
  /** Names only; values are passed to the provider once and never stored. */
  env_keys: string[];
  ttl_minutes: number;
  created_at: string;
  started_at: string | null;
  expires_at: string;
  ended_at: string | null;
  end_reason: string | null;
}

export interface AttachmentRow {
  session_id: string;
  resource_id: string;
  mount_path: string;
  access_mode: AccessMode;
  attached_at: string;
  detached_at: string | null;
}

export interface ProductRow {
  product_id: string;
  name: string;
  description: string;
  credits: number;
  active: boolean;
  created_at: string;
}

export interface PriceRow {
  price_id: string;
  product_id: string;
  amount_cents: number;
  currency: string;
  created_at: string;
}

export interface PurchaseOrderRow {
  order_id: string;
  user_id: string;
  price_id: string;
  product_id: string;
  credits: number;
  amount_cents: number;
  currency: string;
  status: 'fulfilled';
  created_at: string;
}

export interface UsageRow {
  usage_id: string;
  user_id: string;
  session_id: string;
  workspace_id: string;
  seconds: number;
  credits_charged: number;
  recorded_at: string;
}

export interface CreditTxRow {
  tx_id: string;
  user_id: string;
  /** Positive for additions, negative for usage charges. */
  amount: number;
  balance: number;
  source: string;
  description: string;
  created_at: string;
}

export interface Data {
  schema_version: number;
  users: UserRow[];
  passports: PassportRow[];
  workspaces: WorkspaceRow[];
  storage_resources: StorageRow[];
  sessions: SessionRow[];
  session_attachments: AttachmentRow[];
  products: ProductRow[];
  prices: PriceRow[];
  purchase_orders: PurchaseOrderRow[];
  usage_records: UsageRow[];
  credit_transactions: CreditTxRow[];
}

export const SCHEMA_VERSION = 2;

export function emptyData(): Data {
  return {
    schema_version: SCHEMA_VERSION,
    users: [], passports: [], workspaces: [], storage_resources: [], sessions: [],
    session_attachments: [], products: [], prices: [], purchase_orders: [], usage_records: [],
    credit_transactions: [],
  };
}

/**
 * Forward migrations: migrations[n] turns a version-n document into version n+1.
 * A store newer than this daemon is refused (never silently downgraded).
 */
const migrations: Record<number, (d: Record<string, unknown>) => void> = {
  // v1 had no credit ledger: start one holding each user's current balance.
  1: (d) => {
    const users = (d.users as UserRow[] | undefined) ?? [];
    d.credit_transactions = users.map((u, i) => ({
      tx_id: `tx_migrated_${i}`, user_id: u.user_id, amount: u.credits, balance: u.credits,
      source: 'migration', description: 'balance carried over from schema v1', created_at: u.created_at,
    }));
  },
};

export function migrate(raw: Record<string, unknown> | null): { data: Data; from: number | null } {
  if (!raw) return { data: emptyData(), from: null };
  const from = typeof raw.schema_version === 'number' ? raw.schema_version : 1;
  if (from > SCHEMA_VERSION) {
    throw new Error(`store schema_version ${from} is newer than this daemon understands (${SCHEMA_VERSION}); upgrade onmemos`);
  }
  for (let v = from; v < SCHEMA_VERSION; v++) migrations[v]?.(raw);
  const base = emptyData() as unknown as Record<string, unknown>;
  for (const key of Object.keys(base)) if (!(key in raw)) raw[key] = base[key];
  raw.schema_version = SCHEMA_VERSION;
  return { data: raw as unknown as Data, from };
}
