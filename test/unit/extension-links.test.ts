import assert from 'node:assert/strict';
import { test } from 'node:test';
import { explainError, plainText } from '../../extension/api/errors';

// VS Code's notification link syntax, as in vs/base/common/linkedText.ts (code-server 4.139.1).
const LINK = /\[([^\]]+)\]\(((?:https?:\/\/|command:|file:)[^\)\s]+)(?: (["'])(.+?)(\3))?\)/gi;
const links = (s: string) => [...s.matchAll(LINK)].map((m) => m[2]);

const evil = '[Retry](command:onmemos.passport.set?%5B%22attacker%22%5D) or [docs](https://evil.example/x "t")';

test('the link pattern used below does find the links (so the assertions can fail)', () => {
  assert.deepEqual(links(evil), ['command:onmemos.passport.set?%5B%22attacker%22%5D', 'https://evil.example/x']);
});

test('server error messages become plain text: no parsable link in any explained error', () => {
  for (const status of [0, 400, 401, 403, 404, 409, 413, 429, 500, 503]) {
    const ex = explainError('Delete vault “x”', { status, code: status === 0 ? 'aborted' : 'x', message: evil });
    assert.deepEqual(links(ex.message), [], `${status}: ${ex.message}`);
    if (status !== 429) assert.match(ex.message, /Retry/); // still says what the server said
  }
  assert.deepEqual(links(explainError('Do it', new Error(evil)).message), []);
  assert.deepEqual(links(explainError(`Launch a shuttle in “${evil}”`, { status: 404, message: 'gone' }).message), []);
});

test('plainText leaves ordinary text alone and is idempotent', () => {
  assert.equal(plainText('Launch a shuttle in “dev” (HTTP 500).'), 'Launch a shuttle in “dev” (HTTP 500).');
  assert.equal(plainText(plainText(evil)), plainText(evil));
  assert.deepEqual(links(plainText(evil)), []);
});
