import type * as vscode from 'vscode';
import type { Connection } from './api/connection';
import type { DaemonManager } from './daemon/manager';
import type { Logger } from './logger';
import type { Model } from './model';
import type { SecretsManager } from './secrets';
import type { TerminalManager } from './terminals/manager';

// What command modules get: built once in activate() by the container.
export interface Services {
  context: vscode.ExtensionContext;
  log: Logger;
  secrets: SecretsManager;
  connection: Connection;
  model: Model;
  daemon: DaemonManager;
  terminals: TerminalManager;
  execOutput: vscode.OutputChannel;
  openAdmin(): void;
}
