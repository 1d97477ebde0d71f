// Who may open a shell, decided before the WebSocket upgrade completes: a passport (header or
// ?passport=) of the session's owner, or a ws-token (header or ?token=) bound to this session.
// k8s_ns / pod, when given, must be the session's own: they never select another sandbox.
import type { IncomingMessage } from 'node:http';
import { ApiError, conflict, notFound, unauthorized } from '../errors';
import { credentialFrom } from '../auth/authenticate';
import { TokenService } from '../auth/tokens';
import type { Principal } from '../api/http';
import type { Services } from '../services';
import type { SessionRow } from '../store';
import { passportState } from '../services/users';

const SHELL_PATHS = [/^\/v1\/gke\/shell\/([^/]+)\/?$/, /^\/v1\/sessions\/([^/]+)\/shell\/?$/];

export function matchShellPath(pathname: string): string | null {
  for (const re of SHELL_PATHS) {
    const m = re.exec(pathname);
    if (m) {
      try { return decodeURIComponent(m[1]!); } catch { return null; } // bad percent-encoding: no such endpoint
    }
  }
  return null;
}

export async function authorizeShell(
  req: IncomingMessage, url: URL, session_id: string,
  deps: { services: Services; tokens: TokenService; passport(secret: string): Principal },
): Promise<SessionRow> {
  const secret = credentialFrom(req.headers) ?? url.searchParams.get('token') ?? url.searchParams.get('passport') ?? undefined;
  if (!secret) throw unauthorized('missing credentials: a passport or ws-token (Authorization header, ?passport= or ?token=)');
  let user_id: string;
  if (TokenService.looksLikeJwt(secret)) {
    const claims = await deps.tokens.verify(secret);
    if (!claims) throw unauthorized('invalid or expired ws-token; get a new one from POST /v1/sessions/{id}/ws-token');
    if (claims.session_id !== session_id) throw unauthorized('this ws-token is for another session');
    // Good only while the passport that asked for it is: revoking a passport ends what it handed out.
    const issuer = claims.passport_id ? deps.services.ctx.store.get('passports', claims.passport_id) : undefined;
    if (!issuer || issuer.user_id !== claims.user_id || passportState(issuer) !== 'active') {
      throw unauthorized('the passport this ws-token came from is no longer valid; get a new token with a valid passport');
    }
    user_id = claims.user_id;
  } else {
    const p = deps.passport(secret);
    if (p.kind !== 'user') throw unauthorized();
    user_id = p.user_id;
  }
  const s = deps.services.sessions.getOwned(user_id, session_id);
  const ns = url.searchParams.get('k8s_ns');
  const pod = url.searchParams.get('pod');
  if ((ns && ns !== s.k8s_namespace) || (pod && pod !== s.pod_name)) throw notFound('session');
  if (s.status !== 'running') throw conflict(`shuttle ${s.session_id} is ${s.status}`);
  return s;
}

export function handshakeError(e: unknown): ApiError {
  return e instanceof ApiError ? e : new ApiError(500, 'internal', 'internal error');
}
