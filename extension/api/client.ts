import type { AdminApi, PublicApi } from './backend';
import type { CreatedPassport, PassportInfo, Session, ShellInfo, StorageList, StorageResource, User, Workspace, ExecuteResult } from './types';

// PublicApi / AdminApi over HTTP. TEMPORARY: speaks DESIGN.md's routes with fetch until the
// typed client in daemon/client lands; then this file delegates to OnMemOSClient and
// OnMemOSAdminClient instead.

export class HttpApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly details?: unknown) {
    super(message);
    this.name = 'OnMemOSApiError';
  }
}

type Fetch = typeof fetch;

async function call<T>(f: Fetch, base: string, key: string | undefined, method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (key) headers['x-api-key'] = key;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await f(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: signal ?? AbortSignal.timeout(30_000) });
  const text = await res.text();
  let json: unknown;
  try { json = text ? JSON.parse(text) : {}; } catch { json = { error: { code: 'bad_response', message: text.slice(0, 200) } }; }
  if (!res.ok) {
    const err = (json as { error?: { code?: string; message?: string; details?: unknown } }).error ?? {};
    throw new HttpApiError(res.status, err.code ?? 'http_error', err.message ?? `HTTP ${res.status}`, err.details);
  }
  return json as T;
}

export function createPublicApi(baseUrl: string, passport: string | undefined, f: Fetch = fetch): PublicApi {
  const c = <T>(method: string, path: string, body?: unknown, signal?: AbortSignal) => call<T>(f, baseUrl, passport, method, path, body, signal);
  return {
    baseUrl,
    health: (signal) => c('GET', '/health', undefined, signal ?? AbortSignal.timeout(3000)),
    listWorkspaces: async () => (await c<{ workspaces: Workspace[] }>('GET', '/v1/workspaces')).workspaces,
    listStorage: (id) => c<StorageList>('GET', `/v1/storage?workspace_id=${encodeURIComponent(id)}`),
    createBucket: (req) => c<StorageResource>('POST', '/v1/storage/buckets', req),
    createFilestore: (req) => c<StorageResource>('POST', '/v1/storage/filestores', req),
    updateStorage: (id, patch) => c<StorageResource>('PATCH', `/v1/storage/${encodeURIComponent(id)}`, patch),
    deleteStorage: async (id) => { await c('DELETE', `/v1/storage/${encodeURIComponent(id)}`); },
    listSessions: async () => (await c<{ sessions: Session[] }>('GET', '/v1/sessions')).sessions,
    getSession: async (id) => (await c<{ session: Session }>('GET', `/v1/sessions/${encodeURIComponent(id)}`)).session,
    createSession: async (req, signal) => (await c<{ session: Session }>('POST', '/v1/sessions', req, signal ?? AbortSignal.timeout(300_000))).session,
    deleteSession: async (id) => { await c('DELETE', `/v1/sessions/${encodeURIComponent(id)}`); },
    execute: (id, command, timeout, signal) => c<ExecuteResult>('POST', `/v1/sessions/${encodeURIComponent(id)}/execute`,
      { command, timeout_seconds: timeout }, signal ?? AbortSignal.timeout(((timeout ?? 300) + 30) * 1000)),
    listShells: async (id) => (await c<{ shells: ShellInfo[] }>('GET', `/v1/sessions/${encodeURIComponent(id)}/shells`)).shells,
  };
}

export function createAdminApi(baseUrl: string, adminKey: string | undefined, f: Fetch = fetch): AdminApi {
  const c = <T>(method: string, path: string, body?: unknown, signal?: AbortSignal) => call<T>(f, baseUrl, adminKey, method, path, body, signal);
  const q = (userId?: string) => (userId ? `?user_id=${encodeURIComponent(userId)}` : '');
  return {
    baseUrl,
    health: (signal) => c('GET', '/admin/health', undefined, signal ?? AbortSignal.timeout(3000)),
    listUsers: async () => (await c<{ users: User[] }>('GET', '/admin/users')).users,
    createUser: async (req) => (await c<{ user: User }>('POST', '/admin/users', req)).user,
    deleteUser: async (id) => { await c('DELETE', `/admin/users/${encodeURIComponent(id)}`); },
    listPassports: async (userId) => (await c<{ passports: PassportInfo[] }>('GET', `/admin/passports${q(userId)}`)).passports,
    createPassport: (req) => c<CreatedPassport>('POST', '/admin/passports', req),
    deletePassport: async (id) => { await c('DELETE', `/admin/passports/${encodeURIComponent(id)}`); },
    addCredits: (req) => c<{ credits: number }>('POST', '/admin/credits/add', req),
    listWorkspaces: async (userId) => (await c<{ workspaces: Workspace[] }>('GET', `/admin/workspaces${q(userId)}`)).workspaces,
    createWorkspace: async (req) => (await c<{ workspace: Workspace }>('POST', '/admin/workspaces', req)).workspace,
  };
}
