// Direct launches (providers/local/direct.ts): the daemon sets a warm pool member's sandbox up
// itself through the setup FIFOs, and the member's supervisor adopts the shuttle afterwards. Real
// supervisors, sandboxes and FIFOs.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LocalComputeProvider } from '../../daemon/providers/local';
import { destinationsKey, fitsDirect, launchDirect, precomputeFits } from '../../daemon/providers/local/direct';
import { sandboxDir, socketPath, statePath, storageDir } from '../../daemon/providers/local/paths';
import { spawnSupervisor, type Member } from '../../daemon/providers/local/pool';
import { call } from '../../daemon/providers/local/rpc';
import { detect } from '../../daemon/providers/local/tools';
import type { Health, LaunchRequest } from '../../daemon/supervisor/protocol';
import type { LaunchSpec } from '../../daemon/providers/types';
import { removeHome } from '../helpers/daemon';
import { SUPERVISOR, ensureSupervisorBuilt, eventually, mount, pidAlive, providerProcess, spec, tempHome } from './local-provider.fixture';

// One home for the file: each test names its own shuttles and storage.
let home: string;
before(() => {
  ensureSupervisorBuilt();
  home = tempHome();
});
after(() => removeHome(home));

const health = (s: LaunchSpec) => call<Health>(socketPath(home, s.sandbox_name), 'GET', '/health', undefined, 2000);

describe('local provider: direct launches on a warm member', { skip: !process.arch.match(/^(x64|arm64)$/) && 'no syscall numbers for this arch' }, () => {
  let provider: LocalComputeProvider;
  const events: Array<{ event: string; fields?: Record<string, unknown> }> = [];

  before(async () => {
    provider = new LocalComputeProvider({ home, poolSize: 1, log: (event, fields) => events.push({ event, fields }) });
    await provider.warm();
  });
  after(() => provider.close());

  it('sets the session up without the supervisor, which then adopts the shuttle', async () => {
    await provider.warm();
    const s = spec([mount('vault-d', '/workspace'), mount('drive-d', '/data', 'RO', 'filestore')]);
    mkdirSync(storageDir(home, 'drive-d'), { recursive: true });
    await provider.launch(s);
    const launched = events.find((e) => e.event === 'local.launched' && e.fields?.sandbox_name === s.sandbox_name);
    assert.equal(launched?.fields?.direct, true, 'launched directly');
    try {
      // The session as the supervisor would have set it up: hostname, storage (RO where asked),
      // cwd, the run dir read-only inside, and the setup FIFOs gone.
      const r = await provider.execute(s, {
        command: 'hostname; pwd; echo made > /workspace/f && cat /workspace/f; touch /data/x 2>/dev/null || echo ro; touch /run/onmemos/run/x 2>/dev/null || echo run-ro; ls /run/onmemos/run',
        timeout_seconds: 10, max_output_bytes: 4096,
      });
      assert.equal(r.exit_code, 0, r.stderr);
      assert.equal(r.stdout, `${s.sandbox_name}\n/workspace\nmade\nro\nrun-ro\nagent.sock\nsession.json\n`);
      assert.equal(readFileSync(join(storageDir(home, 'vault-d'), 'f'), 'utf8'), 'made\n');
      // Adopted: the supervisor answers at the sandbox's socket as running this shuttle.
      await eventually(async () => (await health(s).catch(() => undefined))?.status === 'running', 'the supervisor to adopt the shuttle');
      const h = await health(s);
      assert.equal(h.sandbox_name, s.sandbox_name);
      const state = JSON.parse(readFileSync(statePath(home, s.sandbox_name), 'utf8')) as { pid: number; init_pid: number; started_at: string };
      assert.equal(state.pid, h.pid, 'state.json names the supervisor');
      assert.equal(state.init_pid, h.init_pid);
      assert.equal(state.started_at, h.started_at);
      assert.equal(await provider.isAlive(s), true);
      const log = readFileSync(join(sandboxDir(home, s.sandbox_name), 'supervisor.log'), 'utf8');
      assert.match(log, /"event":"launched".*"direct":true/);
      assert.equal((await provider.listShells(s)).length, 0);
    } finally {
      await provider.terminate(s);
    }
    assert.equal(await provider.isAlive(s), false);
  });

  it('a session with env of its own goes to the agent by request: the value is in the shell, not on disk', async () => {
    await provider.warm();
    const secret = `direct-secret-${process.pid}`;
    const s = spec([], { env: { API_TOKEN: secret } });
    await provider.launch(s);
    try {
      const r = await provider.execute(s, { command: 'echo "$API_TOKEN"', timeout_seconds: 10, max_output_bytes: 4096 });
      assert.equal(r.stdout, `${secret}\n`);
      const files = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
        const p = join(dir, e.name);
        return e.isDirectory() && e.name !== 'root' ? files(p) : e.isFile() ? [p] : [];
      });
      for (const f of files(sandboxDir(home, s.sandbox_name))) assert.ok(!readFileSync(f, 'utf8').includes(secret), `${f} holds the env value`);
    } finally {
      await provider.terminate(s);
    }
  });
});

describe('local provider: a warm member whose sandbox just died', () => {
  it('the launch still succeeds, on another member', async () => {
    const events: string[] = [];
    const provider = new LocalComputeProvider({ home, poolSize: 2, log: (event) => events.push(event) });
    try {
      await provider.warm();
      const first = (provider as unknown as { pool: { ready: Member[] } }).pool.ready[0]!;
      process.kill(first.warm!.init_pid, 'SIGKILL');
      const s = spec([mount('vault-r', '/workspace')]);
      await provider.launch(s);
      const r = await provider.execute(s, { command: 'hostname', timeout_seconds: 10, max_output_bytes: 100 });
      assert.equal(r.stdout, `${s.sandbox_name}\n`);
      assert.ok(events.includes('local.launched'));
      const state = JSON.parse(readFileSync(statePath(home, s.sandbox_name), 'utf8')) as { pid: number };
      assert.notEqual(state.pid, first.pid, 'not the member whose sandbox died');
      await provider.terminate(s);
      await eventually(() => !pidAlive(first.pid), 'the member whose sandbox died to exit');
    } finally {
      await provider.close();
    }
  });
});

describe('local provider: direct launch failures', () => {
  async function member(): Promise<{ m: Member; req: (s: LaunchSpec) => LaunchRequest }> {
    const cap = await detect('auto', process.env.PATH);
    const m = await spawnSupervisor({ home, nodePath: process.execPath, script: SUPERVISOR, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, prestart: () => JSON.stringify(cap) });
    assert.ok(m.warm, 'the member can be launched directly');
    const req = (s: LaunchSpec): LaunchRequest => ({
      spec: s, mode: cap.mode, userns: cap.userns, tools: cap.tools, shell_linger_seconds: 60, scrollback_bytes: 256 << 10,
      sources: Object.fromEntries(s.mounts.map((x) => [x.resource_id, storageDir(home, x.resource_id)])),
    });
    return { m, req };
  }

  it('a launch fits a warm member when its storage goes where the warm plan has room (worked out ahead or on the spot)', async () => {
    const { m, req } = await member();
    try {
      const inHostTree = '/usr/share/onmemos-test-mount';
      const keys = [destinationsKey([]), destinationsKey(['/workspace', '/data']), destinationsKey([inHostTree])];
      const onTheSpot = keys.map((k) => fitsDirect(home, m, req(spec((JSON.parse(k) as string[]).map((d, i) => mount(`r${i}`, d))))));
      // New top-level directories need no room in the host tree; one inside the read-only /usr does.
      assert.deepEqual(onTheSpot, [true, true, false]);
      precomputeFits(home, m, keys);
      assert.deepEqual(keys.map((k) => m.fits?.answers.get(k)), onTheSpot);
      // A RO mount at the same place fits as well: only destinations shape the warm plan.
      assert.equal(fitsDirect(home, m, req(spec([mount('r0', '/workspace', 'RO'), mount('r1', '/data')]))), true);
    } finally {
      await call(m.socket, 'POST', '/exit', undefined, 2000).catch(() => undefined);
    }
  });

  it('a setup step that fails answers 503 with its reason, and the member ends with its sandbox', async () => {
    const { m, req } = await member();
    // Its storage directory was never made: the bind from the stage fails inside.
    const s = spec([mount('vault-never-made', '/workspace')]);
    await assert.rejects(launchDirect(home, m, req(s), () => undefined), (e: { status?: number; message?: string }) => {
      assert.equal(e.status, 503);
      assert.match(e.message ?? '', /bind \/workspace/);
      return true;
    });
    assert.ok(!existsSync(sandboxDir(home, s.sandbox_name)), 'no sandbox dir');
    await eventually(() => !pidAlive(m.warm!.init_pid) && !pidAlive(m.pid), 'the member and its sandbox to end');
  });

  it('a member whose warm sandbox died answers 503 (nobody reads its FIFO), not a hang', async () => {
    const { m, req } = await member();
    process.kill(m.warm!.init_pid, 'SIGKILL');
    await eventually(() => !pidAlive(m.warm!.init_pid), 'the warm sandbox to die');
    const s = spec([]);
    await assert.rejects(launchDirect(home, m, req(s), () => undefined), { status: 503 });
    await eventually(() => !pidAlive(m.pid), 'the member to end');
  });
});

describe('local provider: a daemon killed right after a direct launch', () => {
  it('still hands the shuttle to its supervisor: a new provider finds it running', async () => {
    const s = spec([mount('vault-k', '/workspace')]);
    // launch() returns, and the process SIGKILLs itself at once: nothing after the launch runs.
    const child = providerProcess(home, 1, `
      await p.warm();
      await p.launch(${JSON.stringify(s)});
      process.kill(process.pid, 'SIGKILL');`);
    const signal = await new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_code, sig) => r(sig)));
    assert.equal(signal, 'SIGKILL');
    const restarted = new LocalComputeProvider({ home, poolSize: 0 });
    try {
      await eventually(() => restarted.isAlive(s), 'the supervisor to adopt the shuttle');
      const r = await restarted.execute(s, { command: 'hostname; pwd', timeout_seconds: 10, max_output_bytes: 1000 });
      assert.equal(r.stdout, `${s.sandbox_name}\n/workspace\n`);
      await restarted.terminate(s);
      assert.equal(await restarted.isAlive(s), false);
    } finally {
      await restarted.close();
    }
  });
});

describe('local provider: terminating a direct launch whose supervisor is stuck', { skip: !process.arch.match(/^(x64|arm64)$/) && 'no syscall numbers for this arch' }, () => {
  it('kills the supervisor when it has not ended by itself after its sandbox', async () => {
    const events: string[] = [];
    const provider = new LocalComputeProvider({ home, poolSize: 1, supervisorExitMs: 300, log: (event) => events.push(event) });
    try {
      await provider.warm();
      const s = spec([]);
      await provider.launch(s);
      await eventually(async () => (await health(s).catch(() => undefined))?.status === 'running', 'the supervisor to adopt the shuttle');
      const { pid, init_pid } = await health(s);
      assert.ok(init_pid, 'the sandbox runs');
      process.kill(pid, 'SIGSTOP'); // stuck: it will not see its sandbox end
      await provider.terminate(s);
      await eventually(async () => !pidAlive(init_pid), 'the sandbox to end');
      await eventually(async () => !pidAlive(pid), 'the stuck supervisor to be killed');
      assert.ok(events.includes('local.supervisor_killed'));
    } finally {
      await provider.close();
    }
  });
});
