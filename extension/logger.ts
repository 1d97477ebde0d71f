import * as vscode from 'vscode';

// Everything the extension logs goes through this interface to one LogOutputChannel.
// Never log a secret: passports and admin keys are passed through redact() first.
export interface Logger {
  trace(message: string, ...args: unknown[]): void;
  info(message: string, ...args: unknown[]): void;
  warn(message: string, ...args: unknown[]): void;
  error(message: string | Error, ...args: unknown[]): void;
  show(): void;
}

export class ChannelLogger implements Logger, vscode.Disposable {
  readonly channel: vscode.LogOutputChannel;
  constructor(name = 'OnMemOS') {
    this.channel = vscode.window.createOutputChannel(name, { log: true });
  }
  trace(message: string, ...args: unknown[]): void { this.channel.trace(message, ...args); }
  info(message: string, ...args: unknown[]): void { this.channel.info(message, ...args); }
  warn(message: string, ...args: unknown[]): void { this.channel.warn(message, ...args); }
  error(message: string | Error, ...args: unknown[]): void { this.channel.error(message, ...args); }
  show(): void { this.channel.show(true); }
  dispose(): void { this.channel.dispose(); }
}

export function redact(secret: string | undefined): string {
  if (!secret) return '(none)';
  return secret.length <= 8 ? '****' : `${secret.slice(0, 4)}…(${secret.length} chars)`;
}
