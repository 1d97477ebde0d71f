// What makes a sandbox startable before its session is known (the warm pool holds one): the plan
// without the session's storage, the extra binds for the exec agent and the storage stage, and the
// per-session setup at launch: one line to a waiting perl process through its FIFO (written by the
// supervisor's Sandbox.activate or the daemon's direct launch), else lines for the setup shell.
// Also what both launch paths share: the session's mounts, its cwd, the agent's session, state.json.
import { basename, dirname, join, relative } from 'node:path';
import { RESERVED_MOUNT_ROOT } from '../client/rules';
import { normalize, planMounts, shq, type MountOp } from '../providers/local/mounts';
import { sandboxEnv, sandboxUser } from './env';
import { writeFileSync } from 'node:fs';
import { call } from '../providers/local/rpc';
import { AGENT_SESSION_FILE, AGENT_SOCKET_INSIDE, type AgentSession, type LaunchRequest, type SupervisorState } from './protocol';
import { agentSocketIn, socketPath } from '../providers/local/paths';

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

/** Where a session's commands and shells start: its first mount, else the user's home. */
export const sessionCwd = (req: LaunchRequest): string => req.spec.mounts[0]?.mount_path ?? sandboxUser().home;

/**
 * Give the exec agent its session, whoever launched (the supervisor, or the daemon directly):
 * session.json beside its socket — made empty when the sandbox started, so the launch creates no
 * file — which it reads on inotify, or POST /configure for a session with env of its own (env values
 * are never written to disk). An agent that cannot take it is no reason to fail the launch (commands
 * then go to the supervisor): resolves with what went wrong, if anything.
 */
export async function giveAgentSession(req: LaunchRequest, s: Scratch, connection?: string): Promise<string | undefined> {
  const session: AgentSession = {
    cwd: sessionCwd(req), env: sandboxEnv(req.spec, sandboxUser()), shell_linger_ms: req.shell_linger_seconds * 1000, scrollback_bytes: req.scrollback_bytes,
  };
  if (!Object.keys(req.spec.env).length) return void writeFileSync(join(s.run, AGENT_SESSION_FILE), JSON.stringify(session));
  return call(s.agent, 'POST', '/configure', session, 5000, connection).then(() => undefined, (e: unknown) => `configure: ${String(e)}`);
}

/** state.json of a launched shuttle (written by the supervisor, or by the daemon after a direct launch). */
export function supervisorState(home: string, req: LaunchRequest, pid: number, init_pid: number, init_start: string | undefined, started_at: string): SupervisorState {
  const { spec } = req;
  return {
    pid, init_pid, init_start, socket: socketPath(home, spec.sandbox_name), sandbox_name: spec.sandbox_name, session_id: spec.session_id,
    mode: req.mode, expires_at: spec.expires_at, started_at,
  };
}

/**
 * A launch's storage as the sandbox binds it (from the stage, see stageable), in its request's
 * order; throws on storage outside the storage root and on a mount path that would shadow the
 * sandbox's machinery. The supervisor and the daemon's direct launch use the same.
 */
export function sessionMounts(req: Pick<LaunchRequest, 'spec' | 'sources'>, storageRoot: string): SessionMount[] {
  const mounts: SessionMount[] = req.spec.mounts.map((m) => ({
    src: req.sources[m.resource_id]!, dest: normalize(m.mount_path), ro: m.access_mode === 'RO',
  }));
  if (!stageable(mounts, storageRoot)) throw new Error('storage outside the storage root');
  const shadow = mounts.find((m) => shadowsInside(m.dest));
  if (shadow) throw new Error(`mount path ${shadow.dest} is reserved: /run/onmemos holds the shuttle's own machinery`);
  return mounts;
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

/** mount, umount2, sethostname, mknodat, prctl and capset syscall numbers where the one-process setup knows them. */
const SYSCALLS: Partial<Record<NodeJS.Architecture, [number, number, number, number, number, number]>> = {
  x64: [165, 166, 170, 259, 157, 126], arm64: [40, 39, 161, 33, 167, 91],
};

/**
 * The two FIFOs of the one-process setup, in the sandbox's run dir (host side: `<scratch>/run/`),
 * made by the setup process itself and removed by it before the run dir becomes read-only. Whoever
 * launches (the daemon directly, or the supervisor) writes the setup line to SETUP_IN and reads the
 * result from SETUP_OUT: `launched`, or `error: <why>`. The supervisor also sees `launched` on the
 * sandbox's stdout.
 */
export const SETUP_IN = 'setup.in';
export const SETUP_OUT = 'setup.out';

/**
 * The session's setup in one process that is already running: perl (perl-base is on every
 * Debian/Ubuntu system) started in the warm sandbox with the capabilities of its setup shell. It
 * makes the setup FIFOs, says `ready` and waits (and exits, ending the sandbox, when its stdin — the
 * supervisor's pipe — ends: a supervisor killed while its bubblewrap was starting, before
 * --die-with-parent took hold, left the sandbox waiting forever). At launch it reads one line —
 * hostname, then (src, dest, ro) per mount, NUL-separated — and does every step with syscall():
 * hostname, the storage binds from the stage, read-only remounts (passing the mount's current
 * flags again: in a user namespace the kernel refuses to drop the locked nosuid/nodev/noexec/atime
 * flags, as mount(8) knows), unmount the stage, remove the FIFOs, make the run dir and / read-only.
 * Then it gives up every privilege as `setpriv --nnp --bounding-set=-all --inh-caps=-all
 * --ambient-caps=-all` and an exec would (no_new_privs; the bounding set, ambient and, by capset,
 * inheritable, permitted and effective sets emptied; then /proc/self/status is checked for all of
 * it: any doubt ends the sandbox instead of launching it), says `launched`, and stays as the
 * sandbox's PID 1 ("onmemos-init"): it ignores HUP, INT and TERM as the old `sh` loop did and reaps
 * whatever is left to it, at the lowest priority (nice 19). Being the init itself, rather than
 * exec'ing setpriv, then `sh`, then a `sleep` (~3 ms of CPU at every launch, running while the
 * launch's answer and first command need the cores: paced cycles 1.3-2.0 ms faster in five of six
 * interleaved A/B runs), nothing starts at launch. Nothing inherits the nice value: the agent, and every
 * command and shell it starts, was started before.
 */
const PERL_SETUP = [
  'my($NM,$NU,$NH,$NK,$NP,$NC,$stage,$run)=@ARGV;',
  `my($fi,$fo)=("$run/${SETUP_IN}","$run/${SETUP_OUT}");`,
  'for($fi,$fo){unlink$_;syscall($NK,-100,$_,4480,0)==0 or die"mkfifo $_: $!\\n"}',
  'open(my$in,"+<",$fi)or die"$fi: $!\\n";open(my$out,"+<",$fo)or die"$fo: $!\\n";',
  '$SIG{__DIE__}=sub{syswrite($out,"error: $_[0]")};',
  '$|=1;print"ready\\n";',
  'sub dec{my$s=shift;$s=~s/\\\\([0-7]{3})/chr(oct($1))/ge;$s}',
  'my%F=(nosuid=>2,nodev=>4,noexec=>8,noatime=>1024,nodiratime=>2048,relatime=>2097152,strictatime=>16777216);',
  'sub flags{my$t=shift;my$f=0;open(my$fh,"<","/proc/self/mountinfo")or die"mountinfo: $!\\n";',
  'while(<$fh>){my@x=split/ /;next unless dec($x[4])eq$t;$f=0;$f|=($F{$_}//0)for split/,/,$x[5]}close$fh;$f}',
  'sub ro{my$t=shift;my$f=flags($t)|1|32;syscall($NM,$t,$t,0,$f|4096,0)==0 or($t eq"/"and syscall($NM,$t,$t,0,$f,0)==0)or die"read-only $t: $!\\n"}',
  'sub mkp{my$p="";for(grep{length}split m{/},shift){$p.="/$_";mkdir$p}}',
  // prctl: PR_SET_NO_NEW_PRIVS (38), PR_CAPBSET_DROP (24) of each capability up to the kernel's last
  // (EINVAL, 22, past it), PR_CAP_AMBIENT (47) CLEAR_ALL (4); capset v3 (0x20080522) with all sets 0.
  'sub nopriv{syscall($NP,38,1,0,0,0)==0 or die"no_new_privs: $!\\n";',
  'for my$c(0..63){syscall($NP,24,$c,0,0,0)==0 or($!+0==22&&$c>0&&last)or die"bounding set: $!\\n"}',
  'syscall($NP,47,4,0,0,0)==0 or die"ambient capabilities: $!\\n";',
  'my($h,$d)=(pack("LL",0x20080522,0),pack("L6",(0)x6));syscall($NC,$h,$d)==0 or die"capset: $!\\n";',
  'open(my$fh,"<","/proc/self/status")or die"status: $!\\n";my$st=do{local$/;<$fh>};close$fh;',
  'for(qw(CapInh CapPrm CapEff CapBnd CapAmb)){$st=~/^$_:\\s*0+$/m or die"$_ is not empty\\n"}$st=~/^NoNewPrivs:\\s*1$/m or die"no_new_privs is not set\\n"}',
  // Wait for the line, or for stdin (the supervisor's pipe, never written in this mode) to end: the
  // supervisor is gone, and a warm sandbox nobody can launch must not wait forever.
  'for(;;){my$r="";vec($r,fileno($in),1)=1;vec($r,0,1)=1;select($r,undef,undef,undef)>0 or next;last if vec($r,fileno($in),1);exit 1}',
  'my$l=<$in>;defined$l or exit 1;chomp$l;my($host,@m)=split/\\0/,$l,-1;',
  'syscall($NH,$host,length$host);',
  'while(@m){my($s,$d,$r)=splice(@m,0,3);mkp($d);syscall($NM,$s,$d,0,4096,0)==0 or die"bind $d: $!\\n";ro($d)if$r}',
  'syscall($NU,$stage,2)==0 or die"umount $stage: $!\\n";unlink($fi,$fo);ro($run);ro("/");nopriv();close$in;',
  'syswrite($out,"launched\\n");print"launched\\n";close$out;open(STDIN,"<","/dev/null");setpriority(0,0,19);',
  '$0="onmemos-init";$SIG{$_}="IGNORE"for qw(HUP INT TERM);for(;;){waitpid(-1,0)>0 or select(undef,undef,undef,1)}',
].join('');

const sortedMounts = (mounts: SessionMount[]) => [...mounts].sort((a, b) => a.dest.split('/').length - b.dest.split('/').length);

/** The line that sets the session up in the one-process setup (written to its SETUP_IN). */
export function setupLine(hostname: string, mounts: SessionMount[]): string {
  const fields = [hostname.slice(0, 63), ...sortedMounts(mounts).flatMap((m) => [`${STAGE}/${basename(m.src)}`, m.dest, m.ro ? '1' : '0'])];
  if (fields.some((f) => /[\0\n]/.test(f))) throw new Error('bad setup field');
  return `${fields.join('\0')}\n`;
}

/** argv of the one-process setup (which stays as the sandbox's init once the session is set up), when `perl` is there and this architecture's syscall numbers are known. */
export function perlSetupArgv(perl: string | undefined): string[] | undefined {
  const nr = SYSCALLS[process.arch];
  if (!perl || !nr) return undefined;
  return [perl, '-e', PERL_SETUP, '--', ...nr.map(String), STAGE, RUN];
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
