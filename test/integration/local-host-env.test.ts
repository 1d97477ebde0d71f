// A user's environment (a launch's env, a command's env) never reaches a process on the host side.
// Once a shuttle's exec agent is gone (a user can kill it from inside), its supervisor runs commands
// and shells from outside, through nsenter and setpriv: those start with a fixed environment, and the
// user's is applied inside, after every privilege is gone. Before that, LD_PRELOAD in a command's env
// loaded a library from the user's own vault into nsenter on the host.
// The probe: glibc's loader writes LD_DEBUG output to `$LD_DEBUG_OUTPUT.<pid>` for any program that
// starts with it in its environment. The directory named is on the host and read-only inside the
// sandbox (/var is bound read-only), so a file there can only come from a process outside.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { LocalComputeProvider } from '../../daemon/providers/local';
import type { LaunchSpec } from '../../daemon/providers/types';
import { removeHome } from '../helpers/daemon';
import { agentsUnder, ensureSupervisorBuilt, eventually, pidAlive, spec, tempHome } from './local-provider.fixture';

describe('local provider: a user\'s env stays inside the sandbox when the supervisor runs things', () => {
  let home: string;
  let probe: string;
  let provider: LocalComputeProvider;
  let s: LaunchSpec;
  const hostFiles = () => readdirSync(probe);

  before(async () => {
    ensureSupervisorBuilt();
    home = tempHome();
    probe = mkdtempSync('/var/tmp/onmemos-ld-');
    provider = new LocalComputeProvider({ home, poolSize: 0 });
    s = spec([], { env: { LD_DEBUG: 'libs', LD_DEBUG_OUTPUT: `${probe}/launch`, GREETING: 'hello world' } });
    await provider.launch(s);
    // The agent goes, as when a user kills it from inside: the supervisor takes over.
    const [agent] = agentsUnder(home);
    assert.ok(agent, 'the shuttle has an exec agent');
    process.kill(agent, 'SIGKILL');
    await eventually(() => !pidAlive(agent), 'the agent is gone');
  });
  after(async () => {
    await provider.terminate(s).catch(() => undefined);
    await provider.close();
    removeHome(home);
    rmSync(probe, { recursive: true, force: true });
  });

  it('a command gets the launch\'s and its own env inside, and no host-side process gets either', async () => {
    const r = await provider.execute(s, {
      command: 'echo "$GREETING|$EXTRA|$LD_DEBUG|${LD_DEBUG_OUTPUT##*/}"', timeout_seconds: 20, max_output_bytes: 1 << 16,
      env: { EXTRA: "it's here", LD_DEBUG_OUTPUT: `${probe}/exec` },
    });
    assert.equal(r.exit_code, 0, `exit ${r.exit_code}, stdout ${JSON.stringify(r.stdout)}, stderr ${r.stderr.slice(-800)}`);
    // (the agent is gone: the supervisor ran it; the loader's own debug lines, unable to reach the
    // host directory from inside, come with the output)
    assert.ok(r.stdout.split('\n').includes('hello world|it\'s here|libs|exec'), r.stdout.slice(-500));
    assert.deepEqual(hostFiles(), [], 'no process outside the sandbox started with the user\'s env');
  });

  it('a shell gets the env inside, and no host-side process gets it', async () => {
    const shell = await provider.openShell(s, { cols: 80, rows: 24 });
    let text = '';
    shell.onData((c) => { text += c.toString('utf8'); });
    shell.write('echo "env=$GREETING/$((6 * 7))"\r');
    await eventually(() => /env=hello world\/42\r\n/.test(text), `the shell answers; screen: ${JSON.stringify(text.slice(-300))}`, 10_000);
    shell.write('exit\r');
    assert.deepEqual(hostFiles(), [], 'no process outside the sandbox started with the user\'s env');
  });
});
