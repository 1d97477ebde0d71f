// 50 concurrent pty shells streaming output for 30 seconds: no error, no dropped shell, every one
// still answers at the end and exits with its own code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, newUser, removeHome } from '../helpers/daemon';
import { openWs, type Shell } from '../helpers/ws';
import { PTY_SUBPROTOCOL } from '../../daemon/client';

const SHELLS = 50;
const SECONDS = 30;

test(`${SHELLS} concurrent shells for ${SECONDS} s with no error`, { timeout: 180_000 }, async () => {
  const d = await startDaemon({ env: { ONMEMOS_LOG_LEVEL: 'warn' } });
  try {
    const u = await newUser(d);
    // five shuttles, ten shells each
    const sessions = await Promise.all(Array.from({ length: 5 }, () => u.client.createSession({ workspace_id: u.workspace.workspace_id })));
    const shells: Shell[] = [];
    for (let i = 0; i < SHELLS; i++) {
      const s = sessions[i % sessions.length]!;
      shells.push(await openWs(`${d.publicUrl.replace(/^http/, 'ws')}/v1/sessions/${s.id}/shell?passport=${u.passport}`, { protocols: [PTY_SUBPROTOCOL] }));
    }
    await Promise.all(shells.map((sh) => sh.waitFor(() => sh.messages.some((m) => m.type === 'hello'), 'hello', 30_000)));
    const end = Math.floor(Date.now() / 1000) + SECONDS;
    shells.forEach((sh, i) => sh.send(Buffer.from(`while [ $(date +%s) -lt ${end} ]; do echo tick-${i}-$RANDOM; sleep 0.2; done; echo STREAM-DONE-$((${i} + 1000))\r`)));
    await Promise.all(shells.map((sh, i) => sh.waitForOutput(`STREAM-DONE-${i + 1000}\r\n`, (SECONDS + 60) * 1000)));
    for (const [i, sh] of shells.entries()) {
      const ticks = sh.output().split(`tick-${i}-`).length - 1;
      assert.ok(ticks >= SECONDS * 2, `shell ${i} printed only ${ticks} ticks`);
      assert.ok(!sh.messages.some((m) => m.type === 'error'), `shell ${i}: ${JSON.stringify(sh.messages)}`);
    }
    shells.forEach((sh, i) => sh.send(Buffer.from(`exit ${i % 7}\r`)));
    await Promise.all(shells.map((sh) => sh.closed));
    shells.forEach((sh, i) => assert.equal(sh.messages.find((m) => m.type === 'exit')?.code, i % 7, `shell ${i} exit code`));
    await Promise.all(sessions.map((s) => u.client.terminateSession(s.id)));
  } finally {
    assert.equal(await d.stop(), 0);
    removeHome(d.home);
  }
});
