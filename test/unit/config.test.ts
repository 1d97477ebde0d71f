import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_MAX_SHUTTLES_PER_USER, loadConfig } from '../../daemon/config';

test('ONMEMOS_MAX_SHUTTLES_PER_USER: a whole number, 0 for no limit, a default when unset; anything else stops the start naming it', () => {
  assert.equal(loadConfig([], {}).maxLiveShuttlesPerUser, DEFAULT_MAX_SHUTTLES_PER_USER);
  assert.equal(loadConfig([], { ONMEMOS_MAX_SHUTTLES_PER_USER: '5' }).maxLiveShuttlesPerUser, 5);
  assert.equal(loadConfig([], { ONMEMOS_MAX_SHUTTLES_PER_USER: '0' }).maxLiveShuttlesPerUser, 0);
  for (const bad of ['-1', '2.5', 'many']) {
    assert.throws(() => loadConfig([], { ONMEMOS_MAX_SHUTTLES_PER_USER: bad }), /ONMEMOS_MAX_SHUTTLES_PER_USER must be a whole number/);
  }
});
