// The server's rules for names and mount paths (DESIGN.md "Names"), checked before a request
// so an input box can say what is wrong while the user types. Returns a message or undefined.

import { mountPathProblem, storageNameProblem } from '../daemon/client/rules';

const sentence = (problem: string | null) => (problem ? `${problem[0]!.toUpperCase()}${problem.slice(1)}.` : undefined);

export function validateStorageName(value: string): string | undefined {
  return sentence(storageNameProblem(value.trim()));
}

export function validateMountPath(value: string): string | undefined {
  return sentence(mountPathProblem(value.trim()));
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

// Passports and admin keys are sent in an HTTP header: printable ASCII only. What a paste brings
// along (spaces, line breaks, zero-width and other invisible characters) is removed; anything
// else outside printable ASCII is refused rather than sent.
const INVISIBLE = /[\s\u00ad\u180e\u200b-\u200f\u2028-\u202f\u2060-\u206f\ufeff]/g;

export function cleanKey(value: string): string {
  return value.replace(INVISIBLE, '');
}

export function validateKey(value: string): string | undefined {
  const v = cleanKey(value);
  if (/[^\x21-\x7e]/.test(v)) return 'A key has only printable ASCII characters (letters, digits, punctuation); check what was pasted.';
  if (v.length < 8) return 'That is too short to be a key.';
  return undefined;
}
