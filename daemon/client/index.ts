// The typed TypeScript client of the OnMemOS daemon: the public API (a passport) and the admin API
// (the admin key). Used by the tests, the benchmarks and the VS Code extension. Dependency-free:
// global fetch only; types come from the daemon's zod schemas (type-only imports, no runtime cost).
import type { z } from 'zod';
import type * as S from '../api/schemas';

export type User = z.infer<typeof S.User>;
export type Passport = z.infer<typeof S.PassportInfo>;
export type CreatedPassport = z.infer<typeof S.CreatedPassport>;
export type Workspace = z.infer<typeof S.Workspace>;
export type StorageResource = z.infer<typeof S.StorageResource>;
export type StorageListing = z.infer<typeof S.StorageListing>;
export type Session = z.infer<typeof S.Session>;
export type ExecuteResult = z.infer<typeof S.ExecuteResult>;
export type Template = z.infer<typeof S.Template>;
export type ConnectInfo = z.infer<typeof S.ConnectInfo>;
export type ShellInfo = z.infer<typeof S.ShellList>['shells'][number];
export type CreditTx = z.infer<typeof S.CreditTx>;
export type History = z.infer<typeof S.History>;
export type Summary = z.infer<typeof S.Summary>;
export type Usage = z.infer<typeof S.Usage>;
export type Product = z.infer<typeof S.Product>;
export type Price = z.infer<typeof S.Price>;
export type PurchaseOrder = z.infer<typeof S.PurchaseOrder>;
export type CreateSessionRequest = z.input<typeof S.CreateSessionBody>;
export type CreateStorageRequest = Omit<z.input<typeof S.CreateBucketBody>, 'dock_id'>;
export type PatchStorageRequest = z.input<typeof S.PatchStorageBody>;
export type CreateUserRequest = z.input<typeof S.CreateUserBody>;
export type CreatePassportRequest = z.input<typeof S.CreatePassportBody>;
export type CreateWorkspaceRequest = z.input<typeof S.CreateWorkspaceBody>;

export const PTY_SUBPROTOCOL = 'onmemos.pty.v1';

/** An error answered by the daemon, in its error shape; or status 0 when it could not be reached. */
export class OnMemOSApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly details?: unknown, readonly requestId?: string) {
    super(message);
    this.name = 'OnMemOSApiError';
  }
}

export interface ClientOptions {
  baseUrl: string;
  apiKey?: string;
  fetch?: typeof fetch;
  /** Per-request timeout, ms (default 10 minutes: launches and long executes take a while). */
  timeoutMs?: number;
}

type Query = Record<string, string | number | boolean | undefined>;

class Transport {
  readonly baseUrl: string;
  constructor(protected readonly options: ClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
  }

  async request<T>(method: string, path: string, init: { body?: unknown; query?: Query; signal?: AbortSignal } = {}): Promise<T> {
    const url = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(init.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.options.apiKey) headers['x-api-key'] = this.options.apiKey;
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    const signals = [AbortSignal.timeout(this.options.timeoutMs ?? 600_000), ...(init.signal ? [init.signal] : [])];
    let res: Response;
    try {
      res = await (this.options.fetch ?? fetch)(url, {
        method, headers, body: init.body === undefined ? undefined : JSON.stringify(init.body), signal: AbortSignal.any(signals),
      });
    } catch (e) {
      const err = e as Error;
      if (err.name === 'AbortError' || err.name === 'TimeoutError') throw new OnMemOSApiError(0, 'aborted', `${method} ${path} was cancelled or timed out`);
      throw new OnMemOSApiError(0, 'unreachable', `cannot reach the OnMemOS daemon at ${this.baseUrl} (${(err.cause as Error)?.message ?? err.message}); is it running?`);
    }
    const text = await res.text();
    let body: unknown;
    try { body = text ? JSON.parse(text) : undefined; } catch { body = text; }
    if (!res.ok) {
      const e = (body as { error?: { code?: string; message?: string; details?: unknown; request_id?: string } } | undefined)?.error;
      throw new OnMemOSApiError(res.status, e?.code ?? `http_${res.status}`, e?.message ?? `${method} ${path} failed with HTTP ${res.status}`, e?.details, e?.request_id);
    }
    return body as T;
  }
}

const enc = encodeURIComponent;

/** The public API, as a user (passport). */
export class OnMemOSClient extends Transport {
  health(): Promise<{ status: 'healthy'; server: 'public'; version: string; provider: string }> { return this.request('GET', '/health'); }
  templates(): Promise<{ templates: Template[] }> { return this.request('GET', '/v1/templates'); }
  workspaces(): Promise<{ workspaces: Workspace[] }> { return this.request('GET', '/v1/workspaces'); }

  async createSession(req: CreateSessionRequest, signal?: AbortSignal): Promise<Session> {
    return (await this.request<{ session: Session }>('POST', '/v1/sessions', { body: req, signal })).session;
  }
  listSessions(query: { workspace_id?: string; status?: string } = {}): Promise<{ sessions: Session[]; count: number }> {
    return this.request('GET', '/v1/sessions', { query });
  }
  async getSession(id: string): Promise<Session> { return (await this.request<{ session: Session }>('GET', `/v1/sessions/${enc(id)}`)).session; }
  terminateSession(id: string): Promise<{ deleted: true }> { return this.request('DELETE', `/v1/sessions/${enc(id)}`); }
  /** Run a command (JSON body form). */
  execute(id: string, command: string, options: { timeout_seconds?: number; env?: Record<string, string>; signal?: AbortSignal } = {}): Promise<ExecuteResult> {
    const { signal, ...rest } = options;
    return this.request('POST', `/v1/sessions/${enc(id)}/execute`, { body: { command, ...rest }, signal });
  }
  /** Run a command the way the seed's Python SDK does: query parameters, no body. */
  executeSeedStyle(id: string, command: string, timeout?: number): Promise<ExecuteResult> {
    return this.request('POST', `/v1/sessions/${enc(id)}/execute`, { query: { command, timeout } });
  }
  wsToken(id: string): Promise<{ token: string; expires_in: number }> { return this.request('POST', `/v1/sessions/${enc(id)}/ws-token`); }
  connect(id: string): Promise<ConnectInfo> { return this.request('GET', `/v1/sessions/${enc(id)}/connect`); }
  shells(id: string): Promise<{ shells: ShellInfo[] }> { return this.request('GET', `/v1/sessions/${enc(id)}/shells`); }
  /** The WebSocket URL of a session's shell (pty mode unless `line`), for a ws-token or passport query credential. */
  shellUrl(id: string, options: { pty?: boolean; attach?: string; token?: string; cols?: number; rows?: number } = {}): string {
    const u = new URL(`${this.baseUrl.replace(/^http/, 'ws')}/v1/sessions/${enc(id)}/shell`);
    if (options.pty !== false) u.searchParams.set('mode', 'pty');
    if (options.attach) u.searchParams.set('attach', options.attach);
    if (options.token) u.searchParams.set('token', options.token);
    if (options.cols) u.searchParams.set('cols', String(options.cols));
    if (options.rows) u.searchParams.set('rows', String(options.rows));
    return u.toString();
  }

  createVault(req: CreateStorageRequest): Promise<StorageResource> { return this.request('POST', '/v1/storage/buckets', { body: req }); }
  createDrive(req: CreateStorageRequest): Promise<StorageResource> { return this.request('POST', '/v1/storage/filestores', { body: req }); }
  listStorage(workspace_id?: string): Promise<StorageListing> { return this.request('GET', '/v1/storage', { query: { workspace_id } }); }
  getStorage(resource_id: string): Promise<StorageResource> { return this.request('GET', `/v1/storage/${enc(resource_id)}`); }
  patchStorage(resource_id: string, patch: PatchStorageRequest): Promise<StorageResource> { return this.request('PATCH', `/v1/storage/${enc(resource_id)}`, { body: patch }); }
  deleteStorage(resource_id: string): Promise<{ deleted: true }> { return this.request('DELETE', `/v1/storage/${enc(resource_id)}`); }
  setDefaults(workspace_id: string, defaults: { bucket_id?: string | null; filestore_id?: string | null }): Promise<{ workspace_id: string; defaults: { bucket_id: string | null; filestore_id: string | null } }> {
    return this.request('POST', `/v1/storage/workspaces/${enc(workspace_id)}/defaults`, { body: defaults });
  }

  credits(): Promise<{ user_id: string; credits: number }> { return this.request('GET', '/v1/billing/credits'); }
  history(): Promise<History> { return this.request('GET', '/v1/billing/history'); }
  summary(): Promise<Summary> { return this.request('GET', '/v1/billing/summary'); }
}

/** The admin API (admin key), at the seed scripts' /admin/v1/admin/ prefix. */
export class OnMemOSAdminClient extends Transport {
  private a<T>(method: string, path: string, init?: { body?: unknown; query?: Query }): Promise<T> {
    return this.request<T>(method, `/admin/v1/admin${path}`, init);
  }
  health(): Promise<{ status: 'healthy'; server: 'admin'; version: string }> { return this.request('GET', '/admin/health'); }

  async createUser(req: CreateUserRequest): Promise<User> { return (await this.a<{ user: User }>('POST', '/users', { body: req })).user; }
  async listUsers(): Promise<User[]> { return (await this.a<{ users: User[] }>('GET', '/users')).users; }
  async getUser(id: string): Promise<User> { return (await this.a<{ user: User }>('GET', `/users/${enc(id)}`)).user; }
  async patchUser(id: string, patch: { name?: string; user_type?: User['user_type'] }): Promise<User> { return (await this.a<{ user: User }>('PATCH', `/users/${enc(id)}`, { body: patch })).user; }
  deleteUser(id: string): Promise<{ deleted: true }> { return this.a('DELETE', `/users/${enc(id)}`); }

  createPassport(req: CreatePassportRequest): Promise<CreatedPassport> { return this.a('POST', '/passports', { body: req }); }
  async listPassports(user_id?: string): Promise<Passport[]> { return (await this.a<{ passports: Passport[] }>('GET', '/passports', { query: { user_id } })).passports; }
  revokePassport(id: string): Promise<{ deleted: true }> { return this.a('DELETE', `/passports/${enc(id)}`); }

  addCredits(user_id: string, amount: number, source?: string, description?: string): Promise<{ ok: true; user_id: string; credits: number }> {
    return this.a('POST', '/credits/add', { body: { user_id, amount, source, description } });
  }
  deductCredits(user_id: string, amount: number, source?: string, description?: string): Promise<{ ok: true; user_id: string; credits: number }> {
    return this.a('POST', '/credits/deduct', { body: { user_id, amount, source, description } });
  }
  creditHistory(user_id: string): Promise<History> { return this.a('GET', `/credits/${enc(user_id)}`); }
  async usage(user_id?: string): Promise<Usage[]> { return (await this.a<{ usage: Usage[] }>('GET', '/usage', { query: { user_id } })).usage; }
  async products(): Promise<Product[]> { return (await this.a<{ products: Product[] }>('GET', '/products')).products; }
  createProduct(req: { name: string; credits: number; description?: string; active?: boolean }): Promise<Product> { return this.a('POST', '/products', { body: req }); }
  async prices(): Promise<Price[]> { return (await this.a<{ prices: Price[] }>('GET', '/prices')).prices; }
  createPrice(req: { product_id: string; amount_cents: number; currency?: string }): Promise<Price> { return this.a('POST', '/prices', { body: req }); }
  async purchaseOrders(): Promise<PurchaseOrder[]> { return (await this.a<{ purchase_orders: PurchaseOrder[] }>('GET', '/purchase-orders')).purchase_orders; }
  createPurchaseOrder(user_id: string, price_id: string): Promise<{ purchase_order: PurchaseOrder; credits: number }> {
    return this.a('POST', '/purchase-orders', { body: { user_id, price_id } });
  }

  async createWorkspace(req: CreateWorkspaceRequest): Promise<Workspace> { return (await this.a<{ workspace: Workspace }>('POST', '/workspaces', { body: req })).workspace; }
  async listWorkspaces(user_id?: string): Promise<Workspace[]> { return (await this.a<{ workspaces: Workspace[] }>('GET', '/workspaces', { query: { user_id } })).workspaces; }
  async getWorkspace(id: string): Promise<Workspace> { return (await this.a<{ workspace: Workspace }>('GET', `/workspaces/${enc(id)}`)).workspace; }
  deleteWorkspace(id: string): Promise<{ deleted: true }> { return this.a('DELETE', `/workspaces/${enc(id)}`); }
  ensureIdentity(workspace_id: string, options: { project?: string; region?: string; cluster?: string; bucket?: string } = {}): Promise<{ identity: Record<string, unknown> }> {
    return this.a('POST', '/workspaces/ensure-identity', { body: { workspace_id, ...options } });
  }
  listAllSessions(query: { workspace_id?: string; status?: string } = {}): Promise<{ sessions: Session[]; count: number }> { return this.a('GET', '/sessions', { query }); }
  /** End any user's shuttle. */
  terminateAnySession(session_id: string): Promise<{ deleted: true }> { return this.a('DELETE', `/sessions/${enc(session_id)}`); }
  async listAllStorage(): Promise<StorageResource[]> { return (await this.a<{ resources: StorageResource[] }>('GET', '/storage')).resources; }
}
