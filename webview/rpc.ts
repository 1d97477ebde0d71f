// The webview side of the message protocol: a ready handshake, then requests that resolve when
// the response with the same requestId arrives.
import { parseToWebview, type AdminMethods, type InitMessage, type Method } from './protocol';

interface VsCodeApi { postMessage(message: unknown): void }
declare function acquireVsCodeApi(): VsCodeApi;

export class RpcError extends Error {
  constructor(message: string, readonly status?: number, readonly code?: string) { super(message); }
}

export class Rpc {
  private readonly vscode = acquireVsCodeApi();
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();

  constructor(private readonly onInit: (msg: InitMessage) => void) {
    window.addEventListener('message', (ev: MessageEvent) => {
      const msg = parseToWebview(ev.data);
      if (!msg) return;
      if (msg.type === 'init') { this.onInit(msg); return; }
      const w = this.waiting.get(msg.requestId);
      if (!w) return;
      this.waiting.delete(msg.requestId);
      if (msg.ok) w.resolve(msg.result);
      else w.reject(new RpcError(msg.error.message, msg.error.status, msg.error.code));
    });
    this.vscode.postMessage({ type: 'ready' });
  }

  call<M extends Method>(method: M, params: AdminMethods[M]['params']): Promise<AdminMethods[M]['result']> {
    const requestId = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(requestId, { resolve: resolve as (v: unknown) => void, reject });
      this.vscode.postMessage({ type: 'request', requestId, method, params });
    });
  }
}
