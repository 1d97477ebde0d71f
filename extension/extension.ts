import * as vscode from 'vscode';
import { Container } from './container';

// Activation is lazy (implicit onView/onCommand/onTerminalProfile events): it builds the services,
// then talks to the daemon in the background so the views appear at once.
export interface OnMemOSExtensionApi {
  readonly container: Container;
  readonly activationMs: number;
  readonly ready: Promise<void>;
}

export function activate(context: vscode.ExtensionContext): OnMemOSExtensionApi {
  const t0 = performance.now();
  const container = new Container(context);
  context.subscriptions.push(container);
  const activationMs = performance.now() - t0;
  container.log.info(`activated in ${activationMs.toFixed(1)} ms (${context.extensionMode === vscode.ExtensionMode.Test ? 'test' : 'normal'} mode)`);
  const ready = container.start().catch((e) => container.log.error(e instanceof Error ? e : String(e)));
  return { container, activationMs, ready };
}

export function deactivate(): void {
  // Everything is disposed through context.subscriptions; the daemon keeps running on purpose.
}
