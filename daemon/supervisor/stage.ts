// What makes a sandbox startable before its session is known (the warm pool holds one): the plan
// without the session's storage, the extra binds for the exec agent and the storage stage, and the
// per-session setup lines the sandbox's privileged setup shell runs at launch (Sandbox.activate).
import { basename, dirname, join, relative } from 'node:path';
import { RESERVED_MOUNT_ROOT } from '../client/rules';
import { planMounts, shq, type MountOp } from '../providers/local/mounts';
import { agentSocketIn } from '../providers/local/paths';
import { AGENT_SOCKET_INSIDE } from './agent';

/** Where the sandbox machinery appears inside (the mount path rule keeps storage out of it). */
export const INSIDE = RESERVED_MOUNT_ROOT;
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
  /** The exec agent's socket (in run). */
  agent: string;
}

export function scratch(dir: string): Scratch {
  const agent = agentSocketIn(dir);
  return { dir, home: join(dir, 'home'), root: join(dir, 'root'), run: dirname(agent), agent };
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

/** Where node-pty appears inside, for the agent's terminals (shells.ts agentTerms). */
export const PTY_INSIDE = `${INSIDE}/node-pty`;

/**
 * Where the node binary (with its prefix, for $ORIGIN-relative libraries), the bundle and node-pty
 * (when `ptyDir` is given: the package directory as resolved on the host, which may be next to the
 * bundle in a packaged extension or in the repository's node_modules) appear inside.
 */
export function agentBinds(nodePath: string, script: string, ptyDir?: string): { ops: MountOp[]; node: string; script: string; pty?: string } {
  const bin = dirname(nodePath);
  const prefix = basename(bin) === 'bin' ? dirname(bin) : bin;
  return {
    ops: [
      { op: 'robind', src: prefix, dest: `${INSIDE}/node` },
      { op: 'robind', src: dirname(script), dest: `${INSIDE}/dist` },
      ...(ptyDir ? [{ op: 'robind' as const, src: ptyDir, dest: PTY_INSIDE }] : []),
    ],
    node: `${INSIDE}/node/${relative(prefix, nodePath)}`,
    script: `${INSIDE}/dist/${basename(script)}`,
    pty: ptyDir ? PTY_INSIDE : undefined,
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
 * A mount over INSIDE or one of its ancestors would shadow the stage: unmounting the stage would
 * then remove the session's own mount and leave every resource of the storage root visible. The
 * API refuses such paths (rules.ts); this is the supervisor's own check, for anything older.
 */
export function shadowsInside(dest: string): boolean {
  const d = dest.replace(/\/+$/, '') || '/';
  return d === INSIDE || d.startsWith(`${INSIDE}/`) || INSIDE.startsWith(d === '/' ? '/' : `${d}/`);
}

/** mount, umount2 and sethostname syscall numbers where the one-process setup knows them. */
const SYSCALLS: Partial<Record<NodeJS.Architecture, [number, number, number]>> = { x64: [165, 166, 170], arm64: [40, 39, 161] };

/**
 * The session's setup in one process that is already running: perl (perl-base is on every
 * Debian/Ubuntu system) started in the warm sandbox with the capabilities of its setup shell, waiting
 * on stdin. At launch it reads one line — hostname, then (src, dest, ro) per mount, NUL-separated —
 * and does every step with syscall(): hostname, the storage binds from the stage, read-only remounts
 * (passing the mount's current flags again: in a user namespace the kernel refuses to drop the locked
 * nosuid/nodev/noexec/atime flags, as mount(8) knows), unmount the stage, make the run dir and /
 * read-only; then says `launched` and execs the init (argv after the syscall numbers and paths).
 */
const PERL_SETUP = [
  'my($NM,$NU,$NH,$stage,$run,@init)=@ARGV;',
  'sub dec{my$s=shift;$s=~s/\\\\([0-7]{3})/chr(oct($1))/ge;$s}',
  'my%F=(nosuid=>2,nodev=>4,noexec=>8,noatime=>1024,nodiratime=>2048,relatime=>2097152,strictatime=>16777216);',
  'sub flags{my$t=shift;my$f=0;open(my$fh,"<","/proc/self/mountinfo")or die"mountinfo: $!\\n";',
  'while(<$fh>){my@x=split/ /;next unless dec($x[4])eq$t;$f=0;$f|=($F{$_}//0)for split/,/,$x[5]}close$fh;$f}',
  'sub ro{my$t=shift;my$f=flags($t)|1|32;syscall($NM,$t,$t,0,$f|4096,0)==0 or($t eq"/"and syscall($NM,$t,$t,0,$f,0)==0)or die"read-only $t: $!\\n"}',
  'sub mkp{my$p="";for(grep{length}split m{/},shift){$p.="/$_";mkdir$p}}',
  'my$l=<STDIN>;defined$l or exit 1;chomp$l;my($host,@m)=split/\\0/,$l,-1;',
  'syscall($NH,$host,length$host);',
  'while(@m){my($s,$d,$r)=splice(@m,0,3);mkp($d);syscall($NM,$s,$d,0,4096,0)==0 or die"bind $d: $!\\n";ro($d)if$r}',
  'syscall($NU,$stage,2)==0 or die"umount $stage: $!\\n";ro($run);ro("/");',
  '$|=1;print"launched\\n";open(STDIN,"<","/dev/null");exec{$init[0]}@init;die"exec $init[0]: $!\\n"',
].join('');

const sortedMounts = (mounts: SessionMount[]) => [...mounts].sort((a, b) => a.dest.split('/').length - b.dest.split('/').length);

export interface PerlSetup {
  /** argv of the waiting setup process, which becomes `init` once the session is set up. */
  argv(init: string[]): string[];
  /** The line that sets the session up. */
  input(hostname: string, mounts: SessionMount[]): string;
}

/** The one-process setup, when `perl` is there and this architecture's syscall numbers are known. */
export function perlSetup(perl: string | undefined): PerlSetup | undefined {
  const nr = SYSCALLS[process.arch];
  if (!perl || !nr) return undefined;
  return {
    argv: (init) => [perl, '-e', PERL_SETUP, '--', ...nr.map(String), STAGE, RUN, ...init],
    input: (hostname, mounts) => {
      const fields = [hostname.slice(0, 63), ...sortedMounts(mounts).flatMap((m) => [`${STAGE}/${basename(m.src)}`, m.dest, m.ro ? '1' : '0'])];
      if (fields.some((f) => /[\0\n]/.test(f))) throw new Error('bad setup field');
      return `${fields.join('\0')}\n`;
    },
  };
}

/**
 * Without perl: lines for the privileged setup shell, a program per step (~10 ms): hostname, the
 * session's storage from the stage (in planMounts order: shallow first), then unmount the stage
 * and make / and the agent's socket directory read-only. Any failing line aborts the sandbox.
 */
export function sessionLines(hostname: string, mounts: SessionMount[]): string[] {
  const lines = [`hostname ${shq(hostname.slice(0, 63))} 2>/dev/null || :`];
  for (const m of sortedMounts(mounts)) {
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
