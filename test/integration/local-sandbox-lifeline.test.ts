// A warm sandbox ends when its supervisor does, even when --die-with-parent / --pdeathsig never took
// hold (a supervisor killed while its bubblewrap or setpriv was still starting): the setup process
// waiting for its launch line also watches its stdin, the supervisor's pipe. Found by killing pool
// supervisors at random moments of their boot: 1 in 25 left the setup process (PID 1 of its
// namespace, storage stage bound in) waiting on its FIFO for good. Real sandboxes, both modes; this
// test process plays the supervisor and closes its end of the pipe instead of dying.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { detect } from '../../daemon/providers/local/tools';
import { storageRoot } from '../../daemon/providers/local/paths';
import { Sandbox } from '../../daemon/supervisor/sandbox';
import { basePlan, scratch, stageBinds } from '../../daemon/supervisor/stage';
import { sandboxUser } from '../../daemon/supervisor/env';
import { removeHome } from '../helpers/daemon';
import { eventually, pidAlive, sleep, tempHome } from './local-provider.fixture';

let home: string;
before(() => { home = tempHome(); });
after(() => removeHome(home));

for (const mode of ['bwrap', 'unshare'] as const) {
  describe(`a warm ${mode} sandbox whose supervisor is gone`, () => {
    for (const perl of [true, false]) {
      it(`ends instead of waiting for a launch (${perl ? 'perl setup' : 'setup shell'})`, async () => {
        const cap = await detect(mode, process.env.PATH);
        const tools = perl ? cap.tools : { ...cap.tools, perl: undefined };
        const work = scratch(join(home, `${mode}-${perl}`));
        for (const d of [work.home, work.root, work.run]) mkdirSync(d, { recursive: true, mode: 0o700 });
        mkdirSync(storageRoot(home), { recursive: true, mode: 0o700 });
        const sb = await Sandbox.start({
          mode: cap.mode, userns: cap.userns, tools, hostname: 'lifeline', newRoot: work.root, run: work.run,
          ops: [...basePlan(home, work, sandboxUser().home, []), ...stageBinds(work, storageRoot(home))],
        });
        assert.equal(sb.oneProcess, perl);
        await sleep(300);
        assert.ok(pidAlive(sb.initPid) && sb.alive, 'the warm sandbox waits for its launch');
        // What the kernel does to the pipe when the supervisor dies.
        (sb as unknown as { proc: { stdin: { destroy(): void } } }).proc.stdin.destroy();
        await eventually(() => !pidAlive(sb.initPid), 'the sandbox to end');
        await eventually(() => !sb.alive, 'its bubblewrap / unshare to exit');
        assert.equal(sb.launched, false, 'it never said launched');
      });
    }
  });
}
