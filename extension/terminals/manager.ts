import * as vscode from 'vscode';
import type { Connection } from '../api/connection';
import type { Session } from '../api/types';
import { TERMINAL_PROFILE_ID } from '../commandIds';
import { Disposable } from '../lifecycle';
import type { Logger } from '../logger';
import type { SecretsManager } from '../secrets';
import { ShellPty } from './shellPty';

interface SavedShell { sessionId: string; shellId: string; name: string; publicUrl: string }
const STATE_KEY = 'onmemos.openShells';

// Opens shuttle terminals, remembers their shell ids so a reloaded window reattaches to the same
// shells (with scrollback), and contributes the "OnMemOS Shuttle" terminal profile.
export class TerminalManager extends Disposable {
  private readonly open = new Map<vscode.Terminal, ShellPty>();

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly connection: Connection,
    private readonly secrets: SecretsManager,
    private readonly log: Logger,
    pickOrLaunch: () => Promise<Session | undefined>,
  ) {
    super();
    this._register(vscode.window.onDidCloseTerminal((t) => {
      const pty = this.open.get(t);
      if (!pty) return;
      this.open.delete(t);
      void this.save();
    }));
    // A changed or forgotten passport must not stay in use: close the terminals opened with the old
    // one (their socket would reconnect with it) and forget their shells (no reattach on reload).
    this._register(secrets.onDidChange((kind) => { if (kind === 'passport') void this.closeStale(); }));
    this._register(vscode.window.registerTerminalProfileProvider(TERMINAL_PROFILE_ID, {
      provideTerminalProfile: async () => {
        const session = await pickOrLaunch();
        if (!session) return undefined;
        // VS Code adds a profile's terminal to the panel without showing it (code-server 4.139.1:
        // the previous terminal stays in front), so the user would not see the shell they asked for.
        const { options } = await this.create(session, undefined, true);
        return new vscode.TerminalProfile(options);
      },
    }));
  }

  get terminals(): ReadonlyMap<vscode.Terminal, ShellPty> { return this.open; }

  async openFor(session: Session, attach?: string): Promise<{ terminal: vscode.Terminal; pty: ShellPty }> {
    const { options, pty } = await this.create(session, attach);
    const terminal = vscode.window.createTerminal(options);
    this.open.set(terminal, pty);
    terminal.show();
    return { terminal, pty };
  }

  private async create(session: Session, attach?: string, showOnOpen = false): Promise<{ options: vscode.ExtensionTerminalOptions; pty: ShellPty }> {
    const publicUrl = this.connection.settings.publicUrl;
    const passport = await this.secrets.get('passport', publicUrl);
    if (!passport) throw new Error('No passport is set for this daemon; set one first (OnMemOS: Set or Change Passport).');
    const pty = new ShellPty({ publicUrl, passport, sessionId: session.id, attach }, this.log);
    const name = `OnMemOS: ${session.pod_name || session.id.slice(0, 12)}`;
    this._register(pty.onDidGetShellId(() => void this.save()));
    const options: vscode.ExtensionTerminalOptions = { name, pty, iconPath: new vscode.ThemeIcon('rocket') };
    // A profile-created terminal is only known once VS Code opens it: match it by its pty.
    const sub = vscode.window.onDidOpenTerminal((t) => {
      if ((t.creationOptions as vscode.ExtensionTerminalOptions).pty !== pty) return;
      this.open.set(t, pty);
      sub.dispose();
      if (showOnOpen) t.show();
    });
    this._register(sub);
    return { options, pty };
  }

  // After a window reload the terminals are gone but their shells live on in the shuttle:
  // reopen one terminal per shell that the daemon still lists.
  async restore(): Promise<void> {
    const saved = this.context.workspaceState.get<SavedShell[]>(STATE_KEY, []);
    if (!saved.length || this.connection.state !== 'ready') return;
    for (const s of saved) {
      if (s.publicUrl !== this.connection.settings.publicUrl) continue;
      try {
        const shells = await this.connection.api.listShells(s.sessionId);
        if (!shells.some((x) => x.shell_id === s.shellId)) continue;
        const session = await this.connection.api.getSession(s.sessionId);
        await this.openFor(session, s.shellId);
        this.log.info(`reattached terminal to shell ${s.shellId} of ${s.sessionId}`);
      } catch (e) {
        this.log.info(`not reattaching shell ${s.shellId}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    await this.save();
  }

  async closeStale(): Promise<number> {
    const current = new Map<string, string | undefined>();
    let closed = 0;
    for (const [t, pty] of [...this.open]) {
      if (!current.has(pty.publicUrl)) current.set(pty.publicUrl, await this.secrets.get('passport', pty.publicUrl));
      if (pty.usesPassport(current.get(pty.publicUrl))) continue;
      this.log.info(`closing terminal ${t.name}: the passport it used was changed or forgotten`);
      this.open.delete(t);
      pty.close();
      t.dispose();
      closed++;
    }
    const saved = this.context.workspaceState.get<SavedShell[]>(STATE_KEY, []);
    // Only the shells of terminals still open (with a passport still stored) are worth reattaching.
    const keep = saved.filter((s) => [...this.open.values()].some((p) => p.id === s.shellId && p.publicUrl === s.publicUrl));
    if (closed || keep.length !== saved.length) await this.context.workspaceState.update(STATE_KEY, keep);
    return closed;
  }

  private async save(): Promise<void> {
    const publicUrl = this.connection.settings.publicUrl;
    const list: SavedShell[] = [];
    for (const [t, pty] of this.open) {
      if (pty.id && pty.exited === undefined) list.push({ sessionId: pty.sessionId, shellId: pty.id, name: t.name, publicUrl });
    }
    await this.context.workspaceState.update(STATE_KEY, list);
  }
}
