// One schema, many uses: these zod schemas validate requests (the parsed value replaces the raw
// input), give the TypeScript types of the client, and generate GET /openapi.json.
import { z } from 'zod';

// ---------- shared rules (daemon/client/rules.ts: the extension checks the same) ----------
import { STORAGE_NAME_RE, mountPathProblem, storageNameProblem } from '../client/rules';
export { mountPathProblem };

export const StorageName = z.string().superRefine((v, ctx) => {
  const problem = storageNameProblem(v);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
}).meta({ pattern: STORAGE_NAME_RE.source, minLength: 3, maxLength: 63 });

export const MountPath = z.string().superRefine((p, ctx) => {
  const problem = mountPathProblem(p);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
}).transform((p) => (p.length > 1 ? p.replace(/\/$/, '') : p))
  // What JSON Schema can say of the rule above (the OpenAPI document; the refinement stays the judge).
  .meta({ pattern: '^/[A-Za-z0-9._/-]+$', maxLength: 255 });
/** In the OpenAPI document: a body that must name at least one of these fields. */
const atLeastOne = (...names: string[]) => ({ anyOf: names.map((n) => ({ required: [n] })) });
/** In the OpenAPI document: a workspace is named by workspace_id or its alias dock_id. */
const WORKSPACE_REQUIRED = { anyOf: [{ required: ['workspace_id'] }, { required: ['dock_id'] }] };

export const AccessMode = z.enum(['RW', 'RO']);
export const StorageType = z.enum(['bucket', 'filestore']);
export const UserType = z.enum(['free', 'pro', 'enterprise']);
const Id = z.string().min(1).max(128);
const Timestamp = z.string();
/** No NUL: no process argument or environment value can carry one (spawning it fails). */
const NO_NUL = /^[^\x00]*$/;
const EnvMap = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'env names are letters, digits and _'), z.string().max(32768).regex(NO_NUL, 'env values cannot contain NUL (\\u0000)'))
  .refine((e) => Object.keys(e).length <= 128, 'at most 128 env variables');
/** Query-string booleans as the seed SDK sends them ("true"/"false"), or JSON booleans. */
const QueryBool = z.union([z.boolean(), z.stringbool()]);

export const ErrorBody = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional(), request_id: z.string().optional() }),
});

// ---------- users, passports, credits ----------
export const User = z.object({
  user_id: z.string(), email: z.string(), name: z.string(), user_type: UserType, credits: z.number(), created_at: Timestamp,
});
export const CreateUserBody = z.object({
  // RFC 5321: at most 64 characters before the @ (zod's email pattern does not count them).
  email: z.email().max(254).refine((e) => e.lastIndexOf('@') <= 64, 'the part before "@" must be at most 64 characters').transform((e) => e.toLowerCase()),
  name: z.string().max(200).trim().min(1).optional(),
  user_type: UserType.default('pro'),
});
export const PatchUserBody = z.object({
  name: z.string().max(200).trim().min(1).optional(),
  user_type: UserType.optional(),
}).refine((b) => Object.keys(b).length > 0, 'give at least one of name, user_type').meta(atLeastOne('name', 'user_type'));
export const UserEnvelope = z.object({ user: User });
export const UserList = z.object({ users: z.array(User) });

export const CreatePassportBody = z.object({
  user_id: Id,
  name: z.string().max(100).trim().min(1).default('default'),
  permissions: z.array(z.string().min(1).max(64)).max(64).default([]),
  expires_at: z.iso.datetime({ offset: true }).nullable().optional(),
});
export const PassportInfo = z.object({
  passport_id: z.string(), user_id: z.string(), name: z.string(), key_prefix: z.string(), permissions: z.array(z.string()),
  created_at: Timestamp, expires_at: z.string().nullable(), revoked_at: z.string().nullable(), last_used_at: z.string().nullable(),
  state: z.enum(['active', 'revoked', 'expired']),
});
export const CreatedPassport = PassportInfo.extend({ passport_key: z.string(), passport: z.string() });
export const PassportList = z.object({ passports: z.array(PassportInfo) });
export const PassportQuery = z.object({ user_id: Id.optional() });

export const AddCreditsBody = z.object({
  user_id: Id,
  // Balances and the ledger keep 4 decimals: a smaller amount would be recorded as 0.
  amount: z.number().min(0.0001, 'amount is at least 0.0001').max(1e9).refine(Number.isFinite),
  source: z.string().max(64).default('admin'),
  description: z.string().max(500).default(''),
});
export const DeductCreditsBody = AddCreditsBody;
export const CreditsResult = z.object({ ok: z.literal(true), user_id: z.string(), credits: z.number() });

// ---------- workspaces ----------
export const Workspace = z.object({
  workspace_id: z.string(), user_id: z.string(), name: z.string(), resource_package: z.string(), description: z.string(),
  k8s_namespace: z.string(), ksa_name: z.string(), gsa_email: z.string(),
  identity_state: z.enum(['pending', 'ready', 'failed']), created_at: Timestamp,
  defaults: z.object({ bucket_id: z.string().nullable(), filestore_id: z.string().nullable() }),
});
export const CreateWorkspaceBody = z.object({
  user_id: Id,
  name: z.string().max(100).trim().min(1),
  workspace_id: z.string().regex(/^[a-z0-9]([a-z0-9-]{1,38}[a-z0-9])$/, 'workspace_id must be 3-40 chars of a-z, 0-9 and "-"').optional(),
  resource_package: z.string().max(64).trim().min(1).default('dev-small'),
  description: z.string().max(1000).default(''),
});
export const WorkspaceEnvelope = z.object({ workspace: Workspace });
export const WorkspaceList = z.object({ workspaces: z.array(Workspace) });
export const WorkspaceQuery = z.object({ user_id: Id.optional() });
export const EnsureIdentityBody = z.object({
  workspace_id: Id, project: z.string().max(64).optional(), region: z.string().max(64).optional(),
  cluster: z.string().max(128).optional(), bucket: z.string().max(63).optional(),
});
export const IdentityResult = z.object({ identity: z.record(z.string(), z.unknown()) });

// ---------- storage ----------
export const StorageResource = z.object({
  resource_id: z.string(), name: z.string(), storage_type: StorageType, size_gb: z.number(), workspace_id: z.string(),
  auto_mount: z.boolean(), mount_path: z.string(), access_mode: AccessMode, is_default: z.boolean(), state: z.string(),
  created_at: Timestamp, bucket_name: z.string().optional(), pvc_name: z.string().optional(),
});
const createStorage = (defaultMount: string) => z.object({
  workspace_id: Id.optional(),
  dock_id: Id.optional(),
  name: StorageName,
  size_gb: z.number().int().min(1).max(102400).default(10),
  auto_mount: z.boolean().default(true),
  mount_path: MountPath.default(defaultMount),
  access_mode: AccessMode.default('RW'),
}).refine((b) => b.workspace_id || b.dock_id, { message: 'workspace_id (or dock_id) is required', path: ['workspace_id'] }).meta(WORKSPACE_REQUIRED);
export const CreateBucketBody = createStorage('/workspace');
export const CreateFilestoreBody = createStorage('/data');
export const StorageQuery = z.object({ workspace_id: Id.optional(), dock_id: Id.optional() });
export const Defaults = z.object({ bucket_id: z.string().nullable(), filestore_id: z.string().nullable() });
export const StorageListing = z.object({ workspace_id: z.string().nullable(), resources: z.array(StorageResource), defaults: Defaults });
export const PatchStorageBody = z.object({
  is_default: z.boolean().optional(), auto_mount: z.boolean().optional(),
  mount_path: MountPath.optional(), access_mode: AccessMode.optional(),
}).refine((b) => Object.keys(b).length > 0, 'give at least one of is_default, auto_mount, mount_path, access_mode')
  .meta(atLeastOne('is_default', 'auto_mount', 'mount_path', 'access_mode'));
export const SetDefaultsBody = z.object({ bucket_id: Id.nullable().optional(), filestore_id: Id.nullable().optional() });
export const DefaultsResult = z.object({ workspace_id: z.string(), defaults: Defaults });
export const AdminStorageList = z.object({ resources: z.array(StorageResource) });

// ---------- sessions ----------
export const SessionMount = z.object({ resource_id: z.string(), type: StorageType, name: z.string(), mount_path: z.string(), access_mode: AccessMode });
export const Session = z.object({
  id: z.string(), session_id: z.string(), workspace_id: z.string(), user: z.string(), user_id: z.string(),
  provider: z.enum(['local', 'gke']), template: z.string(),
  status: z.enum(['pending', 'running', 'terminated', 'expired', 'failed']),
  k8s_namespace: z.string(), pod_name: z.string(), details: z.object({ k8s_ns: z.string(), pod: z.string() }),
  storage_config: z.object({ bucket_name: z.string().optional(), pvc_name: z.string().optional(), mounts: z.array(SessionMount) }),
  ttl_minutes: z.number(), created_at: Timestamp, expires_at: Timestamp,
  ended_at: z.string().nullable(), end_reason: z.string().nullable(),
});
export const CreateSessionBody = z.object({
  workspace_id: Id.optional(), dock_id: Id.optional(),
  provider: z.string().max(32).optional(),
  template: z.string().max(64).optional(), template_id: z.string().max(64).optional(),
  namespace: z.string().max(63).optional(),
  ttl_minutes: z.number().int().min(1).max(1440).default(60),
  env: EnvMap.default({}),
  vault_id: Id.optional(), vault_name: StorageName.optional(),
  drive_id: Id.optional(), drive_name: StorageName.optional(),
  request_bucket: z.boolean().default(false), bucket_size_gb: z.number().int().min(1).max(102400).default(10),
  request_persistent_storage: z.boolean().default(false),
  persistent_storage_size_gb: z.number().int().min(1).max(102400).default(10),
}).refine((b) => b.workspace_id || b.dock_id, { message: 'workspace_id (or dock_id) is required', path: ['workspace_id'] }).meta(WORKSPACE_REQUIRED);
export const SessionEnvelope = z.object({ session: Session });
export const SessionList = z.object({ sessions: z.array(Session), count: z.number() });
export const SessionQuery = z.object({ workspace_id: Id.optional(), status: z.string().max(32).optional() });
export const Deleted = z.object({ deleted: z.literal(true) });

const Command = z.string().min(1, 'command must not be empty').max(65536).regex(NO_NUL, 'a command cannot contain NUL (\\u0000)');
/** Seconds, 1–3600: a JSON number, or decimal digits in a query string (not "0x10", "1e2" or " 5"). */
const Timeout = z.union([z.number(), z.string().regex(/^[0-9]{1,4}$/, 'timeout must be a whole number of seconds').transform(Number)])
  .pipe(z.number().int().min(1).max(3600));
export const ExecuteQuery = z.object({ command: Command.optional(), timeout: Timeout.optional(), async_execution: QueryBool.optional() });
export const ExecuteBody = z.object({
  command: Command.optional(), timeout_seconds: Timeout.optional(), timeout: Timeout.optional(), env: EnvMap.optional(),
  async_execution: z.boolean().optional(),
}).optional();
export const ExecuteResult = z.object({
  session_id: z.string(), command: z.string(), stdout: z.string(), stderr: z.string(), returncode: z.number(),
  exit_code: z.number(), success: z.boolean(), duration_ms: z.number(), timed_out: z.boolean(), truncated: z.boolean(),
});
export const WsToken = z.object({ token: z.string(), expires_in: z.number() });
export const ConnectInfo = z.object({
  session_id: z.string(), websocket_url: z.string(), pty_websocket_url: z.string(), subprotocol: z.string(),
  token_url: z.string(), k8s_namespace: z.string(), pod_name: z.string(),
});
export const ShellList = z.object({
  shells: z.array(z.object({ shell_id: z.string(), created_at: z.string(), attached: z.boolean(), cols: z.number(), rows: z.number() })),
});

// ---------- billing, catalog, templates ----------
export const CreditTx = z.object({
  tx_id: z.string(), user_id: z.string(), amount: z.number(), balance: z.number(), source: z.string(), description: z.string(), created_at: z.string(),
});
export const Usage = z.object({
  usage_id: z.string(), user_id: z.string(), session_id: z.string(), workspace_id: z.string(), seconds: z.number(),
  credits_charged: z.number(), recorded_at: z.string(),
});
export const Credits = z.object({ user_id: z.string(), credits: z.number() });
export const History = z.object({ user_id: z.string(), transactions: z.array(CreditTx), usage: z.array(Usage) });
export const Summary = z.object({
  user_id: z.string(), credits: z.number(), total_added: z.number(), total_charged: z.number(),
  usage_seconds: z.number(), sessions: z.number(), active_sessions: z.number(),
});
export const UsageList = z.object({ usage: z.array(Usage) });
export const UsageQuery = z.object({ user_id: Id.optional() });
export const Template = z.object({ id: z.string(), name: z.string(), image: z.string(), cpu: z.string(), memory: z.string(), description: z.string(), credits_per_hour: z.number() });
export const TemplateList = z.object({ templates: z.array(Template) });
export const Product = z.object({ product_id: z.string(), name: z.string(), description: z.string(), credits: z.number(), active: z.boolean(), created_at: z.string() });
export const CreateProductBody = z.object({ name: z.string().max(100).trim().min(1), description: z.string().max(1000).default(''), credits: z.number().min(0.0001, 'credits is at least 0.0001').max(1e9), active: z.boolean().default(true) });
export const Price = z.object({ price_id: z.string(), product_id: z.string(), amount_cents: z.number(), currency: z.string(), created_at: z.string() });
export const CreatePriceBody = z.object({ product_id: Id, amount_cents: z.number().int().min(0).max(1e9), currency: z.string().regex(/^[a-z]{3}$/).default('usd') });
export const PurchaseOrder = z.object({ order_id: z.string(), user_id: z.string(), price_id: z.string(), product_id: z.string(), credits: z.number(), amount_cents: z.number(), currency: z.string(), status: z.string(), created_at: z.string() });
export const CreatePurchaseOrderBody = z.object({ user_id: Id, price_id: Id });
export const ProductList = z.object({ products: z.array(Product) });
export const PriceList = z.object({ prices: z.array(Price) });
export const PurchaseOrderList = z.object({ purchase_orders: z.array(PurchaseOrder) });
export const PurchaseOrderEnvelope = z.object({ purchase_order: PurchaseOrder, credits: z.number() });

export const GcBody = z.object({ dry_run: z.boolean().default(true) }).optional();
export const GcResult = z.object({ dry_run: z.boolean(), orphans: z.array(z.unknown()), deleted: z.number(), errors: z.array(z.string()) });
export const AdminHealth = z.object({ status: z.literal('healthy'), server: z.literal('admin'), version: z.string() });
export const PublicHealth = z.object({ status: z.literal('healthy'), server: z.literal('public'), version: z.string(), provider: z.string() });
export const IdParam = (name: string) => z.object({ [name]: Id });

export type UserT = z.infer<typeof User>;
export type PassportInfoT = z.infer<typeof PassportInfo>;
export type WorkspaceT = z.infer<typeof Workspace>;
export type StorageResourceT = z.infer<typeof StorageResource>;
export type SessionT = z.infer<typeof Session>;
export type ExecuteResultT = z.infer<typeof ExecuteResult>;
export type TemplateT = z.infer<typeof Template>;
