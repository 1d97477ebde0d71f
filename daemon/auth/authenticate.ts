// Who is calling: the admin (admin key, constant-time) or a user (passport), from X-API-Key or
// Authorization: Bearer. A passport is never an admin key and the admin key is never a passport.
import type { FastifyRequest } from 'fastify';
import type { Principal, AuthKind } from '../api/http';
import { ApiError, unauthorized } from '../errors';
import { AuthFailureLimiter } from './limiter';
import { secretEquals } from './keys';
import type { Store } from '../store';
import type { PassportRow } from '../store';

export function credentialFrom(headers: FastifyRequest['headers']): string | undefined {
  const x = headers['x-api-key'];
  if (typeof x === 'string' && x.trim()) return x.trim();
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
    if (m) return m[1]!.trim();
  }
  return undefined;
}

const TOUCH_EVERY_MS = 60_000;

export function createAuthenticator(deps: {
  adminKey: string;
  store: Store;
  authenticatePassport(secret: string): PassportRow;
  limiter?: AuthFailureLimiter;
}) {
  const lastTouch = new Map<string, number>();
  /** Record last use at most once a minute per passport (a durable write per request would be waste). */
  const touch = (p: PassportRow) => {
    const t = Date.now();
    if ((lastTouch.get(p.passport_id) ?? 0) > t - TOUCH_EVERY_MS) return;
    lastTouch.set(p.passport_id, t);
    void deps.store.write((d, tx) => {
      const row = deps.store.get('passports', p.passport_id);
      if (row) { row.last_used_at = new Date(t).toISOString(); tx.put('passports', row); }
    }).catch(() => undefined);
  };

  /**
   * 401s for a credential that was presented and is wrong: the only ones the limiter counts. A
   * missing credential is no guess, and counting it would let anyone (every shuttle is 127.0.0.1
   * too) run up the count of an address other clients share.
   */
  const wrong = new WeakSet<ApiError>();
  const rejected = (e: ApiError) => { wrong.add(e); return e; };

  const passport = (secret: string): Principal => {
    if (secretEquals(secret, deps.adminKey)) {
      throw unauthorized('the admin key is not a passport; create one with POST /admin/passports and use it here');
    }
    let p: PassportRow;
    try {
      p = deps.authenticatePassport(secret);
    } catch (e) {
      throw e instanceof ApiError && e.status === 401 ? rejected(e) : e;
    }
    touch(p);
    return { kind: 'user', user_id: p.user_id, passport_id: p.passport_id };
  };

  const limiter = deps.limiter ?? new AuthFailureLimiter();
  /**
   * Run an authentication (sync or async) for `address` under the failure limiter. The credential
   * is checked first: a valid one always passes (passports and the admin key are 256-bit random,
   * guessing them is hopeless, and one client's failures must not lock out others behind the same
   * address); a wrong one counts, and past the limit is answered 429 instead of 401.
   */
  const limited = <T>(address: string, run: () => T): T => {
    const failed = (e: unknown) => {
      if (e instanceof ApiError && wrong.has(e)) {
        limiter.check(address);
        limiter.fail(address);
      }
      throw e;
    };
    try {
      const out = run();
      return (out instanceof Promise ? out.catch(failed) : out) as T;
    } catch (e) {
      return failed(e);
    }
  };

  const fromHeaders = (req: FastifyRequest, kind: AuthKind): Principal => {
      const secret = credentialFrom(req.headers);
      if (!secret) {
        throw unauthorized(kind === 'admin'
          ? 'missing admin key: send it in the X-API-Key header'
          : 'missing passport: send it in the X-API-Key header or as Authorization: Bearer <passport>');
      }
      if (kind === 'admin') {
        if (secretEquals(secret, deps.adminKey)) return { kind: 'admin' };
        throw rejected(unauthorized('invalid admin key'));
      }
      return passport(secret);
  };

  return {
    async authenticate(req: FastifyRequest, kind: AuthKind): Promise<Principal> {
      if (kind === 'none') return { kind: 'anonymous' };
      return limited(req.ip, () => fromHeaders(req, kind));
    },
    /** For the WebSocket endpoint: a passport secret → principal (throws 401). */
    passport,
    limited,
  };
}
