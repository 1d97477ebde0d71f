// Shuttles outlive their daemon by design (each is owned by a detached supervisor). A test that is
// done with a home ends every supervisor of that home, pool members included, so runs do not leave
// sandboxes behind. Matches processes by their command line: `supervisor.js --home <home>`.
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** SIGKILL every supervisor process of `home` (its sandbox dies with it); returns how many. */
export function killShuttles(home) {
  const want = resolve(home);
  let killed = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv;
    try { argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0'); } catch { continue; }
    if (!argv.some((a) => a.endsWith('supervisor.js'))) continue;
    const i = argv.indexOf('--home');
    if (i < 0 || resolve(argv[i + 1] ?? '') !== want) continue;
    try { process.kill(Number(entry), 'SIGKILL'); killed++; } catch { /* already gone */ }
  }
  return killed;
}
