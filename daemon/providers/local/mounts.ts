// The filesystem a shuttle sees, as a plan of mount operations, rendered either as bubblewrap
// arguments or as a shell script for the util-linux `unshare` fallback.
//
// The new root is an empty tmpfs (read-only at the end). Every top-level host directory is
// bind-mounted read-only into it, host symlinks (/bin -> usr/bin) are recreated, /proc, /dev,
// /tmp and /run are private. A mount point that does not exist on the host (e.g. /workspace, or
// /home/me/data) cannot be created inside a read-only bind, so the directory that would hold it is
// "expanded": made a plain directory whose host children are bound one by one, recursively.
import { lstatSync, readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { dirname, posix } from 'node:path';

export type MountOp =
  | { op: 'robind'; src: string; dest: string }
  | { op: 'bind'; src: string; dest: string }
  | { op: 'symlink'; target: string; dest: string }
  | { op: 'tmpfs'; dest: string; mode: string }
  | { op: 'dir'; dest: string }
  | { op: 'dev' }
  | { op: 'proc' };

export type Kind = 'dir' | 'file' | 'symlink' | 'missing' | 'other';

/** The host filesystem as the planner needs it (injectable for unit tests). */
export interface FsView {
  kind(path: string): Kind;
  list(path: string): string[];
  readlink(path: string): string;
  realpath(path: string): string | undefined;
}

export const hostFs: FsView = {
  kind(path) {
    try {
      const st = lstatSync(path);
      return st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
    } catch {
      return 'missing';
    }
  },
  list: (path) => readdirSync(path),
  readlink: (path) => readlinkSync(path),
  realpath(path) {
    try { return realpathSync(path); } catch { return undefined; }
  },
};

export interface PlanInput {
  /** The daemon's home: hidden inside (admin.key, the store, other sandboxes). */
  daemonHome: string;
  /** Host directory backing the private home, and where it appears inside. */
  homeSrc: string;
  homePath: string;
  mounts: { src: string; dest: string; ro: boolean }[];
}

/** Top-level host entries that are never bound from the host. */
const PRIVATE_TOP: Record<string, MountOp['op'] | 'skip'> = {
  proc: 'proc', dev: 'dev', tmp: 'tmpfs', run: 'tmpfs', 'lost+found': 'skip',
};

interface Node {
  path: string;
  op: MountOp;
  /** For expanded directories: their host children, bound one by one. */
  children?: Node[];
}

function entryNode(fs: FsView, path: string): Node | undefined {
  const kind = fs.kind(path);
  if (kind === 'symlink') return { path, op: { op: 'symlink', target: fs.readlink(path), dest: path } };
  if (kind === 'dir' || kind === 'file') return { path, op: { op: 'robind', src: path, dest: path } };
  return undefined;
}

function isUnder(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir === '/' ? '/' : `${dir}/`);
}

/** An absolute path without `..` or a trailing slash (throws otherwise). */
export function normalize(path: string): string {
  const p = posix.normalize(path);
  if (!p.startsWith('/') || p.split('/').includes('..')) throw new Error(`mount path must be absolute: ${path}`);
  return p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
}

/**
 * Make sure `target` can become a mount point: if it lies inside a read-only host bind and does
 * not exist there, expand the binds on the way until its parent is a directory we create.
 */
function makeRoom(fs: FsView, nodes: Node[], target: string): void {
  for (const node of nodes) {
    if (!isUnder(target, node.path) || node.path === target) continue;
    if (node.children) return makeRoom(fs, node.children, target);
    if (node.op.op !== 'robind' || fs.kind(node.path) !== 'dir') return; // tmpfs etc.: bwrap/mkdir creates it
    if (fs.kind(target) === 'dir' || fs.kind(target) === 'file') return; // mount over the existing entry
    node.op = { op: 'dir', dest: node.path };
    node.children = fs.list(node.path).sort()
      .map((name) => entryNode(fs, posix.join(node.path, name)))
      .filter((n): n is Node => !!n);
    return makeRoom(fs, node.children, target);
  }
}

function flatten(nodes: Node[], out: MountOp[]): MountOp[] {
  for (const node of nodes) {
    out.push(node.op);
    if (node.children) flatten(node.children, out);
  }
  return out;
}

export function planMounts(input: PlanInput, fs: FsView = hostFs): MountOp[] {
  const top: Node[] = [];
  for (const name of fs.list('/').sort()) {
    const path = `/${name}`;
    const special = PRIVATE_TOP[name];
    if (special === 'skip') continue;
    if (special === 'proc') top.push({ path, op: { op: 'proc' } });
    else if (special === 'dev') top.push({ path, op: { op: 'dev' } });
    else if (special === 'tmpfs') top.push({ path, op: { op: 'tmpfs', dest: path, mode: name === 'tmp' ? '1777' : '0755' } });
    else {
      const node = entryNode(fs, path);
      if (node) top.push(node);
    }
  }
  for (const [name, op] of Object.entries(PRIVATE_TOP)) {
    if (op !== 'tmpfs' || top.some((n) => n.path === `/${name}`)) continue;
    top.push({ path: `/${name}`, op: { op: 'tmpfs', dest: `/${name}`, mode: name === 'tmp' ? '1777' : '0755' } });
  }

  const extra: MountOp[] = [];
  // /etc/resolv.conf often points into /run (systemd-resolved): keep DNS working.
  const resolv = fs.realpath('/etc/resolv.conf');
  if (resolv && resolv.startsWith('/run/')) extra.push({ op: 'robind', src: dirname(resolv), dest: dirname(resolv) });

  const daemonHome = normalize(input.daemonHome);
  const homePath = normalize(input.homePath);
  const hiddenByTmpfs = top.some((n) => n.op.op === 'tmpfs' && isUnder(daemonHome, n.path));
  if (!hiddenByTmpfs && !isUnder(daemonHome, homePath)) {
    makeRoom(fs, top, daemonHome);
    extra.push({ op: 'tmpfs', dest: daemonHome, mode: '0755' });
  }
  // Mount points inside an earlier (writable) mount are created there, not in the host tree.
  const placed: string[] = [];
  const room = (target: string) => {
    if (!placed.some((p) => isUnder(target, p))) makeRoom(fs, top, target);
    placed.push(target);
  };
  room(homePath);
  extra.push({ op: 'bind', src: input.homeSrc, dest: homePath });

  const mounts = input.mounts
    .map((m) => ({ ...m, dest: normalize(m.dest) }))
    .sort((a, b) => a.dest.split('/').length - b.dest.split('/').length);
  for (const m of mounts) {
    if (m.dest === '/') throw new Error('cannot mount storage at /');
    room(m.dest);
    extra.push(m.ro ? { op: 'robind', src: m.src, dest: m.dest } : { op: 'bind', src: m.src, dest: m.dest });
  }
  return [...flatten(top, []), ...extra];
}

/** bubblewrap arguments for the plan (namespace flags are added by the caller). */
export function bwrapMountArgs(ops: MountOp[], opts: { remountRo?: boolean } = {}): string[] {
  const args: string[] = [];
  for (const o of ops) {
    switch (o.op) {
      case 'robind': args.push('--ro-bind', o.src, o.dest); break;
      case 'bind': args.push('--bind', o.src, o.dest); break;
      case 'symlink': args.push('--symlink', o.target, o.dest); break;
      case 'tmpfs': args.push('--perms', o.mode, '--tmpfs', o.dest); break;
      case 'dir': args.push('--dir', o.dest); break;
      case 'dev': args.push('--dev', '/dev'); break;
      case 'proc': args.push('--proc', '/proc'); break;
    }
  }
  if (opts.remountRo !== false) args.push('--remount-ro', '/');
  return args;
}

export const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * A POSIX sh script that, run as PID 1 of fresh user+mount+pid namespaces (`unshare --user
 * --map-root-user --mount --pid --fork`), builds the plan under `newRoot`, pivots into it and
 * execs `init`. It prints `ready` on stdout just before the exec.
 */
export function unshareScript(ops: MountOp[], newRoot: string, init: string[], tail?: string): string {
  const R = (dest: string) => shq(newRoot + (dest === '/' ? '' : dest));
  const lines = [
    'set -e',
    // Remount read-only every mount at or below $1 (a recursive bind keeps submounts writable).
    'ro_tree() { awk -v p="$1" \'$5==p || index($5, p "/")==1 {print $5}\' /proc/self/mountinfo | while read -r m; do mount -n -o remount,bind,ro "$m"; done; }',
    'bind_entry() { if [ -d "$1" ]; then mkdir -p "$2"; mount -n --rbind "$1" "$2"; else mkdir -p "$(dirname "$2")"; [ -e "$2" ] || : > "$2"; mount -n --bind "$1" "$2"; fi; }',
    'mount -n --make-rprivate /',
    `mount -n -t tmpfs -o mode=0755 onmemos-root ${R('/')}`,
  ];
  for (const o of ops) {
    switch (o.op) {
      case 'robind': lines.push(`bind_entry ${shq(o.src)} ${R(o.dest)}`, `ro_tree ${R(o.dest)}`); break;
      case 'bind': lines.push(`bind_entry ${shq(o.src)} ${R(o.dest)}`); break;
      case 'symlink': lines.push(`mkdir -p "$(dirname ${R(o.dest)})"`, `ln -sfn ${shq(o.target)} ${R(o.dest)}`); break;
      case 'tmpfs': lines.push(`mkdir -p ${R(o.dest)}`, `mount -n -t tmpfs -o mode=${o.mode} tmpfs ${R(o.dest)}`); break;
      case 'dir': lines.push(`mkdir -p ${R(o.dest)}`); break;
      case 'proc': lines.push(`mkdir -p ${R('/proc')}`, `mount -n -t proc proc ${R('/proc')}`); break;
      case 'dev': {
        const d = R('/dev');
        lines.push(
          `mkdir -p ${d}`, `mount -n -t tmpfs -o mode=0755 tmpfs ${d}`,
          `for n in null zero full random urandom tty; do : > ${d}/$n; mount -n --bind /dev/$n ${d}/$n; done`,
          `mkdir -p ${d}/pts ${d}/shm`,
          // A devpts of its own, or none: never the host's (its ptys are the host user's terminals).
          `mount -n -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts ${d}/pts 2>/dev/null && ln -s pts/ptmx ${d}/ptmx || echo 'onmemos: no devpts instance here: shells get no terminal' >&2`,
          `mount -n -t tmpfs -o mode=1777 tmpfs ${d}/shm`,
          `ln -s /proc/self/fd ${d}/fd; ln -s /proc/self/fd/0 ${d}/stdin; ln -s /proc/self/fd/1 ${d}/stdout; ln -s /proc/self/fd/2 ${d}/stderr`,
        );
        break;
      }
    }
  }
  lines.push(
    `cd ${R('/')}`,
    'mkdir .oldroot',
    'pivot_root . .oldroot',
    'umount -n -l /.oldroot',
    'rmdir /.oldroot',
    'cd /',
  );
  // With a tail (Sandbox's two-step start), / stays writable until the session's setup lines ran.
  if (tail !== undefined) lines.push(tail);
  else lines.push('mount -n -o remount,ro,bind / 2>/dev/null || mount -n -o remount,ro /', 'echo ready', `exec ${init.map(shq).join(' ')}`);
  return lines.join('\n') + '\n';
}
