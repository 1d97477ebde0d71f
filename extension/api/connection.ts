import * as vscode from 'vscode';
import type { AdminApi, PublicApi } from './backend';
import { createAdminApi, createPublicApi } from './client';
import { isApiError, stateAfterHealthy } from './errors';
import { readSettings, type Settings } from '../config';
import { Disposable } from '../lifecycle';
import type { Logger } from '../logger';
import type { SecretsManager } from '../secrets';

// The extension's view of the daemon: which URLs, which credentials, and whether it answers.
// The state is mirrored into the `onmemos.state` context key that viewsWelcome reads.
// daemonError: it answers /health but fails requests (see the log); never a reason to start another.
export type ConnectionState = 'connecting' | 'noDaemon' | 'noPassport' | 'badPassport' | 'daemonError' | 'ready';

export class Connection extends Disposable {
  private _state: ConnectionState = 'connecting';
  private _settings: Settings;
  private _public: PublicApi;
  private _admin: AdminApi;
  private readonly stateChanged = this._register(new vscode.EventEmitter<ConnectionState>());
  readonly onDidChangeState = this.stateChanged.event;
  private readonly configChanged = this._register(new vscode.EventEmitter<void>());
  readonly onDidChangeConfig = this.configChanged.event;

  constructor(private readonly secrets: SecretsManager, private readonly log: Logger) {
    super();
    this._settings = readSettings(vscode.workspace.getConfiguration('onmemos'));
    this._public = createPublicApi(this._settings.publicUrl, undefined);
    this._admin = createAdminApi(this._settings.adminUrl, undefined);
    this._register(vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration('onmemos')) return;
      this._settings = readSettings(vscode.workspace.getConfiguration('onmemos'));
      this.log.info(`settings changed: public=${this._settings.publicUrl} admin=${this._settings.adminUrl}`);
      this.configChanged.fire();
      void this.check();
    }));
    this._register(secrets.onDidChange(() => void this.check()));
  }

  get state(): ConnectionState { return this._state; }
  get settings(): Settings { return this._settings; }
  get api(): PublicApi { return this._public; }
  get admin(): AdminApi { return this._admin; }

  async hasAdminKey(): Promise<boolean> {
    return !!(await this.secrets.get('adminKey', this._settings.adminUrl));
  }

  // Re-reads credentials, probes the daemon, and returns the new state.
  async check(): Promise<ConnectionState> {
    const { publicUrl, adminUrl } = this._settings;
    const [passport, adminKey] = await Promise.all([
      this.secrets.get('passport', publicUrl), this.secrets.get('adminKey', adminUrl),
    ]);
    this._public = createPublicApi(publicUrl, passport);
    this._admin = createAdminApi(adminUrl, adminKey);
    let next: ConnectionState;
    try {
      await this._public.health();
      if (!passport) next = 'noPassport';
      // Stored before keys were checked on input: not sendable as a header, so never sent.
      else if (/[^\x21-\x7e]/.test(passport)) next = 'badPassport';
      else {
        try {
          await this._public.listWorkspaces();
          next = 'ready';
        } catch (e) {
          next = stateAfterHealthy(e);
          this.log.warn(`daemon at ${publicUrl} answers but refused or failed a request (${next}): ${e instanceof Error ? e.message : String(e)}`);
        }
      }
    } catch (e) {
      if (this._state !== 'noDaemon') this.log.warn(`daemon at ${publicUrl} does not answer: ${e instanceof Error ? e.message : String(e)}`);
      next = 'noDaemon';
    }
    this.setState(next);
    return next;
  }

  // Called by the model when a request fails so the state follows reality between polls.
  reportFailure(e: unknown): void {
    if (isApiError(e) && (e.status === 401 || e.status === 429)) this.setState('badPassport');
    else if (!isApiError(e) || e.status === 0) void this.check();
  }

  private setState(next: ConnectionState): void {
    if (next === this._state) return;
    this.log.info(`connection: ${this._state} -> ${next}`);
    this._state = next;
    void vscode.commands.executeCommand('setContext', 'onmemos.state', next);
    this.stateChanged.fire(next);
  }
}
