// Settings readers take Pick<WorkspaceConfiguration, 'get'> so they are testable without VS Code.
export interface ConfigSource {
  get<T>(section: string): T | undefined;
}

export interface Settings {
  adminUrl: string;
  publicUrl: string;
  autoStart: boolean;
  runtimePath: string;
  daemonHome: string;
  pollIntervalMs: number;
}

export const DEFAULT_ADMIN_URL = 'http://127.0.0.1:8001';
export const DEFAULT_PUBLIC_URL = 'http://127.0.0.1:8080';

export function normalizeUrl(raw: string | undefined, fallback: string): string {
  const value = (raw ?? '').trim() || fallback;
  try {
    const url = new URL(value);
    return url.toString().replace(/\/+$/, '');
  } catch {
    return fallback;
  }
}

// `config` is vscode.workspace.getConfiguration('onmemos').
export function readSettings(config: ConfigSource): Settings {
  const poll = config.get<number>('pollIntervalSeconds');
  return {
    adminUrl: normalizeUrl(config.get<string>('adminUrl'), DEFAULT_ADMIN_URL),
    publicUrl: normalizeUrl(config.get<string>('publicUrl'), DEFAULT_PUBLIC_URL),
    autoStart: config.get<boolean>('daemon.autoStart') ?? true,
    runtimePath: (config.get<string>('daemon.runtimePath') ?? '').trim(),
    daemonHome: (config.get<string>('daemon.home') ?? '').trim(),
    pollIntervalMs: Math.max(0, typeof poll === 'number' && Number.isFinite(poll) ? poll : 5) * 1000,
  };
}

// Only a daemon on this machine can be started by us: a remote URL is someone else's.
export function isLocalUrl(url: string): boolean {
  try {
    const host = new URL(url).hostname;
    return host === '127.0.0.1' || host === 'localhost' || host === '::1' || host === '[::1]';
  } catch {
    return false;
  }
}

export function portOf(url: string): number {
  const u = new URL(url);
  if (u.port) return Number(u.port);
  return u.protocol === 'https:' ? 443 : 80;
}
