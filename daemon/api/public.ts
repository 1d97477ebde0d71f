// Public routes (a passport in X-API-Key or Authorization: Bearer): what SDK scripts and the
// extension use as a user. A passport only ever reaches its own user's things; others are 404.
import { z } from 'zod';
import * as S from './schemas';
import { requireUser, route, withStatus, type RouteDef } from './http';
import { presentResource, presentSession, presentWorkspace } from './present';
import { TEMPLATES } from '../services/templates';
import { sessionRef } from '../services/sessions';
import type { Services } from '../services';
import { badRequest, notFound } from '../errors';
import type { ExecResult } from '../providers/types';
import type { Job } from '../services/jobs';

const JobResult = z.object({
  job_id: z.string(), session_id: z.string(), command: z.string(), status: z.enum(['running', 'succeeded', 'failed']),
  created_at: z.string(), finished_at: z.string().nullable(), result: S.ExecuteResult.nullable(), error: z.string().nullable(),
});

export const DEFAULT_EXEC_TIMEOUT = 300;

export function presentExec(session_id: string, command: string, r: ExecResult): z.infer<typeof S.ExecuteResult> {
  return {
    session_id, command, stdout: r.stdout, stderr: r.stderr, returncode: r.exit_code, exit_code: r.exit_code,
    success: r.exit_code === 0 && !r.timed_out, duration_ms: r.duration_ms, timed_out: r.timed_out, truncated: r.truncated,
  };
}

/** A job as documented (JobResult): the owner's user_id stays internal. */
function presentJob(j: Job, result: z.infer<typeof S.ExecuteResult> | null): z.infer<typeof JobResult> {
  return { job_id: j.job_id, session_id: j.session_id, command: j.command, status: j.status, created_at: j.created_at, finished_at: j.finished_at, result, error: j.error };
}

export function publicRoutes(svc: Services): RouteDef[] {
  const { store, config } = svc.ctx;
  const T = 'public';
  const sid = S.IdParam('session_id');
  const ownedSession = (p: Parameters<typeof requireUser>[0], id: unknown) => svc.sessions.getOwned(requireUser(p), id as string);

  return [
    route({ method: 'GET', path: '/health', auth: 'none', tag: T, summary: 'Public listener health', responses: { 200: S.PublicHealth },
      handler: () => ({ status: 'healthy', server: 'public', version: config.version, provider: config.provider }) }),
    route({ method: 'GET', path: '/v1/templates', auth: 'passport', tag: T, summary: 'Session templates', responses: { 200: S.TemplateList },
      handler: () => ({ templates: TEMPLATES }) }),
    route({ method: 'GET', path: '/v1/workspaces', auth: 'passport', tag: T, summary: 'My workspaces', responses: { 200: S.WorkspaceList },
      handler: ({ principal }) => ({ workspaces: svc.workspaces.list(requireUser(principal)).map(presentWorkspace) }) }),

    // sessions
    route({ method: 'POST', path: '/v1/sessions', auth: 'passport', tag: T, summary: 'Launch a shuttle', body: S.CreateSessionBody,
      status: 201, responses: { 201: S.SessionEnvelope },
      handler: async ({ principal, body }) => {
        const user_id = requireUser(principal);
        const w = svc.workspaces.getOwned(user_id, (body.workspace_id ?? body.dock_id)!);
        const s = await svc.sessions.launch(user_id, w, { ...body, template: body.template_id ?? body.template });
        return { session: presentSession(s, store) };
      } }),
    route({ method: 'GET', path: '/v1/sessions', auth: 'passport', tag: T, summary: 'My shuttles', query: S.SessionQuery, responses: { 200: S.SessionList },
      handler: ({ principal, query }) => {
        const list = svc.sessions.list({ ...query, user_id: requireUser(principal) }).map((s) => presentSession(s, store));
        return { sessions: list, count: list.length };
      } }),
    route({ method: 'GET', path: '/v1/sessions/{session_id}', auth: 'passport', tag: T, summary: 'One shuttle', params: sid, responses: { 200: S.SessionEnvelope },
      handler: ({ principal, params }) => ({ session: presentSession(ownedSession(principal, params.session_id), store) }) }),
    route({ method: 'DELETE', path: '/v1/sessions/{session_id}', auth: 'passport', tag: T, summary: 'Terminate a shuttle', params: sid, responses: { 200: S.Deleted },
      handler: async ({ principal, params }) => { await svc.sessions.terminate(ownedSession(principal, params.session_id)); return { deleted: true }; } }),
    route({ method: 'POST', path: '/v1/sessions/{session_id}/execute', auth: 'passport', tag: T,
      summary: 'Run a command (query parameters as the seed SDK sends, or a JSON body)', params: sid, query: S.ExecuteQuery, body: S.ExecuteBody,
      responses: { 200: S.ExecuteResult, 202: JobResult },
      handler: async ({ principal, params, query, body }) => {
        const s = ownedSession(principal, params.session_id);
        const command = body?.command ?? query.command;
        if (!command) throw badRequest('command is required (query parameter "command" or JSON body {"command": ...})');
        const timeout = body?.timeout_seconds ?? body?.timeout ?? query.timeout ?? DEFAULT_EXEC_TIMEOUT;
        const run = () => svc.sessions.execute(s, command, timeout, body?.env);
        if (query.async_execution ?? body?.async_execution) {
          if (s.status !== 'running') await run(); // surfaces the same 409 as a synchronous call
          const job = svc.jobs.start(s.session_id, s.user_id, command, run);
          return withStatus(202, presentJob(job, null));
        }
        return presentExec(s.session_id, command, await run());
      } }),
    route({ method: 'GET', path: '/v1/sessions/{session_id}/jobs/{job_id}', auth: 'passport', tag: T, summary: 'An asynchronous execution\'s state and result',
      params: z.object({ session_id: z.string().min(1).max(128), job_id: z.string().min(1).max(128) }), responses: { 200: JobResult },
      handler: ({ principal, params }) => {
        const s = ownedSession(principal, params.session_id);
        const j = svc.jobs.get(params.job_id, s.session_id, s.user_id);
        if (!j) throw notFound('job');
        return presentJob(j, j.result ? presentExec(s.session_id, j.command, j.result) : null);
      } }),
    route({ method: 'POST', path: '/v1/sessions/{session_id}/ws-token', auth: 'passport', tag: T, summary: 'A 5-minute token for this shuttle\'s shell',
      params: sid, responses: { 200: S.WsToken },
      handler: ({ principal, params }) => {
        const s = ownedSession(principal, params.session_id);
        return svc.ctx.tokens.issue({ user_id: s.user_id, session_id: s.session_id, passport_id: principal.kind === 'user' ? principal.passport_id ?? undefined : undefined });
      } }),
    route({ method: 'GET', path: '/v1/sessions/{session_id}/connect', auth: 'passport', tag: T, summary: 'How to reach this shuttle\'s shell',
      params: sid, responses: { 200: S.ConnectInfo },
      handler: ({ principal, params, req }) => {
        const s = ownedSession(principal, params.session_id);
        const base = `ws://${req.headers.host ?? `${config.host}:${config.publicPort}`}`;
        const q = `k8s_ns=${encodeURIComponent(s.k8s_namespace)}&pod=${encodeURIComponent(s.pod_name)}`;
        return {
          session_id: s.session_id, websocket_url: `${base}/v1/gke/shell/${s.session_id}?${q}`,
          pty_websocket_url: `${base}/v1/sessions/${s.session_id}/shell?mode=pty`, subprotocol: 'onmemos.pty.v1',
          token_url: `/v1/sessions/${s.session_id}/ws-token`, k8s_namespace: s.k8s_namespace, pod_name: s.pod_name,
        };
      } }),
    route({ method: 'GET', path: '/v1/sessions/{session_id}/shells', auth: 'passport', tag: T, summary: 'Live shells of this shuttle', params: sid,
      responses: { 200: S.ShellList },
      handler: async ({ principal, params }) => {
        const s = ownedSession(principal, params.session_id);
        const shells = s.status === 'running' && svc.ctx.compute.listShells
          ? await svc.ctx.compute.listShells(sessionRef(s)) : [];
        return { shells };
      } }),

    // storage
    ...(['buckets', 'filestores'] as const).map((kind) => route({
      method: 'POST', path: `/v1/storage/${kind}`, auth: 'passport', tag: T, summary: kind === 'buckets' ? 'Create a vault (bucket)' : 'Create a drive (filestore)',
      body: kind === 'buckets' ? S.CreateBucketBody : S.CreateFilestoreBody, status: 201, responses: { 201: S.StorageResource },
      handler: async ({ principal, body }) => {
        const b = body as z.infer<typeof S.CreateBucketBody>;
        const w = svc.workspaces.getOwned(requireUser(principal), (b.workspace_id ?? b.dock_id)!);
        const r = await svc.storage.create(w, { name: b.name, storage_type: kind === 'buckets' ? 'bucket' : 'filestore', size_gb: b.size_gb, auto_mount: b.auto_mount, mount_path: b.mount_path, access_mode: b.access_mode });
        return presentResource(r, store);
      },
    })),
    route({ method: 'GET', path: '/v1/storage', auth: 'passport', tag: T, summary: 'My vaults and drives (of one workspace, or all)', query: S.StorageQuery,
      responses: { 200: S.StorageListing },
      handler: ({ principal, query }) => {
        const user_id = requireUser(principal);
        const wid = query.workspace_id ?? query.dock_id;
        const w = wid ? svc.workspaces.getOwned(user_id, wid) : undefined;
        return {
          workspace_id: w?.workspace_id ?? null,
          resources: svc.storage.list({ user_id, workspace_id: w?.workspace_id }).map((r) => presentResource(r, store)),
          defaults: w ? { ...w.defaults } : { bucket_id: null, filestore_id: null },
        };
      } }),
    route({ method: 'GET', path: '/v1/storage/{resource_id}', auth: 'passport', tag: T, summary: 'One vault or drive', params: S.IdParam('resource_id'),
      responses: { 200: S.StorageResource },
      handler: ({ principal, params }) => presentResource(svc.storage.getOwned(requireUser(principal), params.resource_id as string), store) }),
    route({ method: 'PATCH', path: '/v1/storage/{resource_id}', auth: 'passport', tag: T, summary: 'Change default, auto-mount, mount path or access mode',
      params: S.IdParam('resource_id'), body: S.PatchStorageBody, responses: { 200: S.StorageResource },
      handler: async ({ principal, params, body }) => presentResource(await svc.storage.patch(requireUser(principal), params.resource_id as string, body), store) }),
    route({ method: 'DELETE', path: '/v1/storage/{resource_id}', auth: 'passport', tag: T, summary: 'Delete a vault or drive (409 while attached to a live shuttle)',
      params: S.IdParam('resource_id'), responses: { 200: S.Deleted },
      handler: async ({ principal, params }) => {
        const r = svc.storage.getOwned(requireUser(principal), params.resource_id as string);
        await svc.storage.remove(r.resource_id);
        return { deleted: true };
      } }),
    route({ method: 'POST', path: '/v1/storage/workspaces/{workspace_id}/defaults', auth: 'passport', tag: T, summary: 'Set a workspace\'s default vault and drive',
      params: S.IdParam('workspace_id'), body: S.SetDefaultsBody, responses: { 200: S.DefaultsResult },
      handler: ({ principal, params, body }) => svc.storage.setDefaults(svc.workspaces.getOwned(requireUser(principal), params.workspace_id as string), body ?? {}) }),

    // billing
    route({ method: 'GET', path: '/v1/billing/credits', auth: 'passport', tag: T, summary: 'My credit balance', responses: { 200: S.Credits },
      handler: ({ principal }) => svc.billing.credits(requireUser(principal)) }),
    route({ method: 'GET', path: '/v1/billing/history', auth: 'passport', tag: T, summary: 'My credit ledger and usage', responses: { 200: S.History },
      handler: ({ principal }) => svc.billing.history(requireUser(principal)) }),
    route({ method: 'GET', path: '/v1/billing/summary', auth: 'passport', tag: T, summary: 'My totals', responses: { 200: S.Summary },
      handler: ({ principal }) => svc.billing.summary(requireUser(principal)) }),
  ];
}
