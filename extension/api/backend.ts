import type {
  CreateSessionRequest, CreateStorageRequest, CreatedPassport, ExecuteResult, PassportInfo, Session,
  ShellInfo, StorageList, StoragePatch, StorageResource, User, Workspace,
} from './types';

// What the extension needs from the daemon, as a user (passport) and as an admin (admin key).
// Implemented over the typed client from daemon/client (client.ts); views and commands depend
// on these interfaces only, so tests and the webview host can be read without HTTP details.
export interface PublicApi {
  readonly baseUrl: string;
  health(): Promise<{ status: string; version?: string }>;
  listWorkspaces(): Promise<Workspace[]>;
  listStorage(workspaceId: string): Promise<StorageList>;
  createBucket(req: CreateStorageRequest): Promise<StorageResource>;
  createFilestore(req: CreateStorageRequest): Promise<StorageResource>;
  updateStorage(resourceId: string, patch: StoragePatch): Promise<StorageResource>;
  deleteStorage(resourceId: string): Promise<void>;
  listSessions(): Promise<Session[]>;
  getSession(id: string): Promise<Session>;
  createSession(req: CreateSessionRequest, signal?: AbortSignal): Promise<Session>;
  deleteSession(id: string): Promise<void>;
  execute(id: string, command: string, timeoutSeconds?: number, signal?: AbortSignal): Promise<ExecuteResult>;
  listShells(id: string): Promise<ShellInfo[]>;
}

export interface AdminApi {
  readonly baseUrl: string;
  health(): Promise<{ status: string }>;
  listUsers(): Promise<User[]>;
  createUser(req: { email: string; name?: string; user_type?: 'free' | 'pro' | 'enterprise' }): Promise<User>;
  deleteUser(userId: string): Promise<void>;
  listPassports(userId?: string): Promise<PassportInfo[]>;
  createPassport(req: { user_id: string; name?: string }): Promise<CreatedPassport>;
  deletePassport(passportId: string): Promise<void>;
  addCredits(req: { user_id: string; amount: number; description?: string }): Promise<{ credits: number }>;
  listWorkspaces(userId?: string): Promise<Workspace[]>;
  createWorkspace(req: { user_id: string; name: string; description?: string }): Promise<Workspace>;
}
