import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ALL_COMMAND_IDS, TERMINAL_PROFILE_ID, VIEW_IDS } from '../../extension/commandIds';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
const contributes = pkg.contributes;

test('the typed command list and package.json contributes.commands are the same set', () => {
  const contributed = contributes.commands.map((c: { command: string }) => c.command).sort();
  assert.deepEqual(contributed, [...ALL_COMMAND_IDS].sort());
});

test('every command has a title and the OnMemOS category', () => {
  for (const c of contributes.commands) {
    assert.ok(c.title && c.title.length > 3, `${c.command} has no title`);
    assert.equal(c.category, 'OnMemOS', c.command);
  }
});

test('menus and welcome buttons only name commands that exist', () => {
  const known = new Set<string>(ALL_COMMAND_IDS);
  for (const [menu, items] of Object.entries(contributes.menus as Record<string, { command: string }[]>)) {
    for (const item of items) assert.ok(known.has(item.command), `${menu} names unknown ${item.command}`);
  }
  for (const w of contributes.viewsWelcome) {
    for (const m of w.contents.matchAll(/\(command:([\w.]+)\)/g)) assert.ok(known.has(m[1]!), `welcome of ${w.view} names unknown ${m[1]}`);
  }
});

test('four views in the OnMemOS container, each with welcome content for no daemon / no passport or empty', () => {
  assert.deepEqual(contributes.viewsContainers.activitybar.map((c: { id: string; title: string }) => [c.id, c.title]), [['onmemos', 'OnMemOS']]);
  assert.deepEqual(contributes.views.onmemos.map((v: { id: string }) => v.id), Object.values(VIEW_IDS));
  const welcome = (view: string) => contributes.viewsWelcome.filter((w: { view: string }) => w.view === view).map((w: { when: string }) => w.when).join(' | ');
  assert.match(welcome(VIEW_IDS.workspaces), /noDaemon.*noPassport|noPassport.*noDaemon/);
  for (const v of Object.values(VIEW_IDS)) assert.match(welcome(v), /onmemos\.state == ready/);
});

test('settings: URLs with the documented defaults, nothing secret', () => {
  const props = contributes.configuration.properties;
  assert.equal(props['onmemos.adminUrl'].default, 'http://127.0.0.1:8001');
  assert.equal(props['onmemos.publicUrl'].default, 'http://127.0.0.1:8080');
  assert.equal(props['onmemos.daemon.autoStart'].default, true);
  assert.ok(!Object.keys(props).some((k) => /passport|key|token|secret/i.test(k)), 'a secret-looking setting exists');
});

test('lazy activation, the bundle as main, a terminal profile', () => {
  assert.equal(pkg.main, './dist/extension.js');
  assert.ok(!(pkg.activationEvents ?? []).includes('*'), 'activates on startup');
  assert.deepEqual(contributes.terminal.profiles.map((p: { id: string; title: string }) => [p.id, p.title]), [[TERMINAL_PROFILE_ID, 'OnMemOS Shuttle']]);
});

test('settings that choose what runs or where the admin key goes are machine-scoped (a workspace cannot set them)', () => {
  const props = contributes.configuration.properties;
  for (const k of ['onmemos.daemon.runtimePath', 'onmemos.daemon.home', 'onmemos.adminUrl']) assert.equal(props[k].scope, 'machine', k);
});

test('every connection state has welcome content in the workspaces view', () => {
  const whens = contributes.viewsWelcome.filter((w: { view: string }) => w.view === VIEW_IDS.workspaces).map((w: { when: string }) => w.when).join(' | ');
  for (const state of ['connecting', 'noDaemon', 'noPassport', 'badPassport', 'daemonError', 'ready']) assert.match(whens, new RegExp(`onmemos\\.state == ${state}\\b`), state);
});
