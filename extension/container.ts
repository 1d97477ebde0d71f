import * as vscode from 'vscode';
import { plainText } from './api/errors';
import { Connection } from './api/connection';
import { registerConnectionCommands, setSecret } from './commands/connection';
import { launchShuttle, registerShuttleCommands } from './commands/shuttles';
import { registerStorageCommands } from './commands/storage';
import { DaemonManager } from './daemon/manager';
import { Disposable } from './lifecycle';
import { ChannelLogger } from './logger';
import { Model } from './model';
import { AdminPanel } from './panels/adminPanel';
import { SecretsManager } from './secrets';
import type { Services } from './services';
import { StatusBar } from './statusBar';
import { TerminalManager } from './terminals/manager';
import { pickSession } from './commands/util';
import { Trees } from './views/trees';

// Builds every service once, in dependency order, and owns them (STYLE.md "Wiring in one place").
export class Container extends Disposable implements Services {
  readonly log: ChannelLogger;
  readonly secrets: SecretsManager;
  readonly connection: Connection;
  readonly model: Model;
  readonly daemon: DaemonManager;
  readonly terminals: TerminalManager;
  readonly execOutput: vscode.OutputChannel;
  readonly trees: Trees;
  readonly statusBar: StatusBar;

  constructor(readonly context: vscode.ExtensionContext) {
    super();
    this.log = this._register(new ChannelLogger('OnMemOS'));
    this.execOutput = this._register(vscode.window.createOutputChannel('OnMemOS Exec'));
    this.secrets = this._register(new SecretsManager(context.secrets));
    this.connection = this._register(new Connection(this.secrets, this.log));
    this.model = this._register(new Model(this.connection, this.log));
    this.daemon = this._register(new DaemonManager(context, this.connection, this.secrets, this.log));
    this.terminals = this._register(new TerminalManager(context, this.connection, this.secrets, this.log, () => this.pickOrLaunch()));
    this.trees = this._register(new Trees(this.model));
    this.statusBar = this._register(new StatusBar(this.connection, this.model));
    for (const d of [...registerConnectionCommands(this), ...registerShuttleCommands(this), ...registerStorageCommands(this)]) this._register(d);
    this._register({ dispose: () => AdminPanel.instance?.dispose() });
  }

  // Stores a passport or admin key given by the caller (the commands only prompt for one).
  storeSecret(kind: 'passport' | 'adminKey', value: string): Promise<boolean> {
    return setSecret(this, kind, value);
  }

  openAdmin(): void {
    AdminPanel.show(this);
  }

  // First contact: probe the daemon, start the bundled one if asked to, then fill the views.
  async start(): Promise<void> {
    void vscode.commands.executeCommand('setContext', 'onmemos.state', 'connecting');
    await this.connection.check();
    try {
      await this.daemon.ensureRunning();
    } catch (e) {
      this.log.error(`auto-start of the daemon failed: ${e instanceof Error ? e.message : String(e)}`);
      void vscode.window.showErrorMessage(plainText(`OnMemOS could not start its daemon: ${e instanceof Error ? e.message : String(e)}`), 'Show Log')
        .then((b) => b && this.log.show());
    }
    await this.model.refresh();
    await this.terminals.restore();
  }

  private async pickOrLaunch() {
    const running = this.model.snapshot.sessions.filter((x) => x.status === 'running');
    if (!running.length) return launchShuttle(this, { openTerminal: false });
    const pick = await vscode.window.showQuickPick([
      { label: '$(rocket) Launch a new shuttle…', id: '' },
      ...running.map((x) => ({ label: `$(vm-running) ${x.pod_name || x.id}`, description: x.id, id: x.id })),
    ], { title: 'OnMemOS Shuttle terminal', placeHolder: 'Open a terminal in which shuttle?' });
    if (!pick) return undefined;
    if (!pick.id) return launchShuttle(this, { openTerminal: false });
    return pickSession(this, pick.id, '');
  }
}
