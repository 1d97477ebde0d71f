import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MountPath, StorageName } from '../../daemon/api/schemas';
import { validateEmail, validateMountPath, validateStorageName, validateTtlMinutes, validateUrl } from '../../extension/validation';

const names = ['abc', 'my-vault', 'a1-b2', 'x'.repeat(63), 'ab', 'x'.repeat(64), 'My-Vault', 'my_vault', '-abc', 'abc-', 'a b c', 'ünï', '123'];
const paths = ['/workspace', '/data', '/mnt/scratch', '/a/b/c/', '/', 'relative', '/a/../b', '/a/./b', '/a//b', '/proc/x', '/dev', '/sys/fs', '/with space', `/${'a'.repeat(260)}`, '/ok.dir/x_y-z'];

test('vault and drive names: the extension accepts exactly what the daemon accepts', () => {
  for (const n of names) {
    assert.equal(validateStorageName(n) === undefined, StorageName.safeParse(n).success, `disagree on ${JSON.stringify(n)}`);
  }
});

test('mount paths: the extension accepts exactly what the daemon accepts', () => {
  for (const p of paths) {
    assert.equal(validateMountPath(p) === undefined, MountPath.safeParse(p).success, `disagree on ${JSON.stringify(p)}`);
  }
});

test('messages say what to do', () => {
  assert.match(validateStorageName('My-Vault')!, /lowercase/);
  assert.match(validateStorageName('ab')!, /Too short/);
  assert.match(validateMountPath('data')!, /absolute/);
  assert.match(validateMountPath('/a/../b')!, /\.\./);
});

test('ttl, url and email', () => {
  assert.equal(validateTtlMinutes(''), undefined);
  assert.equal(validateTtlMinutes('90'), undefined);
  assert.ok(validateTtlMinutes('0'));
  assert.ok(validateTtlMinutes('1441'));
  assert.ok(validateTtlMinutes('1.5'));
  assert.equal(validateUrl('http://127.0.0.1:8080'), undefined);
  assert.ok(validateUrl('ftp://x'));
  assert.ok(validateUrl('nope'));
  assert.equal(validateEmail('ada@example.com'), undefined);
  assert.ok(validateEmail('ada@'));
});
