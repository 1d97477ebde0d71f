import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, notFound } from '../../daemon/errors';

test('ApiError is recognised across bundles by its brand, not its class identity', () => {
  // What a second bundle (dist/gke.js) throws: an object built by another copy of the class.
  const foreign = Object.assign(new Error('x'), { status: 400, code: 'invalid_request', [Symbol.for('onmemos.ApiError')]: true });
  assert.ok(foreign instanceof ApiError);
  assert.ok(notFound('thing') instanceof ApiError);
  assert.ok(!(new Error('plain') instanceof ApiError));
  assert.ok(!(null as unknown instanceof ApiError));
});
