// Admin routes (X-API-Key: admin key). Served at /admin/<x> and /admin/v1/admin/<x>.
import * as S from './schemas';
import { route, withStatus, type RouteDef } from './http';
import { presentPassport, presentResource, presentSession, presentUser, presentWorkspace } from './present';
import type { Services } from '../services';
import { isLive } from '../services/context';
import { badRequest, notFound } from '../errors';

export function adminRoutes(svc: Services): RouteDef[] {
  const { store } = svc.ctx;
  const T = 'admin';
  return [
    route({ method: 'GET', path: '/health', auth: 'none', tag: T, summary: 'Admin listener health', responses: { 200: S.AdminHealth },
      handler: () => ({ status: 'healthy', server: 'admin', version: svc.ctx.config.version }) }),

    // users
    route({ method: 'POST', path: '/users', auth: 'admin', tag: T, summary: 'Create a user (idempotent by email)', body: S.CreateUserBody,
      responses: { 201: S.UserEnvelope, 200: S.UserEnvelope },
      handler: async ({ body }) => { const [u, created] = await svc.users.create(body); return withStatus(created ? 201 : 200, { user: presentUser(u) }); } }),
    route({ method: 'GET', path: '/users', auth: 'admin', tag: T, summary: 'List users', responses: { 200: S.UserList },
      handler: () => ({ users: svc.users.list().map(presentUser) }) }),
    route({ method: 'GET', path: '/users/{user_id}', auth: 'admin', tag: T, summary: 'Get a user', params: S.IdParam('user_id'), responses: { 200: S.UserEnvelope },
      handler: ({ params }) => ({ user: presentUser(svc.users.get(params.user_id as string)) }) }),
    route({ method: 'PATCH', path: '/users/{user_id}', auth: 'admin', tag: T, summary: 'Update a user', params: S.IdParam('user_id'), body: S.PatchUserBody,
      responses: { 200: S.UserEnvelope },
      handler: async ({ params, body }) => ({ user: presentUser(await svc.users.patch(params.user_id as string, body)) }) }),
    route({ method: 'DELETE', path: '/users/{user_id}', auth: 'admin', tag: T, summary: 'Delete a user and everything they own', params: S.IdParam('user_id'),
      responses: { 200: S.Deleted },
      handler: async ({ params }) => { await svc.users.remove(params.user_id as string, (ids) => svc.storage.removeMany(ids)); return { deleted: true }; } }),

    // passports
    route({ method: 'POST', path: '/passports', auth: 'admin', tag: T, summary: 'Create a passport (the secret is returned only here)', body: S.CreatePassportBody,
      status: 201, responses: { 201: S.CreatedPassport },
      handler: async ({ body }) => { const { row, secret } = await svc.users.createPassport(body); return { ...presentPassport(row), passport_key: secret, passport: secret }; } }),
    route({ method: 'GET', path: '/passports', auth: 'admin', tag: T, summary: 'List passports (no secrets)', query: S.PassportQuery, responses: { 200: S.PassportList },
      handler: ({ query }) => ({ passports: svc.users.listPassports(query.user_id).map(presentPassport) }) }),
    route({ method: 'DELETE', path: '/passports/{passport_id}', auth: 'admin', tag: T, summary: 'Revoke a passport', params: S.IdParam('passport_id'),
      responses: { 200: S.Deleted },
      handler: async ({ params }) => { await svc.users.revokePassport(params.passport_id as string); return { deleted: true }; } }),

    // credits, usage, catalog
    route({ method: 'POST', path: '/credits/add', auth: 'admin', tag: T, summary: 'Add credits to a user', body: S.AddCreditsBody, responses: { 200: S.CreditsResult },
      handler: ({ body }) => svc.billing.addCredits(body.user_id, body.amount, body.source, body.description) }),
    route({ method: 'POST', path: '/credits/deduct', auth: 'admin', tag: T, summary: 'Remove credits from a user (corrections, refunds); the balance never goes below 0',
      body: S.DeductCreditsBody, responses: { 200: S.CreditsResult },
      handler: ({ body }) => svc.billing.addCredits(body.user_id, -body.amount, body.source, body.description) }),
    route({ method: 'GET', path: '/credits/{user_id}', auth: 'admin', tag: T, summary: 'A user\'s credit history', params: S.IdParam('user_id'), responses: { 200: S.History },
      handler: ({ params }) => svc.billing.history(params.user_id as string) }),
    route({ method: 'GET', path: '/usage', auth: 'admin', tag: T, summary: 'Usage records (session seconds)', query: S.UsageQuery, responses: { 200: S.UsageList },
      handler: ({ query }) => svc.billing.usage(query.user_id) }),
    route({ method: 'GET', path: '/products', auth: 'admin', tag: T, summary: 'List products', responses: { 200: S.ProductList }, handler: () => svc.billing.products() }),
    route({ method: 'POST', path: '/products', auth: 'admin', tag: T, summary: 'Create a product', body: S.CreateProductBody, status: 201, responses: { 201: S.Product },
      handler: ({ body }) => svc.billing.createProduct(body) }),
    route({ method: 'GET', path: '/prices', auth: 'admin', tag: T, summary: 'List prices', responses: { 200: S.PriceList }, handler: () => svc.billing.prices() }),
    route({ method: 'POST', path: '/prices', auth: 'admin', tag: T, summary: 'Create a price', body: S.CreatePriceBody, status: 201, responses: { 201: S.Price },
      handler: ({ body }) => svc.billing.createPrice(body) }),
    route({ method: 'GET', path: '/purchase-orders', auth: 'admin', tag: T, summary: 'List purchase orders', responses: { 200: S.PurchaseOrderList }, handler: () => svc.billing.purchaseOrders() }),
    route({ method: 'POST', path: '/purchase-orders', auth: 'admin', tag: T, summary: 'Create (and fulfil) a purchase order', body: S.CreatePurchaseOrderBody,
      status: 201, responses: { 201: S.PurchaseOrderEnvelope }, handler: ({ body }) => svc.billing.createPurchaseOrder(body) }),

    // workspaces
    route({ method: 'POST', path: '/workspaces', auth: 'admin', tag: T, summary: 'Create a workspace for a user', body: S.CreateWorkspaceBody,
      status: 201, responses: { 201: S.WorkspaceEnvelope },
      handler: async ({ body }) => ({ workspace: presentWorkspace(await svc.workspaces.create(body)) }) }),
    route({ method: 'GET', path: '/workspaces', auth: 'admin', tag: T, summary: 'List workspaces', query: S.WorkspaceQuery, responses: { 200: S.WorkspaceList },
      handler: ({ query }) => ({ workspaces: svc.workspaces.list(query.user_id).map(presentWorkspace) }) }),
    route({ method: 'POST', path: '/workspaces/ensure-identity', auth: 'admin', tag: T, summary: 'Create or converge a workspace\'s cloud identity',
      body: S.EnsureIdentityBody, responses: { 200: S.IdentityResult },
      handler: ({ body }) => { const { workspace_id, ...rest } = body; return svc.workspaces.ensureIdentity(workspace_id, rest); } }),
    route({ method: 'GET', path: '/workspaces/{workspace_id}', auth: 'admin', tag: T, summary: 'Get a workspace', params: S.IdParam('workspace_id'),
      responses: { 200: S.WorkspaceEnvelope }, handler: ({ params }) => ({ workspace: presentWorkspace(svc.workspaces.getAny(params.workspace_id as string)) }) }),
    route({ method: 'DELETE', path: '/workspaces/{workspace_id}', auth: 'admin', tag: T, summary: 'Delete a workspace with its vaults and drives',
      params: S.IdParam('workspace_id'), responses: { 200: S.Deleted },
      handler: async ({ params }) => { await svc.workspaces.remove(params.workspace_id as string, (ids) => svc.storage.removeMany(ids)); return { deleted: true }; } }),

    route({ method: 'POST', path: '/gc', auth: 'admin', tag: T, summary: 'Find (dry_run, the default) or delete provider objects that no live record owns',
      body: S.GcBody, responses: { 200: S.GcResult },
      handler: async ({ body }) => {
        const gc = svc.ctx.gc;
        if (!gc) throw badRequest(`the ${svc.ctx.config.provider} provider has nothing to collect: it reconciles its sandboxes with the store at every start`);
        const d = store.data;
        return gc({
          workspace_ids: d.workspaces.map((w) => w.workspace_id),
          session_ids: d.sessions.filter(isLive).map((s) => s.session_id),
          resource_ids: d.storage_resources.map((r) => r.resource_id),
        }, body?.dry_run ?? true);
      } }),

    // everything, all users
    route({ method: 'GET', path: '/sessions', auth: 'admin', tag: T, summary: 'All sessions', query: S.SessionQuery, responses: { 200: S.SessionList },
      handler: ({ query }) => { const list = svc.sessions.list(query).map((s) => presentSession(s, store)); return { sessions: list, count: list.length }; } }),
    // Any user's shuttle: the admin's way to end one whose owner cannot (every passport revoked, say).
    route({ method: 'DELETE', path: '/sessions/{session_id}', auth: 'admin', tag: T, summary: 'Terminate any shuttle', params: S.IdParam('session_id'), responses: { 200: S.Deleted },
      handler: async ({ params }) => {
        const s = store.get('sessions', params.session_id);
        if (!s) throw notFound('session');
        await svc.sessions.terminate(s);
        return { deleted: true };
      } }),
    route({ method: 'GET', path: '/storage', auth: 'admin', tag: T, summary: 'All vaults and drives', responses: { 200: S.AdminStorageList },
      handler: () => ({ resources: svc.storage.list({}).map((r) => presentResource(r, store)) }) }),
  ];
}
