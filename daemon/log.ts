// Structured logs: one JSON line per event on stderr. Never pass a secret in `fields`:
// redact() strips credential-bearing query parameters from URLs before they are logged.
export type Level = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function createLogger(
  base: Record<string, unknown> = {},
  min: Level = (process.env.ONMEMOS_LOG_LEVEL as Level) || 'info',
  write: (line: string) => void = (line) => process.stderr.write(line + '\n'),
): Logger {
  const emit = (level: Level, msg: string, fields?: Record<string, unknown>) => {
    if (order[level] < order[min]) return;
    write(JSON.stringify({ t: new Date().toISOString(), level, msg, ...base, ...fields }));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (f) => createLogger({ ...base, ...f }, min, write),
  };
}

/** Query parameters whose values are safe to log; every other value (passports, tokens, commands) is `***`. */
const SAFE_PARAMS = new Set(['k8s_ns', 'pod', 'mode', 'attach', 'workspace_id', 'dock_id', 'user_id', 'status', 'timeout', 'async_execution', 'cols', 'rows']);

/** A URL safe to log: only known-harmless query values are kept (commands and credentials are not). */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = url.slice(q + 1).split('&').map((pair) => {
    const eq = pair.indexOf('=');
    if (eq < 0) return pair;
    const name = pair.slice(0, eq);
    return SAFE_PARAMS.has(name) ? pair : `${name}=***`;
  });
  return `${url.slice(0, q)}?${params.join('&')}`;
}
