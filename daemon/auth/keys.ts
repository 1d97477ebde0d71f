// Secrets of a home: the admin key, the ws-token signing secret, and passports (per-user API keys).
// Files are created 0600; passports are kept only as sha256 hashes (they are 256-bit random, so a
// fast hash is the right tool: nothing to brute-force) plus a short display prefix.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';

export const PASSPORT_PREFIX = 'onm_';
const ADMIN_PREFIX = 'onm_admin_';

function readOrCreate(path: string, make: () => string): string {
  try {
    const v = readFileSync(path, 'utf8').trim();
    if (v) return v;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const value = make();
  try {
    writeFileSync(path, value + '\n', { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(path, 'utf8').trim();
    throw e;
  }
  chmodSync(path, 0o600);
  return value;
}

/** The admin key: from the environment, else `<home>/admin.key`, generated at first start. */
export function loadAdminKey(home: string, fromEnv?: string): { key: string; source: 'env' | 'file'; path: string } {
  const path = join(home, 'admin.key');
  if (fromEnv) return { key: fromEnv, source: 'env', path };
  return { key: readOrCreate(path, () => ADMIN_PREFIX + randomBytes(32).toString('base64url')), source: 'file', path };
}

export function loadTokenSecret(home: string): Uint8Array {
  return Buffer.from(readOrCreate(join(home, 'jwt.secret'), () => randomBytes(32).toString('base64url')), 'base64url');
}

export const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

/** Constant-time comparison of two secrets of any length. */
export function secretEquals(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export function newPassportSecret(): { secret: string; hash: string; prefix: string } {
  const secret = PASSPORT_PREFIX + randomBytes(32).toString('base64url');
  return { secret, hash: sha256(secret), prefix: secret.slice(0, 12) };
}
