// The failure limiter against the lockout it used to allow: one address is shared by every client
// on this machine, shuttles included (they share the host's network namespace), so requests with
// no credential, or someone else's wrong guesses, must not shut out the admin or a user whose
// credential is valid. Wrong guesses are still throttled, per address, on both listeners and the
// shell endpoint.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, newUser, removeHome, raw, type RunningDaemon } from '../helpers/daemon';
import { refusal } from '../helpers/ws';

const LIMIT = 5;

async function withDaemon(run: (d: RunningDaemon) => Promise<void>) {
  const d = await startDaemon({ env: { ONMEMOS_AUTH_FAILURES_PER_MINUTE: String(LIMIT) } });
  try {
    await run(d);
  } finally {
    assert.equal(await d.stop(), 0);
    removeHome(d.home);
  }
}

/** HTTP status codes of `n` GETs of `url` made by curl inside a shuttle (from its 127.0.0.1). */
async function fromShuttle(client: Awaited<ReturnType<typeof newUser>>['client'], session_id: string, url: string, n: number, key?: string) {
  const header = key ? `-H 'x-api-key: ${key}'` : '';
  const r = await client.execute(session_id, `for i in $(seq ${n}); do curl -s --noproxy '*' -o /dev/null -w '%{http_code}\\n' ${header} '${url}'; done`);
  assert.equal(r.exit_code, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean).map(Number);
}

test('requests without a credential are plain 401s and never counted: the admin key, a passport and a shell still pass, a wrong key is still a 401', async () => {
  await withDaemon(async (d) => {
    const u = await newUser(d);
    const s = await u.client.createSession({ workspace_id: u.workspace.workspace_id });
    const n = LIMIT * 4;
    assert.deepEqual(await fromShuttle(u.client, s.id, `${d.publicUrl}/v1/sessions`, n), Array(n).fill(401), 'from inside a shuttle');
    for (let i = 0; i < n; i++) {
      const r = await raw(`${d.publicUrl}/v1/sessions`);
      assert.equal(r.status, 401);
      assert.equal(r.json.error.code, 'unauthorized');
      assert.equal((await raw(`${d.adminUrl}/admin/v1/admin/users`)).status, 401);
    }
    const shell = `${d.publicUrl.replace(/^http/, 'ws')}/v1/sessions/${s.id}/shell`;
    for (let i = 0; i < n; i++) assert.equal(await refusal(shell), 401);

    assert.equal((await raw(`${d.adminUrl}/admin/v1/admin/users`, { headers: { 'x-api-key': d.adminKey } })).status, 200, 'the admin is not locked out');
    assert.equal((await raw(`${d.publicUrl}/v1/sessions`, { headers: { 'x-api-key': u.passport } })).status, 200, 'a user is not locked out');
    assert.equal(await refusal(`${shell}?passport=${u.passport}`), 101, 'a shell still opens');
    assert.equal((await raw(`${d.publicUrl}/v1/sessions`, { headers: { 'x-api-key': 'onm_wrong' } })).status, 401, 'nothing was counted');
  });
});

test('wrong keys: the guessing address gets 429 with retry_after_seconds, on both listeners and the shell; valid credentials from the same address still pass', async () => {
  await withDaemon(async (d) => {
    const u = await newUser(d);
    const s = await u.client.createSession({ workspace_id: u.workspace.workspace_id });
    // A shuttle guesses: its address is the daemon's clients' address too.
    assert.deepEqual(await fromShuttle(u.client, s.id, `${d.publicUrl}/v1/sessions`, LIMIT + 3, 'onm_guess'), [...Array(LIMIT).fill(401), 429, 429, 429]);
    assert.deepEqual(await fromShuttle(u.client, s.id, `${d.publicUrl}/v1/sessions`, 2, u.passport), [200, 200], 'a valid passport from the guessing shuttle itself');

    const guess = await raw(`${d.publicUrl}/v1/sessions`, { headers: { 'x-api-key': 'onm_guess2' } });
    assert.equal(guess.status, 429);
    assert.equal(guess.json.error.code, 'too_many_requests');
    const retry = guess.json.error.details.retry_after_seconds;
    assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= 60, `retry_after_seconds ${retry}`);
    assert.equal((await raw(`${d.adminUrl}/admin/v1/admin/users`, { headers: { 'x-api-key': 'wrong-admin-key' } })).status, 429, 'one limiter for both listeners');
    const shell = `${d.publicUrl.replace(/^http/, 'ws')}/v1/sessions/${s.id}/shell`;
    assert.equal(await refusal(`${shell}?passport=onm_guess3`), 429);

    assert.equal((await raw(`${d.adminUrl}/admin/v1/admin/users`, { headers: { 'x-api-key': d.adminKey } })).status, 200, 'the admin key still passes');
    assert.equal((await raw(`${d.publicUrl}/v1/sessions`, { headers: { authorization: `Bearer ${u.passport}` } })).status, 200, 'a valid passport still passes');
    assert.equal(await refusal(`${shell}?passport=${u.passport}`), 101, 'a shell still opens');
    assert.equal((await raw(`${d.publicUrl}/v1/sessions`)).status, 401, 'no credential: a plain 401, not 429');
  });
});
