// ws-tokens: short-lived JWTs (HS256, per-home secret) bound to one session of one user.
import { SignJWT, jwtVerify, errors } from 'jose';

export const WS_TOKEN_TTL_SECONDS = 300;
const AUDIENCE = 'onmemos-shell';

export interface WsTokenClaims {
  user_id: string;
  session_id: string;
  /** The passport that asked for the token: the token is good only while that passport is. */
  passport_id?: string;
}

export class TokenService {
  constructor(private readonly secret: Uint8Array) {}

  async issue(claims: WsTokenClaims, ttlSeconds = WS_TOKEN_TTL_SECONDS): Promise<{ token: string; expires_in: number }> {
    const token = await new SignJWT({ sid: claims.session_id, ...(claims.passport_id ? { pid: claims.passport_id } : {}) })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(claims.user_id)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
      .sign(this.secret);
    return { token, expires_in: ttlSeconds };
  }

  /** The claims of a valid token, or null (bad signature, expired, wrong audience, malformed). */
  async verify(token: string): Promise<WsTokenClaims | null> {
    try {
      const { payload } = await jwtVerify(token, this.secret, { audience: AUDIENCE, algorithms: ['HS256'] });
      if (typeof payload.sub !== 'string' || typeof payload.sid !== 'string') return null;
      return { user_id: payload.sub, session_id: payload.sid, ...(typeof payload.pid === 'string' ? { passport_id: payload.pid } : {}) };
    } catch (e) {
      if (e instanceof errors.JOSEError) return null;
      throw e;
    }
  }

  static looksLikeJwt(value: string): boolean {
    return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(value);
  }
}
