// `npm start` (scripts/start.mjs) as a new user meets it: the first steps it prints, pasted into
// bash as they are, create a user, a passport, a workspace and a vault, launch a shuttle and list
// its /workspace; pasted again (a daemon restarted on the same home, a second try), they reuse
// what the first paste made; and the line printed for the end of the shuttle ends it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { OnMemOSAdminClient } from '../../daemon/client';
import { removeHome, tempHome } from '../helpers/daemon';

const START = join(__dirname, '..', '..', 'scripts', 'start.mjs');
const hasCurl = spawnSync('curl', ['--version']).status === 0;

/** The indented lines under the heading that starts with `heading`, up to the next blank line, unindented. */
function block(out: string, heading: string): string {
  const lines = out.split('\n');
  const at = lines.findIndex((l) => l.startsWith(heading));
  assert.ok(at >= 0, `npm start printed no "${heading}":\n${out}`);
  const end = lines.findIndex((l, i) => i > at && l.trim() === '');
  return lines.slice(at + 1, end).map((l) => l.replace(/^ {2}/, '')).join('\n');
}

/** Run pasted shell text in bash: its stdout, and the execute's answer in it. */
function paste(text: string): { out: string; last: Record<string, unknown> } {
  const r = spawnSync('bash', ['-c', text], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ONMEMOS_INTERNAL_API_KEY: '' } });
  assert.equal(r.status, 0, `pasted steps failed (${r.status}):\n${r.stderr}\n${r.stdout}`);
  // Each answer the steps show is a line of its own: the execute's is the one with the command.
  const line = r.stdout.split('\n').find((l) => l.startsWith('{"session_id"') && l.includes('"command"'));
  assert.ok(line, `no execute answer in the output:\n${r.stdout}\n${r.stderr}`);
  return { out: r.stdout, last: JSON.parse(line) as Record<string, unknown> };
}

test('the first steps npm start prints work when pasted, and again when pasted twice', { skip: !hasCurl && process.env.CI !== 'true' ? 'curl missing' : false }, async () => {
  const home = tempHome();
  const proc = spawn(process.execPath, [START, '--home', home, '--admin-port', '0', '--public-port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ONMEMOS_INTERNAL_API_KEY: '' },
  });
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  try {
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`npm start printed no first steps in time:\n${out}`)), 60_000);
      createInterface({ input: proc.stdout! }).on('line', (l) => {
        out += `${l}\n`;
        if (l.startsWith('Stop the daemon')) { clearTimeout(timer); resolve(); }
      });
      void exited.then((code) => { clearTimeout(timer); reject(new Error(`npm start exited (${code}):\n${out}`)); });
    });
    const steps = block(out, 'First steps');
    const done = block(out, 'When you are done');
    const [, adminUrl] = /admin=(\S+)/.exec(out)!;
    assert.match(steps, new RegExp(`cat ${join(home, 'admin.key')}`), 'the steps read the admin key from this home');

    const first = paste(steps);
    assert.equal(first.last.returncode, 0, first.out);
    assert.match(String(first.last.stdout), /^total \d+\n/);

    // Pasted again: the same user, workspace and vault; a second shuttle; then the printed end line.
    const second = paste(`${steps}\n${done}\necho; echo "ended:$SID"`);
    assert.equal(second.last.returncode, 0, second.out);
    const sid = /ended:(\S+)/.exec(second.out)?.[1];
    assert.ok(sid && sid !== first.last.session_id, second.out);

    const admin = new OnMemOSAdminClient({ baseUrl: adminUrl!, apiKey: readFileSync(join(home, 'admin.key'), 'utf8').trim() });
    const users = (await admin.listUsers()).filter((u) => u.email === 'me@example.com');
    assert.equal(users.length, 1);
    const workspaces = await admin.listWorkspaces(users[0]!.user_id);
    assert.deepEqual(workspaces.map((w) => w.name), ['dev']);
    const vaults = (await admin.listAllStorage()).filter((r) => r.workspace_id === workspaces[0]!.workspace_id);
    assert.deepEqual(vaults.map((r) => r.name), ['my-vault']);
    const { sessions } = await admin.listAllSessions();
    assert.equal(sessions.find((s) => s.session_id === sid)?.status, 'terminated');
    assert.equal(sessions.find((s) => s.session_id === first.last.session_id)?.status, 'running');
  } finally {
    proc.kill('SIGTERM');
    assert.equal(await exited, 0, 'npm start stops the daemon cleanly on SIGTERM');
    removeHome(home);
  }
});
