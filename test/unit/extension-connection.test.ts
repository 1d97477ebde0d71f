import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stateAfterHealthy } from '../../extension/api/errors';
import { cleanKey, validateKey } from '../../extension/validation';
import { OnMemOSApiError, OnMemOSClient } from '../../daemon/client';

test('after a healthy /health, a failed request never means "no daemon"', () => {
  const api = (status: number) => ({ status, code: 'x', message: 'm' });
  assert.equal(stateAfterHealthy(api(401)), 'badPassport');
  assert.equal(stateAfterHealthy(api(403)), 'badPassport');
  assert.equal(stateAfterHealthy(api(429)), 'badPassport'); // the daemon throttles wrong credentials only
  for (const s of [0, 404, 500, 502, 503]) assert.equal(stateAfterHealthy(api(s)), 'daemonError', String(s));
  assert.equal(stateAfterHealthy(new Error('boom')), 'daemonError');
});

test('a passport that cannot be sent as a header (fetch refuses it) is a bad passport', async () => {
  const refused = await fetch('http://127.0.0.1:1/', { headers: { 'x-api-key': 'pp_abc\u200bdef' } }).then(() => undefined, (e: unknown) => e);
  assert.ok(refused instanceof TypeError, String(refused));
  assert.equal(stateAfterHealthy(refused), 'badPassport');
});

test('the typed client errors map the same way', () => {
  assert.equal(stateAfterHealthy(new OnMemOSApiError(429, 'rate_limited', 'too many failed attempts')), 'badPassport');
  assert.equal(stateAfterHealthy(new OnMemOSApiError(500, 'internal', 'x')), 'daemonError');
});

test('keys: invisible characters from a paste are removed, non-ASCII is refused', () => {
  assert.equal(cleanKey(' pp_abc\u200bdef\uFEFF\n'), 'pp_abcdef');
  assert.equal(validateKey('pp_abc\u200bdefgh'), undefined);
  assert.match(validateKey('pp_abcdéfgh')!, /printable ASCII/);
  assert.match(validateKey('pp_\u0007abcdefgh')!, /printable ASCII/);
  assert.match(validateKey('short')!, /too short/);
  assert.equal(validateKey('pp_0123456789abcdef'), undefined);
});

test('the typed client reports an unsendable passport as unreachable; that is a bad passport too', async () => {
  const client = new OnMemOSClient({ baseUrl: 'http://127.0.0.1:1', apiKey: 'pp_abc\u200bdef' });
  const e = await client.request('GET', '/v1/workspaces').then(() => undefined, (x: unknown) => x);
  assert.ok(e instanceof OnMemOSApiError && e.status === 0, String(e));
  assert.equal(stateAfterHealthy(e), 'badPassport');
  // A daemon that is really gone between /health and the request is not a passport problem.
  const gone = await new OnMemOSClient({ baseUrl: 'http://127.0.0.1:1', apiKey: 'pp_abcdef' }).request('GET', '/v1/workspaces').then(() => undefined, (x: unknown) => x);
  assert.equal(stateAfterHealthy(gone), 'daemonError');
});
