// The GSA and Workload Identity steps' decisions (no IAM server is reachable here): which IAM REST
// calls are made, with which member, what each rerun reports, and the etag-conflict retry. The
// request function records calls and answers from an in-memory policy; it checks our logic, not IAM.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ensureGsa, ensureWiBinding, WI_ROLE, type GoogleRequest, type IamPolicy } from '../../daemon/providers/gke/identity.js';
import type { WorkspaceRef } from '../../daemon/providers/types.js';

const ws: WorkspaceRef = { workspace_id: 'ws-1', user_id: 'u1', name: 'dev', k8s_namespace: 'onm-ws-1', ksa_name: 'onmemos-shuttle', gsa_email: 'onm-x@p.iam.gserviceaccount.com' };
const httpError = (status: number) => Object.assign(new Error(`HTTP ${status}`), { response: { status } });

function recorder(handler: (url: string, method: string, data: unknown) => unknown) {
  const calls: string[] = [];
  const request: GoogleRequest = async <T>(o: { url: string; method?: string; data?: unknown }) => {
    const method = o.method ?? 'GET';
    calls.push(`${method} ${o.url.replace('https://iam.googleapis.com/v1', '')}`);
    return { data: (await handler(o.url, method, o.data)) as T };
  };
  return { calls, request };
}

describe('gke GSA step', () => {
  it('creates a missing GSA with its account id, then reports exists', async () => {
    let exists = false;
    const r = recorder((url, method, data) => {
      if (method === 'GET') {
        if (!exists) throw httpError(404);
        return {};
      }
      assert.equal((data as { accountId: string }).accountId, 'onm-x');
      exists = true;
      return {};
    });
    assert.equal((await ensureGsa(r.request, 'p', ws.gsa_email, ws)).state, 'created');
    assert.deepEqual(r.calls, ['GET /projects/p/serviceAccounts/onm-x%40p.iam.gserviceaccount.com', 'POST /projects/p/serviceAccounts']);
    assert.equal((await ensureGsa(r.request, 'p', ws.gsa_email, ws)).state, 'exists');
  });
  it('a permission error is a failed step with the reason, not a throw', async () => {
    const r = recorder(() => {
      throw Object.assign(httpError(403), { response: { status: 403, data: { error: { message: 'Permission iam.serviceAccounts.get denied' } } } });
    });
    const s = await ensureGsa(r.request, 'p', ws.gsa_email, ws);
    assert.equal(s.state, 'failed');
    assert.match(s.message!, /Permission iam.serviceAccounts.get denied/);
  });
});

describe('gke Workload Identity binding step', () => {
  it('binds serviceAccount:<project>.svc.id.goog[<ns>/<ksa>] once, keeps the etag, retries on 409', async () => {
    let policy: IamPolicy = { etag: 'e1', bindings: [{ role: 'roles/viewer', members: ['user:a@b.c'] }] };
    let conflicts = 1;
    const r = recorder((url, _m, data) => {
      if (url.endsWith(':getIamPolicy')) return policy;
      const next = (data as { policy: IamPolicy }).policy;
      if (conflicts-- > 0) {
        policy = { ...policy, etag: 'e2' }; // someone else wrote in between
        throw httpError(409);
      }
      assert.equal(next.etag, 'e2', 'the policy written carries the etag it was read with');
      policy = { ...next, etag: 'e3' };
      return policy;
    });
    const s = await ensureWiBinding(r.request, 'p', ws.gsa_email, ws);
    assert.equal(s.state, 'created');
    assert.equal(s.name, 'serviceAccount:p.svc.id.goog[onm-ws-1/onmemos-shuttle]');
    assert.deepEqual(policy.bindings!.find((b) => b.role === WI_ROLE)!.members, ['serviceAccount:p.svc.id.goog[onm-ws-1/onmemos-shuttle]']);
    assert.equal(r.calls.filter((c) => c.endsWith(':setIamPolicy')).length, 2);
    const again = await ensureWiBinding(r.request, 'p', ws.gsa_email, ws);
    assert.equal(again.state, 'exists');
    assert.equal(r.calls.filter((c) => c.endsWith(':setIamPolicy')).length, 2, 'a rerun writes nothing');
  });
});
