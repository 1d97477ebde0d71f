// What makes a sandbox startable before its session is known (the warm pool holds one): the plan
// without the session's storage, the extra binds for the exec agent and the storage stage, and the
// per-session setup lines the sandbox's privileged setup shell runs at launch (Sandbox.activate).
import { basename, dirname, join, relative } from 'node:path';
import { planMounts, shq, type MountOp } from '../providers/local/mounts';
import { AGENT_SOCKET_INSIDE } from './agent';

export const INSIDE = '/run/onmemos';
const STAGE = `${INSIDE}/stage`;
const RUN = dirname(AGENT_SOCKET_INSIDE);

export interface SessionMount {
  /** Host directory (under the storage root). */
  src: string;
  dest: string;
  ro: boolean;
}

/** Host side of a sandbox's scratch directory. */
export interface Scratch {
  dir: string;
  home: string;
  root: string;
  run: string;
}

export function scratch(dir: string): Scratch {
  return { dir, home: join(dir, 'home'), root: join(dir, 'root'), run: join(dir, 'run') };
}

/**
 * The mount plan before the session's storage: everything planMounts gives except the trailing
 * storage binds (so a mount path that needs room in the host tree changes the base, and a warm
 * sandbox with another base is not reused).
 */
export function basePlan(daemonHome: string, s: Scratch, homePath: string, mounts: SessionMount[]): MountOp[] {
  const plan = planMounts({ daemonHome, homeSrc: s.home, homePath, mounts });
  return plan.slice(0, plan.length - mounts.length);
}

/** Where the node binary (with its prefix, for $ORIGIN-relative libraries) and the bundle appear inside. */
export function agentBinds(nodePath: string, script: string): { ops: MountOp[]; node: string; script: string } {
  const bin = dirname(nodePath);
  const prefix = basename(bin) === 'bin' ? dirname(bin) : bin;
  return {
    ops: [
      { op: 'robind', src: prefix, dest: `${INSIDE}/node` },
      { op: 'robind', src: dirname(script), dest: `${INSIDE}/dist` },
    ],
    node: `${INSIDE}/node/${relative(prefix, nodePath)}`,
    script: `${INSIDE}/dist/${basename(script)}`,
  };
}

/** The scratch run dir (agent socket) and the storage root, bound in before the session is known. */
export function stageBinds(s: Scratch, storageRoot: string): MountOp[] {
  return [
    { op: 'bind', src: s.run, dest: RUN },
    { op: 'bind', src: storageRoot, dest: STAGE },
  ];
}

/** Storage that can be bound from the stage: every source directly under the storage root. */
export function stageable(mounts: SessionMount[], storageRoot: string): boolean {
  return mounts.every((m) => dirname(m.src) === storageRoot && /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(basename(m.src)));
}

/**
 * Shell lines for the privileged setup shell: hostname, the session's storage from the stage (in
 * planMounts order: shallow first), then unmount the stage and make / and the agent's socket
 * directory read-only. Any failing line aborts the sandbox.
 */
export function sessionLines(hostname: string, mounts: SessionMount[]): string[] {
  const lines = [`hostname ${shq(hostname.slice(0, 63))} 2>/dev/null || :`];
  const sorted = [...mounts].sort((a, b) => a.dest.split('/').length - b.dest.split('/').length);
  for (const m of sorted) {
    const src = shq(`${STAGE}/${basename(m.src)}`);
    const dest = shq(m.dest);
    lines.push(`[ -d ${dest} ] || mkdir -p ${dest}`, `mount -n --bind ${src} ${dest}`);
    if (m.ro) lines.push(`mount -n -o remount,bind,ro ${dest}`);
  }
  lines.push(
    `umount -n -l ${STAGE}`,
    `mount -n -o remount,bind,ro ${RUN}`,
    'mount -n -o remount,ro,bind / 2>/dev/null || mount -n -o remount,ro /',
  );
  return lines;
}
