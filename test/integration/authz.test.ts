// Authorization matrices generated from the route tables (each listener's /openapi.json):
// 1. every public route that names a user's thing, called with another user's passport: 404, and
//    no response body anywhere carries the first user's ids;
// 2. every route with every wrong credential: none, wrong, revoked, expired, the admin key on
//    public routes, a passport on admin routes → 401.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, newUser, raw, removeHome, type RunningDaemon } from '../helpers/daemon';

let d: RunningDaemon;
let A: Awaited<ReturnType<typeof newUser>> & { session: string; vault: string; drive: string; job: string };
let B: Awaited<ReturnType<typeof newUser>>;

before(async () => {
  // this matrix fails authentication hundreds of times on purpose: lift the throttle (tested below)
  d = await startDaemon({ env: { ONMEMOS_AUTH_FAILURES_PER_MINUTE: '100000' } });
  const a = await newUser(d, 'alice@example.com');
  const vault = await a.client.createVault({ workspace_id: a.workspace.workspace_id, name: 'alice-vault' });
  const drive = await a.client.createDrive({ workspace_id: a.workspace.workspace_id, name: 'alice-drive' });
  const s = await a.client.createSession({ workspace_id: a.workspace.workspace_id });
  const job = await raw(`${d.publicUrl}/v1/sessions/${s.id}/execute?command=true&async_execution=true`, { method: 'POST', headers: { 'x-api-key': a.passport } });
  assert.equal(job.status, 202);
  A = { ...a, session: s.id, vault: vault.resource_id, drive: drive.resource_id, job: job.json.job_id };
  B = await newUser(d, 'bob@example.com');
});
after(async () => { assert.equal(await d.stop(), 0, 'clean shutdown (store verified)'); removeHome(d.home); });

type Op = { method: string; path: string; auth: boolean };
async function operations(base: string): Promise<Op[]> {
  const doc = (await raw(`${base}/openapi.json`)).json;
  const ops: Op[] = [];
  for (const [path, methods] of Object.entries<any>(doc.paths)) {
    for (const [method, op] of Object.entries<any>(methods)) ops.push({ method: method.toUpperCase(), path, auth: !(Array.isArray(op.security) && op.security.length === 0) });
  }
  return ops;
}

const fill = (path: string) => path
  .replace('{session_id}', A.session).replace('{resource_id}', A.vault).replace('{workspace_id}', A.workspace.workspace_id)
  .replace('{job_id}', A.job).replace('{user_id}', A.user.user_id).replace('{passport_id}', 'pp_x');

/** A valid body for each public route that takes one, aimed at A's things. */
const bodies: Record<string, unknown> = {
  'POST /v1/sessions': () => ({ workspace_id: A.workspace.workspace_id }),
  'POST /v1/sessions/{session_id}/execute': () => ({ command: 'id' }),
  'POST /v1/storage/buckets': () => ({ workspace_id: A.workspace.workspace_id, name: 'bob-steals' }),
  'POST /v1/storage/filestores': () => ({ workspace_id: A.workspace.workspace_id, name: 'bob-steals' }),
  'PATCH /v1/storage/{resource_id}': () => ({ auto_mount: false }),
  'POST /v1/storage/workspaces/{workspace_id}/defaults': () => ({ bucket_id: null }),
  'POST /v1/sessions/{session_id}/ws-token': () => undefined,
  'DELETE /v1/sessions/{session_id}': () => undefined,
  'DELETE /v1/storage/{resource_id}': () => undefined,
};
/** Routes that name nothing of a user: they answer 200 with B's own (empty) data. */
const ownListings = new Set(['GET /v1/sessions', 'GET /v1/storage', 'GET /v1/workspaces', 'GET /v1/billing/credits', 'GET /v1/billing/history', 'GET /v1/billing/summary', 'GET /v1/templates']);

test('another user\'s passport gets 404 on every route naming the first user\'s things, and never their data', async () => {
  const ops = (await operations(d.publicUrl)).filter((o) => o.auth);
  assert.ok(ops.length >= 20, `only ${ops.length} public operations`);
  const secrets = [A.session, A.vault, A.drive, A.workspace.workspace_id, A.user.user_id, A.job, 'alice'];
  for (const op of ops) {
    const key = `${op.method} ${op.path}`;
    const make = bodies[key] as (() => unknown) | undefined;
    const body = make ? make() : undefined;
    const r = await raw(d.publicUrl + fill(op.path), {
      method: op.method, headers: { 'x-api-key': B.passport, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    if (ownListings.has(key)) {
      assert.equal(r.status, 200, `${key}: ${r.text}`);
    } else if (op.method === 'POST' && !op.path.includes('{') ) {
      assert.equal(r.status, 404, `${key} with A's workspace: ${r.status} ${r.text}`);
    } else {
      assert.equal(r.status, 404, `${key}: ${r.status} ${r.text}`);
    }
    for (const s of secrets) assert.ok(!r.text.includes(s), `${key} leaked ${s}: ${r.text.slice(0, 300)}`);
  }
  // query parameters naming A's workspace
  for (const path of [`/v1/storage?workspace_id=${A.workspace.workspace_id}`, `/v1/storage?dock_id=${A.workspace.workspace_id}`]) {
    const r = await raw(d.publicUrl + path, { headers: { 'x-api-key': B.passport } });
    assert.equal(r.status, 404, path);
  }
  // and A's things are untouched
  assert.equal((await A.client.getSession(A.session)).status, 'running');
  assert.equal((await A.client.getStorage(A.vault)).auto_mount, true);
  assert.equal((await A.client.listStorage(A.workspace.workspace_id)).resources.length, 2);
});

test('every route refuses every wrong credential with 401 in the error shape', async () => {
  const revoked = await d.admin.createPassport({ user_id: B.user.user_id, name: 'revoked' });
  await d.admin.revokePassport(revoked.passport_id);
  const expiring = await d.admin.createPassport({ user_id: B.user.user_id, name: 'expiring', expires_at: new Date(Date.now() + 1000).toISOString() });
  await new Promise((r) => setTimeout(r, 1100));
  const publicBad: Record<string, Record<string, string>> = {
    none: {}, wrong: { 'x-api-key': 'onm_wrong' }, garbage: { authorization: 'Bearer !!!' }, revoked: { 'x-api-key': revoked.passport_key },
    expired: { 'x-api-key': expiring.passport_key }, 'admin key': { 'x-api-key': d.adminKey },
    'a ws-token': { authorization: `Bearer ${(await A.client.wsToken(A.session)).token}` },
  };
  const adminBad: Record<string, Record<string, string>> = {
    none: {}, wrong: { 'x-api-key': 'nope' }, 'a passport': { 'x-api-key': A.passport }, 'bearer passport': { authorization: `Bearer ${A.passport}` },
  };
  for (const [base, bad] of [[d.publicUrl, publicBad], [d.adminUrl, adminBad]] as const) {
    const ops = (await operations(base)).filter((o) => o.auth);
    assert.ok(ops.length > 10);
    for (const op of ops) {
      for (const [name, headers] of Object.entries(bad)) {
        const r = await raw(base + fill(op.path), { method: op.method, headers });
        assert.equal(r.status, 401, `${op.method} ${op.path} with ${name}: ${r.status} ${r.text}`);
        assert.equal(r.json?.error?.code, 'unauthorized');
      }
    }
  }
});

// A valid credential is never throttled (see `limited` in daemon/auth/authenticate.ts): the address
// is shared by every shuttle, and the secrets are 256-bit random. test/integration/auth-throttle.test.ts
// covers missing credentials and the admin listener.
test('failed authentications are throttled per address: 429 for every further wrong credential, a valid one still passes, health still answers', async () => {
  const t = await startDaemon({ env: { ONMEMOS_AUTH_FAILURES_PER_MINUTE: '5' } });
  try {
    const u = await newUser(t);
    for (let i = 0; i < 5; i++) assert.equal((await raw(`${t.publicUrl}/v1/sessions`, { headers: { 'x-api-key': `onm_guess${i}` } })).status, 401);
    const limited = await raw(`${t.publicUrl}/v1/sessions`, { headers: { 'x-api-key': 'onm_guess6' } });
    assert.equal(limited.status, 429);
    assert.equal(limited.json.error.code, 'too_many_requests');
    assert.equal((await raw(`${t.publicUrl}/v1/sessions`, { headers: { 'x-api-key': u.passport } })).status, 200, 'a valid passport is not locked out by the guesses');
    assert.equal((await raw(`${t.publicUrl}/health`)).status, 200);
    const { refusal } = await import('../helpers/ws');
    const shell = `${t.publicUrl.replace(/^http/, 'ws')}/v1/gke/shell/x`;
    assert.equal(await refusal(`${shell}?passport=onm_guess7`), 429, 'the shell endpoint shares the throttle');
    assert.equal(await refusal(`${shell}?passport=${u.passport}`), 404, 'a valid passport gets past authentication (no shuttle x)');
  } finally {
    assert.equal(await t.stop(), 0);
    removeHome(t.home);
  }
});
