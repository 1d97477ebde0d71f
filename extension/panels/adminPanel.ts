import * as vscode from 'vscode';
import { setSecret } from '../commands/connection';
import { randomBytes } from 'node:crypto';
import { isApiError } from '../api/errors';
import { COMMANDS } from '../commandIds';
import { Disposable } from '../lifecycle';
import type { Services } from '../services';
import { parseFromWebview, type AdminMethods, type ErrorInfo, type Method, type RequestMessage, type ToWebview } from '../../webview/protocol';

// The admin forms: one webview panel built from webview/ (dist/webview.js), strict CSP with a
// crypto nonce, typed messages (webview/protocol.ts) answered with the admin key from SecretStorage.
export class AdminPanel extends Disposable {
  static readonly viewType = 'onmemos.admin';
  private static current: AdminPanel | undefined;
  private readonly panel: vscode.WebviewPanel;

  static show(s: Services): AdminPanel {
    if (AdminPanel.current) { AdminPanel.current.panel.reveal(); return AdminPanel.current; }
    AdminPanel.current = new AdminPanel(s);
    return AdminPanel.current;
  }

  static get instance(): AdminPanel | undefined { return AdminPanel.current; }

  private constructor(private readonly s: Services) {
    super();
    const root = s.context.extensionUri;
    this.panel = this._register(vscode.window.createWebviewPanel(AdminPanel.viewType, 'OnMemOS Admin', vscode.ViewColumn.Active, {
      enableScripts: true,
      retainContextWhenHidden: false,
      localResourceRoots: [vscode.Uri.joinPath(root, 'dist'), vscode.Uri.joinPath(root, 'media')],
    }));
    this.panel.iconPath = vscode.Uri.joinPath(root, 'media', 'onmemos.svg');
    this.panel.webview.html = this.html();
    this._register(this.panel.onDidDispose(() => { AdminPanel.current = undefined; this.dispose(); }));
    this._register(this.panel.webview.onDidReceiveMessage((raw) => void this.onMessage(raw)));
    this._register(s.secrets.onDidChange(() => void this.sendInit(false)));
    this._register(s.connection.onDidChangeState(() => void this.sendInit(false)));
  }

  private html(): string {
    const w = this.panel.webview;
    const nonce = randomBytes(16).toString('base64');
    const script = w.asWebviewUri(vscode.Uri.joinPath(this.s.context.extensionUri, 'dist', 'webview.js'));
    const css = w.asWebviewUri(vscode.Uri.joinPath(this.s.context.extensionUri, 'media', 'admin.css'));
    const csp = [
      "default-src 'none'",
      `style-src ${w.cspSource}`,
      `font-src ${w.cspSource}`,
      `img-src ${w.cspSource} data:`,
      `script-src 'nonce-${nonce}'`,
    ].join('; ');
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${css}">
<title>OnMemOS Admin</title>
</head>
<body>
<main id="app" aria-busy="true"><p class="muted">Loading the admin forms…</p></main>
<script type="module" nonce="${nonce}" src="${script}"></script>
</body>
</html>`;
  }

  private post(msg: ToWebview): void {
    void this.panel.webview.postMessage(msg);
  }

  // The webview reloads its lists on every init, which also clears its notice. A passport change
  // (e.g. its own "Use as My Passport") changes nothing init carries, so only a changed init is
  // re-sent; the answer to the webview's `ready` always goes out (the webview is new).
  private lastInit: string | undefined;
  private async sendInit(always = true): Promise<void> {
    const { adminUrl, publicUrl } = this.s.connection.settings;
    const init: ToWebview = { type: 'init', adminUrl, publicUrl, hasAdminKey: await this.s.connection.hasAdminKey(), daemonUp: this.s.connection.state !== 'noDaemon' };
    const key = JSON.stringify(init);
    if (!always && key === this.lastInit) return;
    this.lastInit = key;
    this.post(init);
  }

  private async onMessage(raw: unknown): Promise<void> {
    const msg = parseFromWebview(raw);
    if (!msg) { this.s.log.warn(`admin webview: ignored a malformed message`); return; }
    if (msg.type === 'ready') {
      // An unreadable admin.key (EACCES, a directory…) must not keep the forms from starting.
      try { await this.s.daemon.adoptAdminKey(); } catch (e) { this.s.log.warn(`could not adopt the home's admin key: ${e instanceof Error ? e.message : String(e)}`); }
      await this.sendInit(true);
      return;
    }
    try {
      const result = await this.handle(msg);
      this.post({ type: 'response', requestId: msg.requestId, ok: true, result });
    } catch (e) {
      const error: ErrorInfo = isApiError(e)
        ? { message: e.status === 401 ? `The admin API refused the admin key (${e.message}). Set the admin key and try again.` : e.message, status: e.status, code: e.code }
        : { message: e instanceof Error && /fetch failed|ECONNREFUSED/.test(`${e.message} ${(e as { cause?: { code?: string } }).cause?.code ?? ''}`)
          ? `The admin API at ${this.s.connection.settings.adminUrl} does not answer. Start the daemon and try again.` : e instanceof Error ? e.message : String(e) };
      this.s.log.warn(`admin ${msg.method} failed: ${error.message}`);
      this.post({ type: 'response', requestId: msg.requestId, ok: false, error });
    }
  }

  private async handle<M extends Method>(msg: RequestMessage<M>): Promise<AdminMethods[M]['result']> {
    const admin = this.s.connection.admin;
    const p = msg.params as Record<string, unknown>;
    const r = async (): Promise<unknown> => {
      switch (msg.method) {
        case 'users.list': return admin.listUsers();
        case 'users.create': return admin.createUser(p as never);
        case 'users.delete': await admin.deleteUser(p.user_id as string); return { deleted: true };
        case 'passports.list': return admin.listPassports(p.user_id as string);
        case 'passports.create': return admin.createPassport(p as never);
        case 'passports.delete': await admin.deletePassport(p.passport_id as string); return { deleted: true };
        case 'passports.use': {
          await setSecret(this.s, 'passport', p.passport as string);
          return { state: this.s.connection.state };
        }
        case 'credits.add': return admin.addCredits(p as never);
        case 'workspaces.list': return admin.listWorkspaces(p.user_id as string);
        case 'workspaces.create': {
          const w = await admin.createWorkspace(p as never);
          void this.s.model.refresh();
          return w;
        }
        case 'clipboard.copy': await vscode.env.clipboard.writeText(p.text as string); return { copied: true };
        case 'adminKey.set': return { set: await vscode.commands.executeCommand<boolean>(COMMANDS.setAdminKey) === true };
      }
      throw new Error(`unknown method ${msg.method}`);
    };
    return (await r()) as AdminMethods[M]['result'];
  }
}
