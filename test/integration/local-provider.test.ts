// The local provider for real: namespaces made by bubblewrap and by util-linux unshare, real
// processes, real mounts, temp homes. Each mode runs the same checks.
import assert from 'node:assert/strict';
import { removeHome } from '../helpers/daemon';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LocalComputeProvider } from '../../daemon/providers/local';
import { sandboxDir, statePath, storageDir } from '../../daemon/providers/local/paths';
import { detect } from '../../daemon/providers/local/tools';
import type { ExecOptions, LaunchSpec } from '../../daemon/providers/types';
import { ensureSupervisorBuilt, eventually, mount, pidAlive, spec, tempHome } from './local-provider.fixture';

/** Record the pids this process signals while `run` runs. */
async function signalsSentDuring(run: () => Promise<unknown>): Promise<number[]> {
  const kills: number[] = [];
  const kill = process.kill;
  process.kill = ((pid: number, signal?: string | number) => { kills.push(pid); return kill.call(process, pid, signal); }) as typeof process.kill;
  try {
    await run();
  } finally {
    process.kill = kill;
  }
  return kills;
}

function hostProcessesMatching(text: string): string[] {
  return execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(text));
}

/** The sandbox init's capability sets and no_new_privs, and what they read when it holds no privilege. */
const INIT_PRIVILEGES = 'grep -E "^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs)" /proc/1/status';
const NO_PRIVILEGES = String.raw`CapInh:\s+0+\nCapPrm:\s+0+\nCapEff:\s+0+\nCapBnd:\s+0+\nCapAmb:\s+0+\nNoNewPrivs:\s+1\n`;

for (const mode of ['bwrap', 'unshare'] as const) {
  describe(`local provider (${mode})`, () => {
    let home: string;
    let provider: LocalComputeProvider;
    let s: LaunchSpec;
    const run = (command: string, extra: Partial<ExecOptions> = {}) =>
      provider.execute(s, { command, timeout_seconds: 20, max_output_bytes: 1 << 20, ...extra });

    before(async () => {
      ensureSupervisorBuilt();
      home = tempHome();
      writeFileSync(join(home, 'admin.key'), 'TOP-SECRET-ADMIN-KEY\n', { mode: 0o600 });
      mkdirSync(storageDir(home, 'drive-b'), { recursive: true });
      writeFileSync(join(storageDir(home, 'drive-b'), 'note.txt'), 'hello from the drive\n');
      provider = new LocalComputeProvider({ home, sandbox: mode, poolSize: 1 });
      await provider.check();
      s = spec([mount('vault-a', '/workspace'), mount('drive-b', '/data', 'RO', 'filestore')]);
      await provider.launch(s);
    });

    after(async () => {
      await provider.terminate(s);
      await provider.close();
      removeHome(home);
    });

    it('bind-mounts vaults and drives at their mount_path; RO mounts refuse writes', async () => {
      const r = await run('pwd; cat /data/note.txt; echo made-inside > /workspace/new.txt && echo wrote; echo no > /data/nope.txt');
      assert.equal(r.exit_code, 1, r.stderr);
      assert.match(r.stdout, /^\/workspace\nhello from the drive\nwrote\n$/);
      assert.match(r.stderr, /\/data\/nope\.txt: Read-only file system/);
      assert.equal(readFileSync(join(storageDir(home, 'vault-a'), 'new.txt'), 'utf8'), 'made-inside\n');
      assert.ok(!existsSync(join(storageDir(home, 'drive-b'), 'nope.txt')));
    });

    it('keeps the host system read-only and hides the daemon home', async () => {
      const r = await run(`mkdir /onmemos-probe; touch /usr/onmemos-probe; touch /etc/onmemos-probe; cat ${join(home, 'admin.key')}; ls ${home}; mount -o remount,rw / && echo REMOUNTED`);
      assert.match(r.stderr, /mkdir: cannot create directory .\/onmemos-probe.: Read-only file system/);
      assert.match(r.stderr, /\/usr\/onmemos-probe': Read-only file system/);
      assert.match(r.stderr, /\/etc\/onmemos-probe': Read-only file system/);
      assert.doesNotMatch(r.stdout, /TOP-SECRET|REMOUNTED|storage|sandboxes/);
      assert.ok(!existsSync('/usr/onmemos-probe'));
    });

    it('commands run without capabilities, with no_new_privs; no other storage is staged or reachable', async () => {
      mkdirSync(storageDir(home, 'vault-other'), { recursive: true });
      writeFileSync(join(storageDir(home, 'vault-other'), 'secret.txt'), 'OTHER-USERS-DATA\n');
      const r = await run('grep -E "^(CapEff|CapPrm|CapBnd|CapAmb|NoNewPrivs)" /proc/self/status; cat /proc/self/mountinfo; '
        + 'ls -A /run/onmemos/stage 2>&1 | sed "s/^/stage: /"; touch /run/onmemos/run/x 2>&1 | sed "s/^/run: /"; '
        + 'grep -rs OTHER-USERS-DATA /run /workspace /data /root /home /tmp; ps -eo comm= | sort');
      assert.match(r.stdout, /CapPrm:\s+0+\n/);
      assert.match(r.stdout, /CapEff:\s+0+\n/);
      assert.match(r.stdout, /CapBnd:\s+0+\n/);
      assert.match(r.stdout, /CapAmb:\s+0+\n/);
      assert.match(r.stdout, /NoNewPrivs:\s+1\n/);
      const roots = r.stdout.split('\n').filter((l) => /^\d+ \d+ /.test(l)).map((l) => l.split(' ')[3]);
      assert.ok(!roots.includes(join(home, 'storage')), 'the storage root is not mounted inside');
      assert.ok(!roots.some((x) => x?.includes('vault-other')), 'unattached storage is not mounted inside');
      assert.doesNotMatch(r.stdout, /OTHER-USERS-DATA/);
      assert.doesNotMatch(r.stdout, /^stage: \S/m, 'the stage is empty after launch');
      assert.match(r.stdout, /run: .*Read-only file system/, 'the agent socket dir is read-only inside');
      // The exec agent and init are the only long-lived processes; none keeps capabilities.
      const agent = await run('for p in $(pgrep -x onmemos-agent) 1; do grep -E "^CapEff" /proc/$p/status; done');
      // (a process the agent is forking at that instant shares its name; it holds no capabilities either)
      assert.match(agent.stdout, /^CapEff:\s+0+\nCapEff:\s+0+\n(CapEff:\s+0+\n)*$/, agent.stdout);
      // The init (PID 1; with perl, the setup process that stays as "onmemos-init") holds none of any kind either.
      const init = await run(`cat /proc/1/comm; ${INIT_PRIVILEGES}`);
      assert.match(init.stdout, new RegExp(`^onmemos-init\\n${NO_PRIVILEGES}$`), init.stdout);
    });

    it('runs the init at the lowest priority, and the agent and what it starts at the normal one', async () => {
      // (this machine has perl: the one-process setup, which lowers the init before it becomes it)
      const r = await run('for p in 1 $(pgrep -o -x onmemos-agent) $$; do ps -o ni= -p $p; done; sleep 0.1 & ps -o ni= -p $!');
      assert.deepEqual(r.stdout.split('\n').map((l) => l.trim()), ['19', '0', '0', '0', ''], r.stdout + r.stderr);
    });

    it('has a private /tmp and a private home', async () => {
      const marker = `onmemos-host-marker-${process.pid}`;
      writeFileSync(join('/tmp', marker), 'host');
      try {
        const inside = `onmemos-inside-${process.pid}-${mode}`;
        const r = await run(`test -e /tmp/${marker} && echo LEAKED; echo x > /tmp/${inside} && echo tmp-ok; echo "$HOME"; touch "$HOME/.hist" && echo home-ok; ls -A "$HOME"`);
        assert.doesNotMatch(r.stdout, /LEAKED/);
        assert.match(r.stdout, /tmp-ok\n(\/root|\/home\/\S+)\nhome-ok\n/);
        assert.ok(!existsSync(join('/tmp', inside)), 'a file in the sandbox /tmp must not appear on the host');
        assert.ok(existsSync(join(sandboxDir(home, s.sandbox_name), 'home', '.hist')), 'home is backed by the scratch dir');
      } finally {
        rmSync(join('/tmp', marker), { force: true });
      }
    });

    it('runs in its own PID namespace (ps shows only the sandbox)', async () => {
      const r = await run('ps -eo pid=,comm=');
      const lines = r.stdout.trim().split('\n').map((l) => l.trim());
      assert.ok(lines.length < 10, r.stdout);
      assert.ok(lines.some((l) => /^1 /.test(l)), 'PID 1 is the sandbox init');
      assert.ok(!lines.some((l) => /\bnode\b/.test(l)), `no host processes: ${r.stdout}`);
    });

    it('captures stdout, stderr, exit code, env and runs bash -l in the first mount', async () => {
      const r = await run('echo out; echo err >&2; echo "$FOO|$LANG|$ONMEMOS_SESSION_ID|$PWD"; exit 42', { env: { FOO: 'bar baz' } });
      assert.equal(r.exit_code, 42);
      assert.equal(r.stdout, `out\nbar baz|C.UTF-8|${s.session_id}|/workspace\n`);
      assert.equal(r.stderr, 'err\n');
      assert.equal(r.timed_out, false);
      assert.equal(r.truncated, false);
      assert.ok(r.duration_ms > 0);
      assert.equal((await run('shopt -q login_shell && echo login')).stdout, 'login\n');
      // The first commands may run in login shells started before the session was known (login-pool.ts):
      // they must look exactly like a fresh `bash -lc` in this session.
      assert.equal((await run('echo "$(hostname)|$HOSTNAME|$ONMEMOS_SANDBOX_NAME|$PWD|${OLDPWD-unset}"')).stdout,
        `${s.sandbox_name}|${s.sandbox_name}|${s.sandbox_name}|/workspace|unset\n`);
      assert.equal((await run('printf "\\xe2\\x82\\xac\\xf0\\x9f\\x9a\\x80"')).stdout, '€🚀');
    });

    it('kills the whole process tree at the timeout', async () => {
      const t0 = Date.now();
      const r = await run('sleep 101 & setsid sleep 102 & echo started; sleep 100; echo never', { timeout_seconds: 1 });
      assert.equal(r.timed_out, true);
      assert.equal(r.exit_code, 124);
      assert.equal(r.stdout, 'started\n');
      assert.ok(Date.now() - t0 < 5000);
      const ps = await run('ps -eo args=');
      assert.doesNotMatch(ps.stdout, /sleep 10[012]/, ps.stdout);
      assert.deepEqual(hostProcessesMatching('sleep 10'), []);
    });

    it('caps each stream at max_output_bytes and says so', async () => {
      const r = await run('head -c 100000 /dev/zero | tr "\\0" a; echo done >&2', { max_output_bytes: 1000 });
      assert.equal(r.stdout.length, 1000);
      assert.equal(r.truncated, true);
      assert.equal(r.stderr, 'done\n');
      assert.equal(r.exit_code, 0);
    });

    it('shares storage between shuttles: written in one, read in the next', async () => {
      const next = spec([mount('vault-a', '/mnt/vault'), mount('drive-b', '/data', 'RO', 'filestore')]);
      await provider.launch(next);
      try {
        const r = await provider.execute(next, { command: 'cat /mnt/vault/new.txt /data/note.txt', timeout_seconds: 10, max_output_bytes: 4096 });
        assert.equal(r.stdout, 'made-inside\nhello from the drive\n');
      } finally {
        await provider.terminate(next);
      }
    });

    it('terminate kills everything, removes the scratch dir, and is idempotent', async () => {
      const t = spec([mount('vault-t', '/workspace')]);
      await provider.launch(t);
      const bg = await provider.execute(t, { command: 'nohup sleep 303 >/dev/null 2>&1 & echo ok', timeout_seconds: 10, max_output_bytes: 4096 });
      assert.equal(bg.stdout, 'ok\n');
      const state = JSON.parse(readFileSync(statePath(home, t.sandbox_name), 'utf8')) as { pid: number; init_pid: number };
      assert.ok(pidAlive(state.pid) && pidAlive(state.init_pid), 'supervisor and init run');
      // The command answers once its shell exits; the job it put in the background may still be a
      // forked bash that has not exec'd sleep yet.
      await eventually(() => hostProcessesMatching('sleep 303').length === 1, 'the background sleep runs');
      assert.equal(await provider.isAlive(t), true);
      // Launched here, no shell opened: the provider ends the sandbox itself (SIGKILL to its init).
      const kills = await signalsSentDuring(() => provider.terminate(t));
      assert.ok(kills.includes(state.init_pid), 'the init was killed directly');
      assert.equal(await provider.isAlive(t), false);
      assert.ok(!existsSync(sandboxDir(home, t.sandbox_name)), 'scratch removed');
      await eventually(() => !pidAlive(state.init_pid), 'sandbox init gone');
      await eventually(() => !pidAlive(state.pid), 'supervisor gone');
      await eventually(() => hostProcessesMatching('sleep 303').length === 0, 'the background sleep is gone');
      assert.ok(existsSync(storageDir(home, 'vault-t')), 'storage outlives the shuttle');
      await provider.terminate(t); // idempotent
      await assert.rejects(provider.execute(t, { command: 'true', timeout_seconds: 5, max_output_bytes: 10 }), { status: 409 });
    });

    it('terminate kills the init itself only while its pid is provably that init (else asks the supervisor)', async () => {
      const t = spec([]);
      await provider.launch(t);
      const state = JSON.parse(readFileSync(statePath(home, t.sandbox_name), 'utf8')) as { pid: number; init_pid: number };
      // As if the init had died and its pid been reused: the start time recorded at launch differs.
      const launched = (provider as unknown as { launchedHere: Map<string, { pid: number; start: string }> }).launchedHere;
      assert.equal(launched.get(t.sandbox_name)?.pid, state.init_pid);
      launched.get(t.sandbox_name)!.start = '1';
      const kills = await signalsSentDuring(() => provider.terminate(t));
      assert.ok(!kills.includes(state.init_pid), 'this process sent no signal to that pid');
      await eventually(() => !pidAlive(state.init_pid), 'sandbox init gone');
      await eventually(() => !pidAlive(state.pid), 'the supervisor ended it and itself');
    });
  });
}

describe('local provider: storage cannot shadow the sandbox machinery', () => {
  it('a mount path at /run/onmemos/stage (which would leave the storage root visible) is refused before any sandbox starts', async () => {
    ensureSupervisorBuilt();
    const home = tempHome();
    mkdirSync(storageDir(home, 'other-users-vault'), { recursive: true });
    writeFileSync(join(storageDir(home, 'other-users-vault'), 'secret.txt'), 'OTHER\n');
    const provider = new LocalComputeProvider({ home, poolSize: 0 });
    try {
      for (const mp of ['/run/onmemos/stage', '/run/onmemos', '/run']) {
        const s = spec([mount('mine', mp)]);
        await assert.rejects(provider.launch(s), { status: 400, message: /mount path cannot be \/run or under \/run\/onmemos/ }, mp);
        assert.ok(!existsSync(sandboxDir(home, s.sandbox_name)), 'no sandbox was made');
      }
    } finally {
      await provider.close();
      removeHome(home);
    }
  });
});

describe('local provider: a fresh shuttle from the warm pool', () => {
  let home: string;
  before(() => {
    ensureSupervisorBuilt();
    home = tempHome();
  });
  after(() => removeHome(home));

  /** Launch from a warm pool member, run the probe as its first commands, check the mounts, terminate. */
  async function firstCommands(provider: LocalComputeProvider, extra: Partial<LaunchSpec> = {}): Promise<{ s: LaunchSpec; out: string[] }> {
    await provider.warm();
    const s = spec([mount('vault-w', '/workspace'), mount('drive-w', '/mnt/deep/data', 'RO', 'filestore')], extra);
    await provider.launch(s);
    try {
      const probe = 'echo "$(hostname)|$HOSTNAME|$ONMEMOS_SESSION_ID|$PWD|${OLDPWD-unset}|${FOO-unset}|$(id -u)"';
      const out = [];
      // Two at once and one after: the warm member's prepared login shells, then a refilled one.
      out.push(...(await Promise.all([probe, probe].map((c) => provider.execute(s, { command: c, timeout_seconds: 10, max_output_bytes: 4096 })))).map((r) => r.stdout));
      out.push((await provider.execute(s, { command: probe, timeout_seconds: 10, max_output_bytes: 4096 })).stdout);
      const fs = await provider.execute(s, {
        command: 'echo w > /workspace/w && echo ok; echo x > /mnt/deep/data/x; mkdir /probe; ls -A /run/onmemos/stage | wc -l; touch /run/onmemos/run/x',
        timeout_seconds: 10, max_output_bytes: 4096,
      });
      assert.equal(fs.stdout, 'ok\n0\n');
      assert.match(fs.stderr, /\/mnt\/deep\/data\/x: Read-only file system/);
      assert.match(fs.stderr, /directory .\/probe.: Read-only file system/);
      assert.match(fs.stderr, /\/run\/onmemos\/run\/x': Read-only file system/);
      // Whichever setup made it, the sandbox's init holds no privilege.
      const init = await provider.execute(s, { command: INIT_PRIVILEGES, timeout_seconds: 10, max_output_bytes: 4096 });
      assert.match(init.stdout, new RegExp(`^${NO_PRIVILEGES}$`), init.stdout);
      return { s, out };
    } finally {
      await provider.terminate(s);
    }
  }

  it('its first commands (login shells started before the session was known) look like a fresh bash -lc in the session', async () => {
    const provider = new LocalComputeProvider({ home, poolSize: 1 });
    try {
      const { s, out } = await firstCommands(provider);
      const uid = process.getuid!();
      for (const o of out) assert.equal(o, `${s.sandbox_name}|${s.sandbox_name}|${s.session_id}|/workspace|unset|unset|${uid}\n`);
      // A session with env of its own gets login shells started with it.
      const withEnv = await firstCommands(provider, { env: { FOO: 'from the template' } });
      for (const o of withEnv.out) assert.equal(o, `${withEnv.s.sandbox_name}|${withEnv.s.sandbox_name}|${withEnv.s.session_id}|/workspace|unset|from the template|${uid}\n`);
    } finally {
      await provider.close();
    }
  });

  it('a session\'s env values reach its commands but never the disk', async () => {
    const provider = new LocalComputeProvider({ home, poolSize: 1 });
    const secret = `tok-${Math.random().toString(36).slice(2)}`;
    const filesUnder = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? filesUnder(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : []);
    try {
      await provider.warm();
      const plain = spec([]);
      await provider.launch(plain);
      // Without env of its own, the session reaches the agent as a file (ids, cwd: nothing secret).
      const file = join(sandboxDir(home, plain.sandbox_name), 'run', 'session.json');
      assert.match(readFileSync(file, 'utf8'), new RegExp(plain.session_id));
      await provider.terminate(plain);

      await provider.warm();
      const s = spec([mount('vault-env', '/workspace')], { env: { SECRET_TOKEN: secret } });
      await provider.launch(s);
      try {
        const r = await provider.execute(s, { command: 'echo "$SECRET_TOKEN"', timeout_seconds: 10, max_output_bytes: 4096 });
        assert.equal(r.stdout, `${secret}\n`);
        const leaks = filesUnder(sandboxDir(home, s.sandbox_name)).filter((f) => readFileSync(f).includes(secret));
        assert.deepEqual(leaks, [], 'no file of the shuttle holds the value');
      } finally {
        await provider.terminate(s);
      }
    } finally {
      await provider.close();
    }
  });

  it('without perl, the setup runs a program per step with the same result', async () => {
    // A PATH with every program of this machine's PATH but perl; not under /tmp or the home: the setup
    // shell uses it inside the sandbox, where those are private or hidden.
    const bin = mkdtempSync('/var/tmp/onmemos-no-perl-');
    for (const dir of (process.env.PATH ?? '').split(':')) {
      let names: string[];
      try { names = readdirSync(dir); } catch { continue; }
      for (const n of names) if (!n.startsWith('perl') && !existsSync(join(bin, n))) symlinkSync(join(dir, n), join(bin, n));
    }
    const provider = new LocalComputeProvider({ home, poolSize: 1, env: { ...process.env, PATH: bin } });
    assert.equal((await detect('auto', bin)).tools.perl, undefined, 'the provider sees no perl');
    try {
      const { s, out } = await firstCommands(provider);
      assert.equal(out[0], `${s.sandbox_name}|${s.sandbox_name}|${s.session_id}|/workspace|unset|unset|${process.getuid!()}\n`);
    } finally {
      await provider.close();
      rmSync(bin, { recursive: true, force: true });
    }
  });
});
