// The local provider's mount plan (daemon/providers/local/mounts.ts) against a fake host tree.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bwrapMountArgs, planMounts, unshareScript, type FsView, type Kind, type MountOp } from '../../daemon/providers/local/mounts';
import { sandboxDir, storageDir } from '../../daemon/providers/local/paths';

/** A host tree: directories are objects, symlinks are `-> target` strings, files are ''. */
type Tree = { [name: string]: Tree | string };

function fakeFs(tree: Tree, resolvConf?: string): FsView {
  const at = (path: string): Tree | string | undefined => {
    let node: Tree | string | undefined = tree;
    for (const part of path.split('/').filter(Boolean)) {
      if (typeof node !== 'object') return undefined;
      node = node[part];
    }
    return node;
  };
  return {
    kind(path): Kind {
      const n = at(path);
      if (n === undefined) return 'missing';
      if (typeof n === 'object') return 'dir';
      return n.startsWith('-> ') ? 'symlink' : 'file';
    },
    list: (path) => Object.keys(at(path) as Tree),
    readlink: (path) => (at(path) as string).slice(3),
    realpath: (path) => (path === '/etc/resolv.conf' ? resolvConf ?? path : path),
  };
}

const HOST: Tree = {
  bin: '-> usr/bin', usr: { bin: {}, lib: {} }, etc: { 'resolv.conf': '' }, home: { alice: { code: {} }, bob: {} },
  root: {}, proc: {}, dev: {}, sys: {}, tmp: {}, var: { lib: {} }, 'lost+found': {}, srv: {},
};

function dests(ops: MountOp[]): string[] {
  return ops.map((o) => ('dest' in o ? `${o.op} ${o.dest}` : o.op));
}

describe('local provider mount plan', () => {
  it('binds host directories read-only, recreates symlinks, makes /proc /dev /tmp /run private', () => {
    const ops = planMounts({ daemonHome: '/srv/onmemos', homeSrc: '/srv/onmemos/sandboxes/s/home', homePath: '/root', mounts: [] }, fakeFs(HOST));
    const d = dests(ops);
    for (const expected of ['robind /usr', 'robind /etc', 'robind /home', 'robind /var', 'proc', 'dev', 'tmpfs /tmp', 'tmpfs /run', 'bind /root']) {
      assert.ok(d.includes(expected), `${expected} in ${d.join(', ')}`);
    }
    assert.deepEqual(ops.find((o) => o.op === 'symlink'), { op: 'symlink', target: 'usr/bin', dest: '/bin' });
    assert.ok(!d.some((x) => x.includes('lost+found')));
    assert.equal((ops.find((o) => o.op === 'tmpfs' && o.dest === '/tmp') as { mode: string }).mode, '1777');
  });

  it('hides the daemon home under a tmpfs unless it is already hidden', () => {
    const fs = fakeFs({ ...HOST, srv: { onmemos: { 'admin.key': '' } } });
    const shown = planMounts({ daemonHome: '/srv/onmemos', homeSrc: '/x', homePath: '/root', mounts: [] }, fs);
    assert.ok(dests(shown).includes('tmpfs /srv/onmemos'));
    const inTmp = planMounts({ daemonHome: '/tmp/omh-1', homeSrc: '/x', homePath: '/root', mounts: [] }, fs);
    assert.ok(!dests(inTmp).includes('tmpfs /tmp/omh-1'), 'under the private /tmp already');
    const inHome = planMounts({ daemonHome: '/root/.onmemos', homeSrc: '/x', homePath: '/root', mounts: [] }, fs);
    assert.ok(!dests(inHome).some((x) => x.startsWith('tmpfs /root')), 'under the private home already');
  });

  it('expands read-only host directories to make room for new mount points, RO mounts stay RO', () => {
    const ops = planMounts({
      daemonHome: '/tmp/h', homeSrc: '/x', homePath: '/root',
      mounts: [
        { src: '/tmp/h/storage/a', dest: '/home/alice/data', ro: false },
        { src: '/tmp/h/storage/b', dest: '/workspace', ro: true },
      ],
    }, fakeFs(HOST));
    const d = dests(ops);
    // /home and /home/alice become plain directories; their other children are still bound read-only.
    assert.ok(d.includes('dir /home') && d.includes('dir /home/alice'), d.join(', '));
    assert.ok(d.includes('robind /home/bob') && d.includes('robind /home/alice/code'));
    assert.ok(!d.includes('robind /home'));
    assert.ok(d.indexOf('dir /home/alice') < d.indexOf('bind /home/alice/data'));
    assert.deepEqual(ops.find((o) => 'dest' in o && o.dest === '/workspace'), { op: 'robind', src: '/tmp/h/storage/b', dest: '/workspace' });
  });

  it('mounts over an existing host directory without expanding, parents before children', () => {
    const ops = planMounts({
      daemonHome: '/tmp/h', homeSrc: '/x', homePath: '/root',
      mounts: [{ src: '/s/2', dest: '/var/lib/sub', ro: false }, { src: '/s/1', dest: '/var/lib', ro: false }],
    }, fakeFs(HOST));
    const d = dests(ops);
    assert.ok(d.includes('robind /var'));
    assert.ok(d.indexOf('bind /var/lib') < d.indexOf('bind /var/lib/sub'));
  });

  it('keeps DNS working when resolv.conf points into /run', () => {
    const ops = planMounts({ daemonHome: '/tmp/h', homeSrc: '/x', homePath: '/root', mounts: [] }, fakeFs(HOST, '/run/systemd/resolve/stub-resolv.conf'));
    assert.ok(dests(ops).includes('robind /run/systemd/resolve'));
  });

  it('refuses relative or escaping mount paths', () => {
    assert.throws(() => planMounts({ daemonHome: '/tmp/h', homeSrc: '/x', homePath: '/root', mounts: [{ src: '/s', dest: 'data', ro: false }] }, fakeFs(HOST)));
    assert.throws(() => planMounts({ daemonHome: '/tmp/h', homeSrc: '/x', homePath: '/root', mounts: [{ src: '/s', dest: '/', ro: false }] }, fakeFs(HOST)));
  });

  it('renders bubblewrap arguments and an unshare script from the same plan', () => {
    const ops: MountOp[] = [
      { op: 'robind', src: '/usr', dest: '/usr' }, { op: 'symlink', target: 'usr/bin', dest: '/bin' },
      { op: 'tmpfs', dest: '/tmp', mode: '1777' }, { op: 'bind', src: "/it's", dest: '/w' },
    ];
    assert.deepEqual(bwrapMountArgs(ops), ['--ro-bind', '/usr', '/usr', '--symlink', 'usr/bin', '/bin', '--perms', '1777', '--tmpfs', '/tmp',
      '--bind', "/it's", '/w', '--remount-ro', '/']);
    const script = unshareScript(ops, '/r', ['/bin/sleep', 'infinity']);
    assert.match(script, /bind_entry '\/usr' '\/r\/usr'\nro_tree '\/r\/usr'/);
    assert.match(script, /bind_entry '\/it'\\''s' '\/r\/w'/);
    assert.match(script, /pivot_root \. \.oldroot/);
    assert.match(script, /echo ready\nexec '\/bin\/sleep' 'infinity'\n$/);
  });

  it('keeps storage and sandbox paths inside the home and refuses odd ids', () => {
    assert.equal(storageDir('/h', 'res-1'), '/h/storage/res-1');
    assert.equal(sandboxDir('/h', 'shuttle-1'), '/h/sandboxes/shuttle-1');
    assert.throws(() => storageDir('/h', '../x'));
    assert.throws(() => sandboxDir('/h', 'a/b'));
  });
});

describe('the supervisor refuses storage that would shadow its stage', () => {
  it('at, under or above /run/onmemos (unmounting the stage would then expose every resource)', async () => {
    const { shadowsInside } = await import('../../daemon/supervisor/stage');
    for (const d of ['/run/onmemos/stage', '/run/onmemos/stage/', '/run/onmemos', '/run/onmemos/run', '/run', '/run/', '/']) assert.equal(shadowsInside(d), true, d);
    for (const d of ['/workspace', '/run/user', '/runner', '/run2/onmemos', '/data/run/onmemos']) assert.equal(shadowsInside(d), false, d);
  });
});
