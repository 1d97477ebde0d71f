// Commands reach a sandbox's agent over its exec stream (one kept-open connection, a line per
// command and per answer), or by POST /exec where the agent has none: answers in the order commands
// finish; a command the agent may have run is never run again by the supervisor (502); once the
// agent is gone the supervisor runs new commands. Real sandboxes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { LocalComputeProvider } from '../../daemon/providers/local';
import type { LaunchSpec } from '../../daemon/providers/types';
import type { ExecStreams } from '../../daemon/providers/local/exec-channel';
import { ApiError } from '../../daemon/errors';
import { removeHome } from '../helpers/daemon';
import { agentsUnder, ensureSupervisorBuilt, eventually, pidAlive, spec, tempHome } from './local-provider.fixture';

describe('local provider: the exec stream to the agent', () => {
  let home: string;
  let provider: LocalComputeProvider;
  let s: LaunchSpec;
  const run = (command: string) => provider.execute(s, { command, timeout_seconds: 20, max_output_bytes: 1 << 20 });

  before(async () => {
    ensureSupervisorBuilt();
    home = tempHome();
    provider = new LocalComputeProvider({ home, poolSize: 0 });
    s = spec([]);
    await provider.launch(s);
  });
  after(async () => {
    await provider.terminate(s).catch(() => undefined);
    await provider.close();
    removeHome(home);
  });

  it('runs commands concurrently on one stream: each answer is its own command\'s, in the order they finish', async () => {
    const finished: string[] = [];
    const slow = run('sleep 0.5; echo slow; echo err >&2; exit 3').then((r) => { finished.push('slow'); return r; });
    const fast = run('echo fast; cat /proc/$PPID/comm').then((r) => { finished.push('fast'); return r; });
    const [a, b] = await Promise.all([slow, fast]);
    assert.deepEqual(finished, ['fast', 'slow']);
    assert.deepEqual([a.stdout, a.stderr, a.exit_code], ['slow\n', 'err\n', 3]);
    assert.deepEqual([b.stdout, b.exit_code], ['fast\nonmemos-agent\n', 0], 'run by the agent');
    const many = await Promise.all(Array.from({ length: 20 }, (_, i) => run(`echo ${i}`)));
    assert.deepEqual(many.map((r) => r.stdout), Array.from({ length: 20 }, (_, i) => `${i}\n`));
  });

  it('a command and its output in UTF-8 cross the stream intact', async () => {
    const r = await run("printf '%s\\n' 'żółć — 日本 🚀'");
    assert.equal(r.stdout, 'żółć — 日本 🚀\n');
  });

  it('commands go over the stream, and an output that escapes to six times its size comes back whole, run once', async () => {
    const streams = (provider as unknown as { streams: ExecStreams }).streams;
    assert.equal(streams.size, 1, 'one stream to this agent');
    const r = await provider.execute(s, { command: 'echo x >> /tmp/runs; head -c 1000000 /dev/zero', timeout_seconds: 20, max_output_bytes: 1 << 20 });
    assert.equal(r.stdout.length, 1_000_000);
    assert.equal((await run('wc -l < /tmp/runs')).stdout, '1\n', 'run once (not again by the supervisor)');
  });

  it('an agent without an exec stream (started by an older daemon) gets POST /exec, under the same rule: killed under a command, 502, and no second run', async () => {
    const t = spec([]);
    await provider.launch(t);
    try {
      const internals = provider as unknown as { streams: { noStream: Set<string> }; launchedHere: Map<string, { connection?: string }> };
      const key = internals.launchedHere.get(t.sandbox_name)?.connection;
      assert.ok(key, 'launched here, with a connection name');
      internals.streams.noStream.add(key); // as if its upgrade had been refused (404)
      const runT = (command: string) => provider.execute(t, { command, timeout_seconds: 20, max_output_bytes: 1 << 20 });
      assert.equal((await runT('cat /proc/$PPID/comm')).stdout, 'onmemos-agent\n', 'run by the agent, over HTTP');
      const agents = agentsUnder(home).filter((pid) => readFileSync(`/proc/${pid}/mountinfo`, 'utf8').includes(t.sandbox_name));
      assert.equal(agents.length, 1, `one agent in this sandbox: ${agents}`);
      const pending = runT('echo started >> /tmp/runs3; sleep 1; echo y >> /tmp/runs3');
      await new Promise((r) => setTimeout(r, 300));
      process.kill(agents[0]!, 'SIGKILL');
      await assert.rejects(pending, (e: unknown) => e instanceof ApiError && e.status === 502 && e.code === 'agent_lost' && !e.message.includes(home), 'a 502 that names no path of the daemon');
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal((await runT('grep -c started /tmp/runs3')).stdout, '1\n', 'started once: the supervisor did not run it again');
    } finally {
      await provider.terminate(t);
    }
  });

  it('an agent that dies under a running command: 502 (it may have run), not a second run; then the supervisor runs new commands', async () => {
    const agents = agentsUnder(home);
    assert.equal(agents.length, 1, `one agent under this home: ${agents}`);
    const pending = run('sleep 1; echo y >> /tmp/runs2');
    await new Promise((r) => setTimeout(r, 300));
    process.kill(agents[0]!, 'SIGKILL');
    await assert.rejects(pending, (e: unknown) => e instanceof ApiError && e.status === 502 && !e.message.includes(home));
    await eventually(() => !pidAlive(agents[0]!), 'the agent to end');
    // Run through the supervisor (nsenter), the command's parent is outside the sandbox: $PPID is 0.
    const r = await run('echo still-runs; cat /proc/$PPID/comm 2>/dev/null || echo parent-outside');
    assert.equal(r.exit_code, 0, r.stderr);
    assert.equal(r.stdout, 'still-runs\nparent-outside\n', 'not by the agent');
  });
});
