// The admin webview's message protocol, shared by the extension host (extension/panels) and the
// browser code (webview/main.ts). The webview sends `ready` first; the host answers with `init`.
// Every request carries a requestId that its response echoes. Pure: unit tested.
import type { CreatedPassport, PassportInfo, User, Workspace } from '../extension/api/types';

export interface AdminMethods {
  'users.list': { params: Record<string, never>; result: User[] };
  'users.create': { params: { email: string; name?: string; user_type?: 'free' | 'pro' | 'enterprise' }; result: User };
  'users.delete': { params: { user_id: string }; result: { deleted: true } };
  'passports.list': { params: { user_id: string }; result: PassportInfo[] };
  'passports.create': { params: { user_id: string; name?: string }; result: CreatedPassport };
  'passports.delete': { params: { passport_id: string }; result: { deleted: true } };
  'passports.use': { params: { passport: string }; result: { state: string } };
  'credits.add': { params: { user_id: string; amount: number; description?: string }; result: { credits: number } };
  'workspaces.list': { params: { user_id: string }; result: Workspace[] };
  'workspaces.create': { params: { user_id: string; name: string; description?: string }; result: Workspace };
  'clipboard.copy': { params: { text: string }; result: { copied: true } };
  'adminKey.set': { params: Record<string, never>; result: { set: boolean } };
}

export type Method = keyof AdminMethods;
export const METHODS: readonly Method[] = [
  'users.list', 'users.create', 'users.delete', 'passports.list', 'passports.create', 'passports.delete', 'passports.use',
  'credits.add', 'workspaces.list', 'workspaces.create', 'clipboard.copy', 'adminKey.set',
];

export interface RequestMessage<M extends Method = Method> { type: 'request'; requestId: number; method: M; params: AdminMethods[M]['params'] }
export interface ReadyMessage { type: 'ready' }
export type FromWebview = RequestMessage | ReadyMessage;

export interface ErrorInfo { message: string; status?: number; code?: string }
export type ResponseMessage =
  | { type: 'response'; requestId: number; ok: true; result: unknown }
  | { type: 'response'; requestId: number; ok: false; error: ErrorInfo };
export interface InitMessage { type: 'init'; adminUrl: string; publicUrl: string; hasAdminKey: boolean; daemonUp: boolean }
export type ToWebview = ResponseMessage | InitMessage;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// Messages from a webview are untrusted input: check the envelope and each method's params.
export function parseFromWebview(v: unknown): FromWebview | undefined {
  if (!isObject(v)) return undefined;
  if (v.type === 'ready') return { type: 'ready' };
  if (v.type !== 'request' || typeof v.requestId !== 'number' || !Number.isInteger(v.requestId)) return undefined;
  if (typeof v.method !== 'string' || !(METHODS as readonly string[]).includes(v.method)) return undefined;
  const params = v.params ?? {};
  if (!isObject(params) || !paramsValid(v.method as Method, params)) return undefined;
  // Only the fields checked go on: anything else a webview adds (permissions, expires_at, a
  // workspace_id...) never reaches the admin API.
  const fields = PARAM_FIELDS[v.method as Method];
  const checked = Object.fromEntries(fields.filter((k) => params[k] !== undefined).map((k) => [k, params[k]]));
  return { type: 'request', requestId: v.requestId, method: v.method as Method, params: checked as never };
}

/** Each method's params, by name: what paramsValid checks, and all that parseFromWebview passes on. */
const PARAM_FIELDS: { readonly [M in Method]: ReadonlyArray<keyof AdminMethods[M]['params'] & string> } = {
  'users.list': [], 'adminKey.set': [],
  'users.create': ['email', 'name', 'user_type'], 'users.delete': ['user_id'],
  'passports.list': ['user_id'], 'passports.create': ['user_id', 'name'], 'passports.delete': ['passport_id'], 'passports.use': ['passport'],
  'credits.add': ['user_id', 'amount', 'description'],
  'workspaces.list': ['user_id'], 'workspaces.create': ['user_id', 'name', 'description'],
  'clipboard.copy': ['text'],
};

const str = (v: unknown, required = true) => (v === undefined ? !required : typeof v === 'string' && (!required || v.length > 0));

function paramsValid(m: Method, p: Record<string, unknown>): boolean {
  switch (m) {
    case 'users.list': case 'adminKey.set': return true;
    case 'users.create': return str(p.email) && str(p.name, false) && (p.user_type === undefined || ['free', 'pro', 'enterprise'].includes(p.user_type as string));
    case 'users.delete': case 'passports.list': case 'workspaces.list': return str(p.user_id);
    case 'passports.create': return str(p.user_id) && str(p.name, false);
    case 'passports.delete': return str(p.passport_id);
    case 'passports.use': return str(p.passport);
    case 'credits.add': return str(p.user_id) && typeof p.amount === 'number' && Number.isFinite(p.amount) && p.amount > 0 && str(p.description, false);
    case 'workspaces.create': return str(p.user_id) && str(p.name) && str(p.description, false);
    case 'clipboard.copy': return str(p.text);
  }
}

export function parseToWebview(v: unknown): ToWebview | undefined {
  if (!isObject(v)) return undefined;
  if (v.type === 'init' && typeof v.adminUrl === 'string') return v as unknown as InitMessage;
  if (v.type === 'response' && typeof v.requestId === 'number' && typeof v.ok === 'boolean') return v as unknown as ResponseMessage;
  return undefined;
}
