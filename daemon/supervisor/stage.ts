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

/** mount, umount2 and sethostname syscall numbers where the one-process setup knows them. */
const SYSCALLS: Partial<Record<NodeJS.Architecture, [number, number, number]>> = { x64: [165, 166, 170], arm64: [40, 39, 161] };

/**
 * The session's setup in one process: perl's syscall() (perl-base is on every Debian/Ubuntu system)
 * instead of a program per step. Arguments: the syscall numbers, hostname, stage, run dir, then
 * (src, dest, ro) per mount. A read-only remount passes the mount's current flags again (in a user
 * namespace the kernel refuses to drop the locked nosuid/nodev/noexec/atime flags), as mount(8) does.
 */
const PERL_SETUP = [
  'my($NM,$NU,$NH,$host,$stage,$run,@m)=@ARGV;',
  'sub dec{my$s=shift;$s=~s/\\\\([0-7]{3})/chr(oct($1))/ge;$s}',
  'my%F=(nosuid=>2,nodev=>4,noexec=>8,noatime=>1024,nodiratime=>2048,relatime=>2097152,strictatime=>16777216);',
  'sub flags{my$t=shift;my$f=0;open(my$fh,"<","/proc/self/mountinfo")or die"mountinfo: $!\\n";',
  'while(<$fh>){my@x=split/ /;next unless dec($x[4])eq$t;$f=0;$f|=($F{$_}//0)for split/,/,$x[5]}close$fh;$f}',
  'sub ro{my$t=shift;my$f=flags($t)|1|32;syscall($NM,$t,$t,0,$f|4096,0)==0 or($t eq"/"and syscall($NM,$t,$t,0,$f,0)==0)or die"read-only $t: $!\\n"}',
  'sub mkp{my$p="";for(grep{length}split m{/},shift){$p.="/$_";mkdir$p}}',
  'syscall($NH,$host,length$host);',
  'while(@m){my($s,$d,$r)=splice(@m,0,3);mkp($d);syscall($NM,$s,$d,0,4096,0)==0 or die"bind $d: $!\\n";ro($d)if$r}',
  'syscall($NU,$stage,2)==0 or die"umount $stage: $!\\n";ro($run);ro("/")',
].join('');

/**
 * Lines for the privileged setup shell: hostname, the session's storage from the stage (in
 * planMounts order: shallow first), then unmount the stage and make / and the agent's socket
 * directory read-only. One perl process when `perl` is given and the architecture's syscall numbers
 * are known (~2 ms), else a program per step (~10 ms). Any failing line aborts the sandbox.
 */
export function sessionLines(hostname: string, mounts: SessionMount[], perl?: string): string[] {
  const name = hostname.slice(0, 63);
  const sorted = [...mounts].sort((a, b) => a.dest.split('/').length - b.dest.split('/').length);
  const nr = SYSCALLS[process.arch];
  if (perl && nr) {
    const args = [...nr.map(String), name, STAGE, RUN, ...sorted.flatMap((m) => [`${STAGE}/${basename(m.src)}`, m.dest, m.ro ? '1' : '0'])];
    return [`${shq(perl)} -e ${shq(PERL_SETUP)} -- ${args.map(shq).join(' ')}`];
  }
  const lines = [`hostname ${shq(name)} 2>/dev/null || :`];
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
