// Throttle credential guessing: a client address with too many failed authentications in a
// minute gets 429 on every credentialed request (right or wrong credentials alike, so a guess
// that happens to be right is not revealed) until its window ends.
import { ApiError } from '../errors';

export class AuthFailureLimiter {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  constructor(
    readonly maxPerMinute = Number(process.env.ONMEMOS_AUTH_FAILURES_PER_MINUTE ?? 60),
    private readonly windowMs = 60_000,
  ) {}

  /** Throw 429 if `address` is over its limit. */
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
