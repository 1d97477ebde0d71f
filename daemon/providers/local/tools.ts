// Which sandbox the machine can make: bubblewrap, or util-linux `unshare` as a fallback. Each is
// probed by really creating namespaces once (cached); when neither works the provider refuses with
// what to install, never running commands on the host.
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { providerUnavailable } from '../../errors';
import type { SandboxMode, Tools } from '../../supervisor/protocol';

export type SandboxChoice = 'auto' | SandboxMode;

export interface Capability {
  mode: SandboxMode;
  userns: boolean;
  tools: Tools;
}

export function which(name: string, path: string | undefined): string | undefined {
  for (const dir of (path ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch { /* next */ }
  }
  return undefined;
}

function run(file: string, args: string[]): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 10_000, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' } }, (err, stdout, stderr) => {
      resolve({ ok: !err, output: `${stdout}${stderr}`.trim() });
    });
  });
}

const HINT = 'install bubblewrap (apt-get install bubblewrap) or enable unprivileged user namespaces '
  + '(sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0)';

async function probeBwrap(bwrap: string): Promise<{ ok: boolean; userns: boolean; output: string }> {
  const base = ['--unshare-pid', '--unshare-ipc', '--unshare-uts', '--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev',
    '--tmpfs', '/tmp', '--new-session', '--die-with-parent', '--', 'true'];
  const withUser = await run(bwrap, ['--unshare-user', ...base]);
  if (withUser.ok) return { ok: true, userns: true, output: '' };
  // A setuid bwrap without user namespaces is still a sandbox when the daemon runs as root.
  if (process.getuid?.() === 0) {
    const plain = await run(bwrap, base);
    if (plain.ok) return { ok: true, userns: false, output: '' };
  }
  return { ok: false, userns: false, output: withUser.output };
}

async function probeUnshare(unshare: string): Promise<{ ok: boolean; output: string }> {
  const r = await run(unshare, ['--user', '--map-root-user', '--mount', '--pid', '--uts', '--ipc', '--fork',
    '--propagation', 'private', '/bin/sh', '-c', 'mount -t proc proc /proc && mount -t tmpfs onmemos /tmp']);
  return r;
}

const cache = new Map<string, Promise<Capability>>();

/** The sandbox this machine can make, for `choice`, with tools looked up on `path`. Cached. */
export function detect(choice: SandboxChoice, path: string | undefined): Promise<Capability> {
  const key = `${choice}\0${path}`;
  let found = cache.get(key);
  if (!found) {
    found = detectUncached(choice, path);
    cache.set(key, found);
    // Failures are not cached forever: installing bubblewrap should not need a daemon restart.
    found.catch(() => setTimeout(() => cache.delete(key), 10_000).unref());
  }
  return found;
}

async function detectUncached(choice: SandboxChoice, path: string | undefined): Promise<Capability> {
  const nsenter = which('nsenter', path);
  const setpriv = which('setpriv', path);
  if (!nsenter || !setpriv) {
    throw providerUnavailable(`the local provider needs nsenter and setpriv (apt-get install util-linux); ${HINT}`,
      { missing: [!nsenter && 'nsenter', !setpriv && 'setpriv'].filter(Boolean) });
  }
  const script = which('script', path);
  const perl = which('perl', path);
  const problems: string[] = [];
  if (choice === 'auto' || choice === 'bwrap') {
    const bwrap = which('bwrap', path);
    if (!bwrap) problems.push('bwrap: not installed');
    else {
      const p = await probeBwrap(bwrap);
      if (p.ok) return { mode: 'bwrap', userns: p.userns, tools: { bwrap, nsenter, setpriv, script, perl } };
      problems.push(`bwrap: ${p.output || 'cannot create namespaces'}`);
    }
  }
  if (choice === 'auto' || choice === 'unshare') {
    const unshare = which('unshare', path);
    if (!unshare) problems.push('unshare: not installed');
    else {
      const p = await probeUnshare(unshare);
      if (p.ok) return { mode: 'unshare', userns: true, tools: { unshare, nsenter, setpriv, script, perl } };
      problems.push(`unshare: ${p.output || 'cannot create namespaces'}`);
    }
  }
  throw providerUnavailable(`the local provider cannot create a sandbox here (${choice === 'auto' ? 'tried bwrap and unshare' : `ONMEMOS_SANDBOX=${choice}`}): ${HINT}`,
    { problems });
}
