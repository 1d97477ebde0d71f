// The server's rules for names and mount paths (DESIGN.md "Names"), checked before a request
// so an input box can say what is wrong while the user types. Returns a message or undefined.

export const NAME_RULE = 'lowercase letters, digits and hyphens, 3–63 characters, starting and ending with a letter or digit';

export function validateStorageName(value: string): string | undefined {
  const v = value.trim();
  if (!v) return 'A name is required.';
  if (v.length < 3) return `Too short (${v.length}); use ${NAME_RULE}.`;
  if (v.length > 63) return `Too long (${v.length}); use ${NAME_RULE}.`;
  if (/[A-Z]/.test(v)) return 'Use lowercase letters only (the name becomes a bucket or volume name).';
  if (!/^[a-z0-9-]+$/.test(v)) return `Only ${NAME_RULE}.`;
  if (v.startsWith('-') || v.endsWith('-')) return 'The name must start and end with a letter or digit.';
  return undefined;
}

const FORBIDDEN_MOUNT_ROOTS = ['/proc', '/sys', '/dev'];

// Same rules as the daemon (a unit test checks both agree on a table of cases).
export function validateMountPath(value: string): string | undefined {
  const v = value.trim();
  if (!v) return 'A mount path is required, e.g. /workspace.';
  if (!v.startsWith('/')) return 'The mount path must be absolute (start with /).';
  if (v.length > 255) return 'The mount path must be at most 255 characters.';
  if (v === '/') return 'Mounting over / would hide the whole system; choose a folder such as /workspace.';
  if (!/^[A-Za-z0-9._\-/]+$/.test(v)) return 'Use only letters, digits, “.”, “_”, “-” and “/”.';
  const segments = v.replace(/\/$/, '').split('/').slice(1);
  if (segments.some((seg) => seg === '')) return 'The mount path must not contain an empty segment (“//”).';
  if (segments.some((seg) => seg === '..' || seg === '.')) return 'The mount path must not contain a “.” or “..” segment.';
  if (FORBIDDEN_MOUNT_ROOTS.some((r) => v === r || v.startsWith(`${r}/`))) return 'The mount path cannot be under /proc, /sys or /dev.';
  return undefined;
}

export function validateTtlMinutes(value: string): string | undefined {
  const v = value.trim();
  if (!v) return undefined; // server default
  if (!/^\d+$/.test(v)) return 'Enter a whole number of minutes.';
  const n = Number(v);
  if (n < 1 || n > 1440) return 'Between 1 minute and 24 hours (1440).';
  return undefined;
}

export function validateCommand(value: string): string | undefined {
  return value.trim() ? undefined : 'Enter a command to run, e.g. `ls -la /workspace`.';
}

export function validateUrl(value: string): string | undefined {
  try {
    const u = new URL(value.trim());
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return 'Use an http:// or https:// URL.';
    return undefined;
  } catch {
    return 'Not a URL, e.g. http://127.0.0.1:8080';
  }
}

export function validateEmail(value: string): string | undefined {
  return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value.trim()) ? undefined : 'Enter an email address, e.g. ada@example.com.';
}
