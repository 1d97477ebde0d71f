// Turning any failure into a sentence that says what happened and what to do.
// The typed client throws errors carrying {status, code, message, details}; fetch throws
// TypeError on refused connections. Pure: unit tested.

export interface ApiErrorLike {
  status: number;
  code?: string;
  message: string;
  details?: unknown;
}

export function isApiError(e: unknown): e is ApiErrorLike {
  return typeof e === 'object' && e !== null && typeof (e as { status?: unknown }).status === 'number'
    && typeof (e as { message?: unknown }).message === 'string';
}

export function isConnectionError(e: unknown): boolean {
  // The typed client reports an unreachable daemon as status 0, code "unreachable".
  if (isApiError(e)) return e.status === 0 && e.code !== 'aborted';
  const err = e as { name?: string; code?: string; cause?: { code?: string }; message?: string } | undefined;
  const code = err?.cause?.code ?? err?.code;
  return code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH'
    || code === 'UND_ERR_CONNECT_TIMEOUT' || err?.name === 'TimeoutError'
    || (err?.name === 'TypeError' && /fetch failed/i.test(err?.message ?? ''));
}

// VS Code renders `[label](command:…)` (and http/file targets) in notifications as a clickable link
// (vs/base/common/linkedText.ts), so text that came from a server (error messages, names) must not
// carry that syntax: brackets become their fullwidth lookalikes, which the link syntax ignores.
export function plainText(text: string): string {
  return text.replace(/\[/g, '\uFF3B').replace(/\]/g, '\uFF3D');
}

export interface Explained {
  message: string;
  // A follow-up action the notification offers, by command id.
  action?: { title: string; command: string };
}

// `what` is the action in progress, e.g. "Delete vault “data”". The message is plain text (no links),
// whatever the server or the names in `what` said.
export function explainError(what: string, e: unknown): Explained {
  const ex = explain(what, e);
  return { ...ex, message: plainText(ex.message) };
}

function explain(what: string, e: unknown): Explained {
  if (isConnectionError(e)) {
    return {
      message: `${what} failed: the OnMemOS daemon does not answer. Start it or check the onmemos.publicUrl / onmemos.adminUrl settings.`,
      action: { title: 'Start Daemon', command: 'onmemos.daemon.start' },
    };
  }
  if (isApiError(e)) {
    const detail = e.message.replace(/\.$/, '');
    switch (e.status) {
      case 0:
        return { message: `${what} was cancelled or timed out (${detail}).` };
      case 400:
        return { message: `${what} failed: ${detail}. Correct the input and try again.` };
      case 401:
        return {
          message: `${what} failed: the daemon did not accept your credentials (${detail}). Set a valid passport or admin key.`,
          action: { title: 'Set Passport', command: 'onmemos.passport.set' },
        };
      case 403:
        return { message: `${what} failed: not allowed (${detail}).` };
      case 404:
        return { message: `${what} failed: it no longer exists or is not yours (${detail}). The views were refreshed.` };
      case 409:
        return { message: `${what} failed: ${conflictHint(e)}` };
      case 413:
        return { message: `${what} failed: too large (${detail}).` };
      case 429:
        // The live-shuttle cap says what to do (waiting does not help); failed authentications do pass.
        return (e.details as { limit?: unknown } | undefined)?.limit !== undefined
          ? { message: `${what} failed: ${detail}.` }
          : { message: `${what} failed: the daemon is throttling requests. Wait a moment and try again.` };
      case 503:
        return { message: `${what} failed: the provider is unavailable (${detail}). Check the daemon log.`, action: { title: 'Show Daemon Log', command: 'onmemos.daemon.showLog' } };
      default:
        return { message: `${what} failed: ${detail} (HTTP ${e.status}). See the OnMemOS log for details.`, action: { title: 'Show Log', command: 'onmemos.showLog' } };
    }
  }
  const msg = e instanceof Error ? e.message : String(e);
  return { message: `${what} failed: ${msg}`, action: { title: 'Show Log', command: 'onmemos.showLog' } };
}

function conflictHint(e: ApiErrorLike): string {
  const text = `${e.code ?? ''} ${e.message}`.toLowerCase();
  if (/in[ _-]?use|attached|busy/.test(text)) {
    return `it is attached to a running shuttle (${e.message.replace(/\.$/, '')}). Terminate the shuttles that use it, then try again.`;
  }
  if (/exist|duplicate|taken|already/.test(text)) {
    return `the name is already taken in this workspace (${e.message.replace(/\.$/, '')}). Choose another name.`;
  }
  return `${e.message.replace(/\.$/, '')} (conflict). Refresh and try again.`;
}

// The daemon answered /health, then a request with the passport failed: which state that is.
// Never "no daemon" (that offers to start a second daemon on the same home). 401/403 and 429 (the
// daemon throttles only wrong credentials) mean the passport; a passport the HTTP layer refuses to
// send (not a valid header value) too; anything else is the daemon failing.
export function stateAfterHealthy(e: unknown): 'badPassport' | 'daemonError' {
  if (isApiError(e) && (e.status === 401 || e.status === 403 || e.status === 429)) return 'badPassport';
  if (isApiError(e) && e.status === 0 && /ByteString|invalid header/i.test(e.message)) return 'badPassport';
  const text = e instanceof Error ? `${e.message} ${String((e as { cause?: { message?: string } }).cause?.message ?? '')}` : '';
  if (e instanceof TypeError && /header|ByteString/i.test(text)) return 'badPassport';
  return 'daemonError';
}
