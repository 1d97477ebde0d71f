import * as assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import * as vscode from 'vscode';
import { ALL_COMMAND_IDS, VIEW_IDS } from '../../../extension/commandIds';
import { activate } from './env';

// The manifest as the extension host loaded it.
const manifest = vscode.extensions.getExtension('onmemos.onmemos')!.packageJSON;
const contributed: string[] = manifest.contributes.commands.map((c: { command: string }) => c.command);

describe('commands', () => {
  before(async () => { await activate(); });

  it('activates quickly (activate() well under 200 ms)', async () => {
    const api = await activate();
    if (process.env.ONMEMOS_EXT_METRICS) appendFileSync(process.env.ONMEMOS_EXT_METRICS, `activate() took ${api.activationMs.toFixed(1)} ms\n`);
    assert.ok(api.activationMs < 200, `activate() took ${api.activationMs} ms`);
  });

  it('registers every command that package.json contributes', async () => {
    const registered = new Set(await vscode.commands.getCommands(true));
    const missing = contributed.filter((c) => !registered.has(c));
    assert.deepEqual(missing, [], `contributed but not registered: ${missing.join(', ')}`);
  });

  it('contributes every onmemos command it registers', async () => {
    // VS Code adds `<view id>.focus` etc. for each view: those are not ours to contribute.
    const viewCommand = (c: string) => Object.values(VIEW_IDS).some((v) => c.startsWith(`${v}.`));
    const registered = (await vscode.commands.getCommands(true)).filter((c) => c.startsWith('onmemos.') && !viewCommand(c));
    const extra = registered.filter((c) => !contributed.includes(c));
    assert.deepEqual(extra, [], `registered but not in package.json: ${extra.join(', ')}`);
    assert.equal(registered.length, ALL_COMMAND_IDS.length);
  });
});
