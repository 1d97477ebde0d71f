import * as vscode from 'vscode';
import type { Connection, ConnectionState } from './api/connection';
import { COMMANDS } from './commandIds';
import { Disposable } from './lifecycle';
import type { Model } from './model';

// One status-bar item: the daemon's state, and the click that moves it forward.
export function statusFor(state: ConnectionState, running: number, url: string): { text: string; tooltip: string; command: string; warn: boolean } {
  switch (state) {
    case 'connecting': return { text: '$(sync~spin) OnMemOS', tooltip: `Connecting to ${url}…`, command: COMMANDS.showLog, warn: false };
    case 'noDaemon': return { text: '$(debug-disconnect) OnMemOS: no daemon', tooltip: `No daemon answers at ${url}. Click to start the bundled one.`, command: COMMANDS.startDaemon, warn: true };
    case 'noPassport': return { text: '$(key) OnMemOS: set passport', tooltip: `Daemon at ${url} is up. Click to set your passport.`, command: COMMANDS.setPassport, warn: true };
    case 'badPassport': return { text: '$(key) OnMemOS: passport refused', tooltip: `The daemon at ${url} refused your passport. Click to change it.`, command: COMMANDS.setPassport, warn: true };
    case 'daemonError': return { text: '$(error) OnMemOS: daemon error', tooltip: `The daemon at ${url} answers but fails requests. Click to see the log.`, command: COMMANDS.showLog, warn: true };
    case 'ready': return {
      text: `$(rocket) OnMemOS${running ? `: ${running}` : ''}`,
      tooltip: `Connected to ${url} — ${running} running shuttle${running === 1 ? '' : 's'}. Click to launch one.`,
      command: COMMANDS.launchShuttle, warn: false,
    };
  }
}

export class StatusBar extends Disposable {
  private readonly item = this._register(vscode.window.createStatusBarItem('onmemos.status', vscode.StatusBarAlignment.Left, 10));

  constructor(private readonly connection: Connection, private readonly model: Model) {
    super();
    this.item.name = 'OnMemOS';
    this._register(connection.onDidChangeState(() => this.update()));
    this._register(model.onDidChange(() => this.update()));
    this.update();
    this.item.show();
  }

  // What the item shows (tests read it; the item itself stays private).
  get text(): string { return this.item.text; }

  private update(): void {
    const running = this.model.snapshot.sessions.filter((s) => s.status === 'running').length;
    const s = statusFor(this.connection.state, running, this.connection.settings.publicUrl);
    this.item.text = s.text;
    this.item.tooltip = s.tooltip;
    this.item.command = s.command;
    this.item.backgroundColor = s.warn ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
  }
}
