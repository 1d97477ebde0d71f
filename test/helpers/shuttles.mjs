// Shuttles outlive their daemon by design (each is owned by a detached supervisor). A test that is
// done with a home ends every supervisor of that home, pool members included, so runs do not leave
// sandboxes behind. Matches processes by their command line: `supervisor.js --home <home>`, or a sandbox tool
// (bwrap, unshare, setpriv) with an argument under the home.
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * SIGKILL every supervisor process of `home` (its sandbox dies with it), and any sandbox tool whose
 * arguments name the home, and wait (up to 3 s) until they are gone, so nothing of theirs still
 * writes into the home; returns how many.
 */
export function killShuttles(home) {
  const want = resolve(home);
  const pids = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv;
    try { argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0'); } catch { continue; }
    // A supervisor of this home, or a sandbox tool left behind by one (bubblewrap's inner process
    // can miss --die-with-parent when its supervisor is killed while the sandbox is still starting).
    const i = argv.indexOf('--home');
    const supervisor = argv.some((a) => a.endsWith('supervisor.js')) && i >= 0 && resolve(argv[i + 1] ?? '') === want;
    const tool = /(^|\/)(bwrap|unshare|setpriv)$/.test(argv[0] ?? '') && argv.some((a) => a.startsWith(`${want}/`));
    if (!supervisor && !tool) continue;
    try { process.kill(Number(entry), 'SIGKILL'); pids.push(Number(entry)); } catch { /* already gone */ }
  }
  const running = (pid) => {
    try { return !/^\d+ \(.*\) [ZX]/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return false; }
  };
  const deadline = Date.now() + 3000;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  while (pids.some(running) && Date.now() < deadline) Atomics.wait(pause, 0, 0, 10);
  return pids.length;
}
