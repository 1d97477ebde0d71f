// Shuttles: launch (resolve storage, record, provision), execute, terminate, TTL and liveness
// sweeps, and reconciliation with the provider after a daemon restart.
import type { View, Tx, SessionMount, SessionRow, StorageRow, WorkspaceRow } from '../store';
import type { ExecResult } from '../providers/types';
import { ApiError, badRequest, conflict, notFound, paymentRequired, throttled } from '../errors';
import { meterSession } from './billing';
import { assertOwnerActive, isLive, newId, now, ownedRow, type ServiceContext } from './context';
import { beingDeleted, storage as storageService, type NewResource } from './storage';
import { findTemplate } from './templates';
import { workspaceRef } from './workspaces';

export const sessionRef = (s: SessionRow) => ({ session_id: s.session_id, sandbox_name: s.pod_name, namespace: s.k8s_namespace });

export interface LaunchRequest {
  template?: string;
  ttl_minutes: number;
  env: Record<string, string>;
  vault_id?: string; vault_name?: string; drive_id?: string; drive_name?: string;
  request_bucket: boolean; bucket_size_gb: number;
  request_persistent_storage: boolean; persistent_storage_size_gb: number;
}

/** End a session record (inside a mutation): status, detach storage, meter usage. */
function endRecord(d: View, tx: Tx, s: SessionRow, status: SessionRow['status'], reason: string, at = new Date()): void {
  if (!isLive(s)) return;
  const endedAt = new Date(Math.min(at.getTime(), Date.parse(s.expires_at) + 1000));
  const wasRunning = s.status === 'running';
  s.status = status;
  s.ended_at = endedAt.toISOString();
  s.end_reason = reason;
  tx.put('sessions', s);
  for (const a of d.session_attachments) {
    if (a.session_id === s.session_id && !a.detached_at) { a.detached_at = s.ended_at; tx.put('session_attachments', a); }
  }
  if (wasRunning) meterSession(d, tx, s, endedAt);
}

export function sessions(ctx: ServiceContext) {
  const { store, compute, log } = ctx;
  const storage = storageService(ctx);

  const getOwned = (user_id: string, id: string): SessionRow => ownedRow(store, 'sessions', id, user_id, 'session');

  /** The vault or drive a launch names, else the workspace's default with auto_mount. Never one being deleted (409). */
  function pickStorage(user_id: string, w: WorkspaceRow, type: 'bucket' | 'filestore', id?: string, name?: string): StorageRow | undefined {
    const label = type === 'bucket' ? 'vault' : 'drive';
    if (id || name) {
      const r = store.data.storage_resources.find((x) => x.user_id === user_id && (id ? x.resource_id === id : x.workspace_id === w.workspace_id && x.name === name));
      if (!r) throw notFound(`${label} ${id ?? name}`);
      if (r.storage_type !== type) throw badRequest(`${id ?? name} is a ${r.storage_type === 'bucket' ? 'vault' : 'drive'}, not a ${label}`);
      if (r.workspace_id !== w.workspace_id) throw badRequest(`${label} ${id ?? name} belongs to another workspace`);
      if (r.state === 'deleting') throw beingDeleted(r);
      return r;
    }
    const defId = w.defaults[type === 'bucket' ? 'bucket_id' : 'filestore_id'];
    const def = defId ? store.get('storage_resources', defId) : undefined;
    if (def?.auto_mount && def.state === 'deleting') {
      throw conflict(`the workspace's default ${label} ${def.name} is being deleted; name another ${label} (${label}_id) or set another default`, { resource_id: def.resource_id });
    }
    return def && def.auto_mount ? def : undefined;
  }

  /**
   * Inside the write that records a launch: its user and workspace are still there and not being
   * deleted, and so is every vault and drive it mounts. A delete claims in its own write, so either
   * it claimed first (this refuses) or it sees this shuttle live (and refuses itself).
   */
  function assertLaunchable(user_id: string, workspace_id: string, mounts: SessionMount[]): void {
    assertOwnerActive(store, user_id, workspace_id);
    for (const m of mounts) {
      const r = store.get('storage_resources', m.resource_id);
      if (!r) throw conflict(`${m.type === 'bucket' ? 'vault' : 'drive'} ${m.name} was deleted while the shuttle launched; launch again`);
      if (r.state === 'deleting') throw beingDeleted(r);
    }
  }

  /** Who wants to know when a shuttle ends (its line-protocol shells): told once, after the ended record is written. */
  const endWatchers = new Map<string, Set<(row: SessionRow) => void>>();

  async function end(s: SessionRow, status: SessionRow['status'], reason: string) {
    // The record first: the kernel tearing a sandbox down slows the journal's fdatasync (1.1-1.4
    // against 0.4-0.6 ms). A daemon stopped in between leaves a sandbox no live record names: the
    // provider's orphan sweep ends it at the next start (and its supervisor at its TTL).
    const ended = await store.write((d, tx) => {
      const row = store.get('sessions', s.session_id);
      if (row) endRecord(d, tx, row, status, reason);
      return row;
    });
    const watchers = endWatchers.get(s.session_id);
    endWatchers.delete(s.session_id);
    if (ended && watchers) for (const w of watchers) w(ended);
    try {
      await compute.terminate(sessionRef(s));
    } catch (e) {
      log.warn('terminate failed', { session_id: s.session_id, error: (e as Error).message });
    }
  }

  /**
   * A user's live shuttles are capped (config.maxLiveShuttlesPerUser; 0: no cap): each is a process
   * tree with two Node processes (~100 MB) on local, a pod on gke, and a runaway script should get
   * a clear 429 rather than take the machine. Launches still starting count too (until their
   * pending record does), so concurrent launches cannot pass the cap together. Returns the
   * reservation's release (idempotent).
   */
  const starting = new Map<string, number>();
  function reserveShuttle(user_id: string): () => void {
    const limit = ctx.config.maxLiveShuttlesPerUser;
    if (!limit) return () => undefined;
    const live = store.data.sessions.filter((s) => s.user_id === user_id && isLive(s)).length + (starting.get(user_id) ?? 0);
    if (live >= limit) {
      throw throttled(`this user has ${live} live shuttles, the most allowed; terminate one (DELETE /v1/sessions/{id}) or ask the admin to raise ONMEMOS_MAX_SHUTTLES_PER_USER`, { limit, live });
    }
    starting.set(user_id, (starting.get(user_id) ?? 0) + 1);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const n = (starting.get(user_id) ?? 1) - 1;
      if (n > 0) starting.set(user_id, n); else starting.delete(user_id);
    };
  }

  async function launchReserved(user_id: string, w: WorkspaceRow, b: LaunchRequest, template: ReturnType<typeof findTemplate>, release: () => void): Promise<SessionRow> {
    await compute.check();

    const session_id = newId('shuttle-', 6);
    // Everything that can refuse the launch is checked before anything is created: the on-demand
    // vault and drive go into the overlap check with the mount paths they will get.
    const newVault: NewResource | undefined = b.request_bucket && !b.vault_id && !b.vault_name
      ? { name: `${session_id}-vault`, storage_type: 'bucket', size_gb: b.bucket_size_gb, auto_mount: false, mount_path: '/workspace', access_mode: 'RW' } : undefined;
    const newDrive: NewResource | undefined = b.request_persistent_storage && !b.drive_id && !b.drive_name
      ? { name: `${session_id}-drive`, storage_type: 'filestore', size_gb: b.persistent_storage_size_gb, auto_mount: false, mount_path: '/data', access_mode: 'RW' } : undefined;
    let vault = newVault ? undefined : pickStorage(user_id, w, 'bucket', b.vault_id, b.vault_name);
    let drive = newDrive ? undefined : pickStorage(user_id, w, 'filestore', b.drive_id, b.drive_name);
    const v = vault ?? newVault, dr = drive ?? newDrive;
    if (v && dr && (v.mount_path === dr.mount_path || v.mount_path.startsWith(dr.mount_path + '/') || dr.mount_path.startsWith(v.mount_path + '/'))) {
      throw conflict(`vault ${v.name} (${v.mount_path}) and drive ${dr.name} (${dr.mount_path}) overlap; change one mount_path`);
    }

    // Created on demand for this launch: removed again if it is refused before its record is written.
    const created: StorageRow[] = [];
    let row: SessionRow, mounts: SessionMount[], recorded: Promise<void>;
    try {
      if (newVault) created.push(vault = await storage.create(w, newVault));
      if (newDrive) created.push(drive = await storage.create(w, newDrive));
      mounts = [vault, drive].filter((r): r is StorageRow => !!r)
        .map((r) => ({ resource_id: r.resource_id, type: r.storage_type, name: r.name, mount_path: r.mount_path, access_mode: r.access_mode }));
      const createdAt = new Date();
      row = {
        session_id, workspace_id: w.workspace_id, user_id, provider: compute.name, template_id: template.id, status: 'pending',
        k8s_namespace: w.k8s_namespace, pod_name: session_id, mounts, env_keys: Object.keys(b.env), ttl_minutes: b.ttl_minutes,
        created_at: createdAt.toISOString(), started_at: null, expires_at: new Date(createdAt.getTime() + b.ttl_minutes * ctx.config.minuteMs).toISOString(),
        ended_at: null, end_reason: null,
      };
      // The pending record becomes durable while the sandbox starts (a daemon stopped in between
      // leaves a sandbox no record names: the provider's orphan sweep at start ends it).
      let refused: unknown;
      const pending = row;
      recorded = store.write((_d, tx) => {
        try { assertLaunchable(user_id, w.workspace_id, mounts); } catch (e) { refused = e; throw e; }
        tx.put('sessions', pending);
        for (const m of mounts) tx.put('session_attachments', { session_id, resource_id: m.resource_id, mount_path: m.mount_path, access_mode: m.access_mode, attached_at: pending.created_at, detached_at: null });
      });
      if (refused) { recorded.catch(() => undefined); throw refused; }
    } catch (e) {
      for (const r of created.reverse()) {
        await storage.remove(r.resource_id, { promote: false })
          .catch((err: unknown) => log.warn('removing a refused launch\'s on-demand storage failed', { session_id, resource_id: r.resource_id, error: String(err) }));
      }
      throw e;
    }
    // Awaited below; a failure while the sandbox is still starting must not be an unhandled rejection.
    recorded.catch(() => undefined);
    release(); // the pending record now counts this shuttle
    try {
      await compute.launch({
        ...sessionRef(row), workspace: workspaceRef(w), template: template, env: b.env, mounts, ttl_minutes: b.ttl_minutes, expires_at: row.expires_at,
      }, (message) => log.info('launch progress', { session_id, message }));
      await recorded;
    } catch (e) {
      await recorded.catch(() => undefined);
      await compute.terminate(sessionRef(row)).catch(() => undefined);
      await store.write((d, tx) => {
        const r = store.get('sessions', session_id)!;
        endRecord(d, tx, r, 'failed', `launch failed: ${(e as Error).message}`);
      });
      throw e;
    }
    // Running: in memory at once, on disk with the next group commit, not awaited. What this
    // answer says is already durable without it: the pending record is (awaited above) and the
    // sandbox is up, and a daemon stopped before this lands finds both at its next start and
    // records the shuttle running then (reconcile). A whole fdatasync (0.5-5 ms here) is off the
    // launch's path.
    let r: SessionRow | undefined;
    const running = store.write((d, tx) => {
      const row = store.get('sessions', session_id)!;
      if (row.status === 'pending') { row.status = 'running'; row.started_at = now(); tx.put('sessions', row); }
      return (r = row);
    });
    if (!r) {
      // Refused before it changed anything (the store is closing): that error is the answer, and
      // the sandbox that came up for it must not outlive it.
      r = await running.catch(async (e: unknown): Promise<never> => {
        await compute.terminate(sessionRef(row)).catch(() => undefined);
        throw e;
      });
    }
    running.catch((e) => log.warn('recording a shuttle running failed; the next start records it from its live sandbox', { session_id, error: String(e) }));
    // Terminated while it was starting: the sandbox that just came up must not outlive its record.
    if (r.status !== 'running') await compute.terminate(sessionRef(r)).catch(() => undefined);
    return r;
  }

  const service = {
    getOwned,
    /** Call `watcher` once when the shuttle `session_id` ends (terminated, expired, failed); returns the unwatch. */
    watchEnd(session_id: string, watcher: (row: SessionRow) => void): () => void {
      let set = endWatchers.get(session_id);
      if (!set) endWatchers.set(session_id, (set = new Set()));
      set.add(watcher);
      return () => {
        set.delete(watcher);
        if (!set.size && endWatchers.get(session_id) === set) endWatchers.delete(session_id);
      };
    },
    list: (filter: { user_id?: string; workspace_id?: string; status?: string }) =>
      store.data.sessions.filter((s) => (!filter.user_id || s.user_id === filter.user_id)
        && (!filter.workspace_id || s.workspace_id === filter.workspace_id) && (!filter.status || s.status === filter.status)),

    async launch(user_id: string, w: WorkspaceRow, b: LaunchRequest): Promise<SessionRow> {
      const template = findTemplate(b.template);
      const user = store.get('users', user_id);
      if (!user) throw notFound('user');
      assertOwnerActive(store, user_id, w.workspace_id);
      if (user.credits <= 0) throw paymentRequired('no credits left; ask an admin to add credits (POST /admin/credits/add)');
      const release = reserveShuttle(user_id);
      try {
        return await launchReserved(user_id, w, b, template, release);
      } finally {
        release();
      }
    },

    async terminate(s: SessionRow): Promise<void> {
      if (!isLive(s)) return;
      await end(s, 'terminated', 'terminated by user');
    },

    async execute(s: SessionRow, command: string, timeout_seconds: number, env?: Record<string, string>): Promise<ExecResult> {
      if (!isLive(s)) throw conflict(`shuttle ${s.session_id} is ${s.status}; launch a new one`);
      if (s.status !== 'running') throw conflict(`shuttle ${s.session_id} is still starting`);
      // The API's schemas refuse these too; the shell's line protocol comes here directly.
      if (command.includes('\0') || Object.values(env ?? {}).some((v) => v.includes('\0'))) throw badRequest('a command or env value cannot contain NUL (\\u0000)');
      const user = store.get('users', s.user_id);
      if (!user || user.credits <= 0) throw paymentRequired('no credits left; ask an admin to add credits');
      try {
        return await compute.execute(sessionRef(s), { command, timeout_seconds, env, max_output_bytes: ctx.config.maxOutputBytes });
      } catch (e) {
        if (e instanceof ApiError && e.status === 404) {
          await end(s, 'failed', 'sandbox is gone');
          throw conflict(`shuttle ${s.session_id} has ended (its sandbox is gone)`);
        }
        // Ended (terminated, expired) while the command ran: that is what happened to it, not a
        // lost agent (the 502 its broken exec stream gave).
        const after = store.get('sessions', s.session_id);
        if (after && !isLive(after)) throw conflict(`shuttle ${s.session_id} was ${after.status === 'terminated' ? 'terminated' : `ended (${after.status})`} while the command ran`);
        throw e;
      }
    },

    /** End sessions past their TTL and those whose sandbox died. Runs on a timer. */
    async sweep(checkLiveness: boolean): Promise<void> {
      const t = Date.now();
      for (const s of store.data.sessions.filter((x) => x.status === 'running')) {
        if (Date.parse(s.expires_at) <= t) {
          log.info('shuttle expired', { session_id: s.session_id });
          await end(s, 'expired', `ttl of ${s.ttl_minutes} min reached`);
        } else if (checkLiveness && !(await compute.isAlive(sessionRef(s)).catch(() => true))) {
          log.warn('shuttle sandbox is gone', { session_id: s.session_id });
          await end(s, 'failed', 'sandbox exited');
        }
      }
    },

    /** After a restart: no record may claim a sandbox that is gone, and no sandbox may run without one. */
    async reconcile(): Promise<{ alive: number; ended: number; orphans: number }> {
      let alive = 0, ended = 0;
      for (const s of store.data.sessions.filter(isLive)) {
        const ok = await compute.isAlive(sessionRef(s)).catch(() => false);
        if (ok && Date.parse(s.expires_at) > Date.now()) {
          // Pending with its sandbox up: launched, and stopped before "running" was on disk (see
          // launch). Whether the answer left too cannot be known: the shuttle is kept as running
          // (usable, listed, ended by its TTL or the user) rather than killed under a client that
          // was told it runs. started_at is then its created_at (the launch's few ms early).
          if (s.status === 'pending') await store.write((_d, tx) => tx.put('sessions', { ...s, status: 'running', started_at: s.started_at ?? s.created_at }));
          alive++;
          continue;
        }
        ended++;
        const expired = Date.parse(s.expires_at) <= Date.now();
        await end(s, expired ? 'expired' : 'failed', expired ? 'ttl reached while the daemon was down' : 'sandbox gone after daemon restart');
      }
      const live = new Set(store.data.sessions.filter(isLive).map((s) => s.pod_name));
      const orphans = await compute.sweepOrphans?.(live) ?? [];
      if (orphans.length) log.warn('ended sandboxes no record names', { sandboxes: orphans });
      return { alive, ended, orphans: orphans.length };
    },
  };
  return service;
}
