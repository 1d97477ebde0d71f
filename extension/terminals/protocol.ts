// onmemos.pty.v1 (DESIGN.md "WebSocket shell"), the parts a client needs. Pure: unit tested.
import { OnMemOSClient } from '../../daemon/client';

export { PTY_SUBPROTOCOL } from '../../daemon/client';

export type ServerControl =
  | { type: 'hello'; shell_id: string }
  | { type: 'exit'; code: number }
  | { type: 'error'; message: string };

export function parseServerControl(text: string): ServerControl | undefined {
  let v: unknown;
  try { v = JSON.parse(text); } catch { return undefined; }
  if (typeof v !== 'object' || v === null) return undefined;
  const m = v as Record<string, unknown>;
  if (m.type === 'hello' && typeof m.shell_id === 'string') return { type: 'hello', shell_id: m.shell_id };
  if (m.type === 'exit') return { type: 'exit', code: typeof m.code === 'number' ? m.code : -1 };
  if (m.type === 'error') return { type: 'error', message: typeof m.message === 'string' ? m.message : 'unknown error' };
  return undefined;
}

export function resizeMessage(cols: number, rows: number): string {
  return JSON.stringify({ type: 'resize', cols: Math.max(1, Math.floor(cols)), rows: Math.max(1, Math.floor(rows)) });
}

// http(s)://host:port → ws(s)://host:port/v1/sessions/{id}/shell?mode=pty[&attach=shell], built by the typed client.
export function shellUrl(publicUrl: string, sessionId: string, attach?: string): string {
  return new OnMemOSClient({ baseUrl: publicUrl }).shellUrl(sessionId, { attach });
}

// Delay before the n-th reconnect attempt (0-based): 0.25 s doubling to 4 s; undefined = give up.
export function reconnectDelay(attempt: number, maxAttempts = 12): number | undefined {
  if (attempt >= maxAttempts) return undefined;
  return Math.min(4000, 250 * 2 ** attempt);
}
