// The API's rules for names and mount paths (DESIGN.md "Names"), in one place: the daemon's zod
// schemas enforce them and the extension checks them while the user types. Pure; no dependencies.

/** Vault and drive names become bucket and PVC names: lowercase DNS labels, 3–63 chars. */
export const STORAGE_NAME_RE = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
export const NAME_RULE = 'lowercase letters, digits and hyphens, 3–63 characters, starting and ending with a letter or digit';

/** What is wrong with a vault or drive name, or null. */
export function storageNameProblem(v: string): string | null {
  if (!v) return 'a name is required';
  if (v.length < 3) return `too short (${v.length}); use ${NAME_RULE}`;
  if (v.length > 63) return `too long (${v.length}); use ${NAME_RULE}`;
  if (/[A-Z]/.test(v)) return 'use lowercase letters only (the name becomes a bucket or volume name)';
  if (!/^[a-z0-9-]+$/.test(v)) return `use only ${NAME_RULE}`;
  if (!STORAGE_NAME_RE.test(v)) return 'the name must start and end with a letter or digit';
  return null;
}

const FORBIDDEN_MOUNT_ROOTS = ['/proc', '/sys', '/dev'];
/** Where a local shuttle's sandbox keeps its agent, its storage stage and its runtime (supervisor/stage.ts). */
export const RESERVED_MOUNT_ROOT = '/run/onmemos';

/** What is wrong with a mount path, or null: absolute, no "." / ".." / empty segments, not /, /run nor under /proc, /sys, /dev, /run/onmemos. */
export function mountPathProblem(p: string): string | null {
  if (!p) return 'a mount path is required, e.g. /workspace';
  if (!p.startsWith('/')) return 'the mount path must be absolute (start with /)';
  if (p.length > 255) return 'the mount path must be at most 255 characters';
  if (p === '/') return 'mounting over / would hide the whole system; choose a folder such as /workspace';
  if (!/^[A-Za-z0-9._\-/]+$/.test(p)) return 'use only letters, digits, ".", "_", "-" and "/" in a mount path';
  const segments = p.replace(/\/$/, '').split('/').slice(1);
  if (segments.some((s) => s === '')) return 'the mount path must not contain an empty segment ("//")';
  if (segments.some((s) => s === '..' || s === '.')) return 'the mount path must not contain a "." or ".." segment';
  if (FORBIDDEN_MOUNT_ROOTS.some((r) => p === r || p.startsWith(r + '/'))) return 'the mount path cannot be under /proc, /sys or /dev';
  const q = p.replace(/\/$/, '');
  if (q === '/run' || q === RESERVED_MOUNT_ROOT || q.startsWith(RESERVED_MOUNT_ROOT + '/')) {
    return `the mount path cannot be /run or under ${RESERVED_MOUNT_ROOT} (the shuttle's own machinery lives there)`;
  }
  return null;
}
