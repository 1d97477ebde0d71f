// `npm start`: install and build what is missing, then run the daemon on the embedded
// `local` provider in the foreground and print how to use it. Extra arguments go to the daemon:
//   npm start -- --admin-port 0 --public-port 0 --home /tmp/onmemos
import { spawn } from 'node:child_process';
import { join, dirname } from 'node:path';
import { homedir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { ensureInstalled, ensureBuilt } from './ensure.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
ensureInstalled();
ensureBuilt();

const args = process.argv.slice(2);
const homeFlag = args.indexOf('--home');
const home = homeFlag >= 0 ? args[homeFlag + 1] : (process.env.ONMEMOS_HOME || join(homedir(), '.onmemos'));

const child = spawn(process.execPath, [join(root, 'dist', 'daemon.js'), ...args], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill('SIGTERM'));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));

createInterface({ input: child.stdout }).on('line', (line) => {
  console.log(line);
  const m = /^onmemos daemon ready admin=(\S+) public=(\S+)/.exec(line);
  if (!m) return;
  const [, admin, pub] = m;
  const keyHint = process.env.ONMEMOS_INTERNAL_API_KEY ? '$ONMEMOS_INTERNAL_API_KEY' : join(home, 'admin.key');
  const keyExpr = process.env.ONMEMOS_INTERNAL_API_KEY ? '$ONMEMOS_INTERNAL_API_KEY' : `$(cat ${join(home, 'admin.key')})`;
  console.log(`
Admin key: ${keyHint}   (never share it; passports are per-user keys)

First steps (paste into a shell; pasting them again reuses the user, workspace and vault):
  ADMIN=${keyExpr}
  USER_ID=$(curl -s -X POST ${admin}/admin/v1/admin/users -H "X-API-Key: $ADMIN" -H 'content-type: application/json' \\
    -d '{"email":"me@example.com","name":"Me"}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).user.user_id')
  PASSPORT=$(curl -s -X POST ${admin}/admin/v1/admin/passports -H "X-API-Key: $ADMIN" -H 'content-type: application/json' \\
    -d "{\\"user_id\\":\\"$USER_ID\\"}" | node -pe 'JSON.parse(require("fs").readFileSync(0)).passport_key')
  WS=$(curl -s "${admin}/admin/v1/admin/workspaces?user_id=$USER_ID" -H "X-API-Key: $ADMIN" \\
    | node -pe 'JSON.parse(require("fs").readFileSync(0)).workspaces.find((w) => w.name === "dev")?.workspace_id ?? ""')
  [ -n "$WS" ] || WS=$(curl -s -X POST ${admin}/admin/v1/admin/workspaces -H "X-API-Key: $ADMIN" -H 'content-type: application/json' \\
    -d "{\\"user_id\\":\\"$USER_ID\\",\\"name\\":\\"dev\\"}" | node -pe 'JSON.parse(require("fs").readFileSync(0)).workspace.workspace_id')
  curl -s "${pub}/v1/storage?workspace_id=$WS" -H "X-API-Key: $PASSPORT" \\
    | node -e 'process.exit(JSON.parse(require("fs").readFileSync(0)).resources.some((r) => r.name === "my-vault") ? 0 : 1)' \\
    || curl -s -w '\\n' -X POST ${pub}/v1/storage/buckets -H "X-API-Key: $PASSPORT" -H 'content-type: application/json' \\
    -d "{\\"workspace_id\\":\\"$WS\\",\\"name\\":\\"my-vault\\"}"
  SID=$(curl -s -X POST ${pub}/v1/sessions -H "X-API-Key: $PASSPORT" -H 'content-type: application/json' \\
    -d "{\\"workspace_id\\":\\"$WS\\",\\"ttl_minutes\\":30}" | node -pe 'JSON.parse(require("fs").readFileSync(0)).session.id')
  curl -s -w '\\n' -X POST "${pub}/v1/sessions/$SID/execute?command=ls%20-la%20/workspace/" -H "X-API-Key: $PASSPORT"

When you are done with the shuttle (it also ends by itself after ttl_minutes):
  curl -s -w '\\n' -X DELETE ${pub}/v1/sessions/$SID -H "X-API-Key: $PASSPORT"

VS Code: install the OnMemOS extension, set "onmemos.adminUrl" = ${admin} and "onmemos.publicUrl" = ${pub},
then run "OnMemOS: Set Passport" with the passport above.
Stop the daemon with Ctrl-C.
`);
});
