// Typed errors thrown by services and providers. Routes never build error bodies by hand:
// one error handler turns these into {"error": {"code", "message", "details"}} with `status`.
const BRAND = Symbol.for('onmemos.ApiError');

export class ApiError extends Error {
  /** dist/gke.js is a separate bundle with its own copy of this class: `instanceof` goes by brand. */
  readonly [BRAND] = true;
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const badRequest = (message: string, details?: unknown) => new ApiError(400, 'invalid_request', message, details);
export const unauthorized = (message = 'missing or invalid credentials') => new ApiError(401, 'unauthorized', message);
export const forbidden = (message: string) => new ApiError(403, 'forbidden', message);
export const notFound = (what: string) => new ApiError(404, 'not_found', `${what} not found`);
export const conflict = (message: string, details?: unknown) => new ApiError(409, 'conflict', message, details);
export const tooLarge = (message: string) => new ApiError(413, 'payload_too_large', message);
export const throttled = (message: string, details?: unknown) => new ApiError(429, 'too_many_requests', message, details);
export const paymentRequired = (message: string) => new ApiError(402, 'insufficient_credits', message);
/** The provider cannot do the work here; `message` says what to install or configure. */
export const providerUnavailable = (message: string, details?: unknown) =>
  new ApiError(503, 'provider_unavailable', message, details);
