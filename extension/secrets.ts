import * as vscode from 'vscode';

// Passports and admin keys live in SecretStorage only, keyed per daemon URL, so switching the
// onmemos.publicUrl setting between daemons switches credentials with it (coder's SecretsManager).
export type SecretKind = 'passport' | 'adminKey';

export function secretKey(kind: SecretKind, url: string): string {
  return `onmemos.${kind}:${url}`;
}

export class SecretsManager {
  private readonly changed = new vscode.EventEmitter<SecretKind>();
  readonly onDidChange = this.changed.event;
  private readonly sub: vscode.Disposable;

  constructor(private readonly storage: vscode.SecretStorage) {
    this.sub = storage.onDidChange((e) => {
      if (e.key.startsWith('onmemos.passport:')) this.changed.fire('passport');
      else if (e.key.startsWith('onmemos.adminKey:')) this.changed.fire('adminKey');
    });
  }

  get(kind: SecretKind, url: string): Thenable<string | undefined> {
    return this.storage.get(secretKey(kind, url));
  }

  async set(kind: SecretKind, url: string, value: string): Promise<void> {
    await this.storage.store(secretKey(kind, url), value.trim());
  }

  async forget(kind: SecretKind, url: string): Promise<void> {
    await this.storage.delete(secretKey(kind, url));
  }

  dispose(): void {
    this.sub.dispose();
    this.changed.dispose();
  }
}
