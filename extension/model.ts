import * as vscode from 'vscode';
import type { Connection } from './api/connection';
import type { Session, StorageResource, Workspace } from './api/types';
import { Disposable } from './lifecycle';
import type { Logger } from './logger';

// One snapshot of what the passport's user owns, fetched together and shared by the four views.
// Refreshed after every action and by polling (an SDK script elsewhere changes things too);
// views are told only when the snapshot really changed, so polling never flickers.
export interface Snapshot {
  workspaces: Workspace[];
  storage: StorageResource[];
  sessions: Session[];
  fetchedAt: number;
}

export const EMPTY: Snapshot = { workspaces: [], storage: [], sessions: [], fetchedAt: 0 };

export class Model extends Disposable {
  private _snapshot: Snapshot = EMPTY;
  private fingerprint = '';
  private inflight: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly changed = this._register(new vscode.EventEmitter<Snapshot>());
  readonly onDidChange = this.changed.event;

  constructor(private readonly connection: Connection, private readonly log: Logger) {
    super();
    this._register(connection.onDidChangeState(() => void this.refresh()));
    this._register(connection.onDidChangeConfig(() => this.schedule()));
    this._register({ dispose: () => this.timer && clearTimeout(this.timer) });
    this.schedule();
  }

  get snapshot(): Snapshot { return this._snapshot; }

  // Coalesces concurrent refreshes: a caller always waits for a fetch that started after it asked,
  // and callers that ask while one is queued behind the running fetch share that queued one.
  refresh(): Promise<void> {
    if (this.queued) return this.queued;
    const run = async () => {
      const state = (): string => this.connection.state;
      if (state() !== 'ready') {
        // A refused passport is not retried by polling (each try counts as a failed authentication at
        // the daemon): a new secret, a settings change or Refresh checks again.
        if (state() !== 'connecting' && state() !== 'badPassport') await this.connection.check();
        if (state() !== 'ready') { this.publish(EMPTY); return; }
      }
      try {
        const api = this.connection.api;
        const [workspaces, sessions] = await Promise.all([api.listWorkspaces(), api.listSessions()]);
        const lists = await Promise.all(workspaces.map((w) => api.listStorage(w.workspace_id)));
        const storage = lists.flatMap((l) => l.resources);
        this.publish({ workspaces, storage, sessions, fetchedAt: Date.now() });
      } catch (e) {
        this.log.warn(`refresh failed: ${e instanceof Error ? e.message : String(e)}`);
        this.connection.reportFailure(e);
      }
    };
    const start = () => { this.queued = undefined; return run(); };
    const previous = this.inflight ?? Promise.resolve();
    const next = previous.then(start, start).finally(() => { if (this.inflight === next) this.inflight = undefined; });
    this.inflight = this.queued = next;
    return next;
  }

  private publish(s: Snapshot): void {
    const fp = JSON.stringify([s.workspaces, s.storage, s.sessions]);
    this._snapshot = s;
    if (fp === this.fingerprint) return;
    this.fingerprint = fp;
    void vscode.commands.executeCommand('setContext', 'onmemos.hasWorkspaces', s.workspaces.length > 0);
    this.changed.fire(s);
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    const ms = this.connection.settings.pollIntervalMs;
    if (!ms || this.isDisposed) return;
    this.timer = setTimeout(() => {
      void this.refresh().finally(() => this.schedule());
    }, ms);
  }
}
