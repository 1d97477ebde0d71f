import { OnMemOSAdminClient, OnMemOSClient } from '../../daemon/client';
import type { AdminApi, PublicApi } from './backend';

// PublicApi / AdminApi over the typed client of daemon/client (the same one SDK users get).
const PROBE_TIMEOUT_MS = 3000;

export function createPublicApi(baseUrl: string, passport: string | undefined, f?: typeof fetch): PublicApi {
  const c = new OnMemOSClient({ baseUrl, apiKey: passport, fetch: f });
  const probe = new OnMemOSClient({ baseUrl, fetch: f, timeoutMs: PROBE_TIMEOUT_MS });
  return {
    baseUrl,
    health: () => probe.health(),
    listWorkspaces: async () => (await c.workspaces()).workspaces,
    listStorage: (id) => c.listStorage(id),
    createBucket: (req) => c.createVault(req),
    createFilestore: (req) => c.createDrive(req),
    updateStorage: (id, patch) => c.patchStorage(id, patch),
    deleteStorage: async (id) => { await c.deleteStorage(id); },
    listSessions: async () => (await c.listSessions()).sessions,
    getSession: (id) => c.getSession(id),
    createSession: (req, signal) => c.createSession(req, signal),
    deleteSession: async (id) => { await c.terminateSession(id); },
    execute: (id, command, timeout, signal) => c.execute(id, command, { timeout_seconds: timeout, signal }),
    listShells: async (id) => (await c.shells(id)).shells,
  };
}

export function createAdminApi(baseUrl: string, adminKey: string | undefined, f?: typeof fetch): AdminApi {
  const c = new OnMemOSAdminClient({ baseUrl, apiKey: adminKey, fetch: f });
  const probe = new OnMemOSAdminClient({ baseUrl, fetch: f, timeoutMs: PROBE_TIMEOUT_MS });
  return {
    baseUrl,
    health: () => probe.health(),
    listUsers: () => c.listUsers(),
    createUser: (req) => c.createUser(req),
    deleteUser: async (id) => { await c.deleteUser(id); },
    listPassports: (userId) => c.listPassports(userId),
    createPassport: (req) => c.createPassport(req),
    deletePassport: async (id) => { await c.revokePassport(id); },
    addCredits: (req) => c.addCredits(req.user_id, req.amount, 'vscode', req.description),
    listWorkspaces: (userId) => c.listWorkspaces(userId),
    createWorkspace: (req) => c.createWorkspace(req),
  };
}
