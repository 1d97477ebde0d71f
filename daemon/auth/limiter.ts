// Throttle credential guessing: a client address with too many wrong credentials in a minute gets
// 429 for each further wrong one until its window ends. Valid credentials are never asked here
// (see `limited` in authenticate.ts): the address is shared (every shuttle is 127.0.0.1), and a
// guess at a 256-bit secret that happens to be right is not a risk worth locking users out for.
import { ApiError } from '../errors';

export class AuthFailureLimiter {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  constructor(
    readonly maxPerMinute = Number(process.env.ONMEMOS_AUTH_FAILURES_PER_MINUTE ?? 60),
    private readonly windowMs = 60_000,
  ) {}

  /** Throw 429 if `address` is over its limit (for a wrong credential: a valid one is never checked). */
  check(address: string): void {
    const w = this.windows.get(address);
    if (!w) return;
    const now = Date.now();
    if (now >= w.resetAt) { this.windows.delete(address); return; }
    if (w.count >= this.maxPerMinute) {
      const retry = Math.ceil((w.resetAt - now) / 1000);
      throw new ApiError(429, 'too_many_requests', `too many failed authentications from this address; retry in ${retry} s`, { retry_after_seconds: retry });
    }
  }

  fail(address: string): void {
    const now = Date.now();
    let w = this.windows.get(address);
    if (!w || now >= w.resetAt) {
      if (this.windows.size > 10_000) for (const [k, v] of this.windows) if (now >= v.resetAt) this.windows.delete(k);
      w = { count: 0, resetAt: now + this.windowMs };
      this.windows.set(address, w);
    }
    w.count++;
  }
}
