// Shells of the local provider: real ptys inside the sandbox, owned by the shuttle's exec agent (or
// its supervisor), reached through their Unix sockets.
import assert from 'node:assert/strict';
import { removeHome } from '../helpers/daemon';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LocalComputeProvider } from '../../daemon/providers/local';
import type { LaunchSpec, ShellStream } from '../../daemon/providers/types';
import { ensureSupervisorBuilt, mount, sleep, spec, tempHome } from './local-provider.fixture';

/** Collects a shell's output bytes; waits for patterns in the decoded text. */
class Screen {
  chunks: Buffer[] = [];
  exit: number | undefined;
  private waiters: Array<() => void> = [];
  constructor(readonly shell: ShellStream) {
    shell.onData((c) => { this.chunks.push(c); this.poke(); });
    shell.onExit((code) => { this.exit = code; this.poke(); });
  }
  private poke(): void {
    for (const w of this.waiters.splice(0)) w();
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
  async waitFor(test: RegExp | (() => boolean), ms = 10_000): Promise<void> {
    const ok = () => (typeof test === 'function' ? test() : test.test(this.text()));
    const deadline = Date.now() + ms;
    while (!ok()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${test}; screen: ${JSON.stringify(this.text().slice(-600))}`);
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 100); });
    }
  }
  type(line: string): void {
    this.shell.write(`${line}\r`);
  }
}

// Shells live in the sandbox's exec agent; where it cannot load node-pty (here: a copy of the bundle
// with no node_modules beside it), the supervisor serves them through `script` over pipes.
const variants = [['bwrap', 'agent'], ['unshare', 'agent'], ['bwrap', 'supervisor']] as const;
for (const [mode, host] of variants) {
  describe(`local provider shells (${mode}, served by the ${host})`, () => {
    let home: string;
    let provider: LocalComputeProvider;
    let s: LaunchSpec;
    let bundleDir: string | undefined;

    before(async () => {
      const bundle = ensureSupervisorBuilt();
      home = tempHome();
      let supervisorScript: string | undefined;
      if (host === 'supervisor') {
        bundleDir = mkdtempSync('/var/tmp/onmemos-no-pty-');
        supervisorScript = join(bundleDir, 'supervisor.js');
        copyFileSync(bundle, supervisorScript);
      }
      provider = new LocalComputeProvider({ home, sandbox: mode, poolSize: 1, shellLingerSeconds: 2, supervisorScript });
      s = spec([mount('vault-sh', '/workspace')]);
      await provider.launch(s);
    });

    after(async () => {
      await provider.terminate(s);
      await provider.close();
      removeHome(home);
      if (bundleDir) rmSync(bundleDir, { recursive: true, force: true });
    });

    it(`is served by the ${host}`, async () => {
      const screen = new Screen(await provider.openShell(s, { cols: 80, rows: 24 }));
      screen.type('echo "parent$((1))=$(ps -o comm= -p $PPID)"');
      await screen.waitFor(/parent1=\S+\r\n/);
      assert.match(screen.text(), host === 'agent' ? /parent1=onmemos-agent\r\n/ : /parent1=script\r\n/);
      // Either way the shell holds no capability and cannot gain one.
      screen.type('grep -E "^(CapEff|CapPrm|CapBnd|CapAmb|NoNewPrivs)" /proc/$$/status | tr -s "\\t " = | tr "\\n" " "; echo "end$((2))"');
      await screen.waitFor(/end2\r\n/);
      assert.match(screen.text(), /CapPrm:=0+ CapEff:=0+ CapBnd:=0+ CapAmb:=0+ NoNewPrivs:=1 end2/);
      screen.type('exit');
      await screen.waitFor(() => screen.exit !== undefined);
    });

    it('is a real terminal inside the sandbox: stty size follows resize, exit code arrives', async () => {
      const screen = new Screen(await provider.openShell(s, { cols: 80, rows: 24 }));
      assert.match(screen.shell.shell_id, /^sh-[0-9a-f]{12}$/);
      screen.type('echo "in:$(pwd):$(hostname)"; stty size');
      await screen.waitFor(new RegExp(`in:/workspace:${s.sandbox_name}\\r\\n24 80`));
      screen.shell.resize(132, 43);
      await sleep(50);
      screen.type('stty size; tty');
      await screen.waitFor(/43 132\r\n/);
      const [info] = await provider.listShells(s);
      assert.deepEqual({ ...info, created_at: undefined }, { shell_id: screen.shell.shell_id, created_at: undefined, attached: true, cols: 132, rows: 43 });
      screen.type('exit 7');
      await screen.waitFor(() => screen.exit !== undefined);
      assert.equal(screen.exit, 7);
      assert.deepEqual(await provider.listShells(s), []);
    });

    it('has a controlling tty that exists inside the sandbox (ttyname works), not a host pty', async () => {
      const screen = new Screen(await provider.openShell(s, { cols: 80, rows: 24 }));
      // The expected lines are computed by the shell, so the echo of the typed line cannot match.
      screen.type('t=$(tty); echo "tty$((2))=$t"; test -c "$t" && echo "chr$((2))"; echo "pts$((2))=$(ls /dev/pts | grep -c .)"; echo "ctty$((2))=$(ps -o tty= -p $$)"');
      await screen.waitFor(/ctty2=.*\r\n/);
      const text = screen.text();
      assert.match(text, /tty2=\/dev\/pts\/\d+\r\n/, text);
      assert.doesNotMatch(text, /not a tty/);
      assert.match(text, /chr2\r\n/, 'the tty is a character device inside the sandbox');
      assert.match(text, /ctty2=pts\/\d+\r\n/, 'it is the shell\'s controlling terminal');
      // The sandbox's devpts holds only its own ptys (ptmx plus this shell's), never the host's.
      const count = Number(/pts2=(\d+)/.exec(text)![1]);
      assert.ok(count >= 2 && count <= 3, `sandbox /dev/pts lists ${count} entries`);
      screen.type('exit 3');
      await screen.waitFor(() => screen.exit !== undefined);
      assert.equal(screen.exit, 3);
    });

    it('passes multi-byte UTF-8 through intact', async () => {
      const screen = new Screen(await provider.openShell(s, { cols: 80, rows: 24 }));
      // Escapes in the command, so the echo of the typed line does not contain the characters.
      screen.type(String.raw`for i in $(seq 3000); do printf '\xc3\xa9\xe2\x82\xac\xf0\x9f\x9a\x80'; done; echo; echo END-$((10+1))`);
      await screen.waitFor(/END-11\r\n/);
      const text = screen.text();
      assert.equal(text.split('é€🚀').length - 1, 3000);
      assert.ok(!text.includes('\uFFFD'), 'no replacement characters');
      screen.shell.kill();
      await screen.waitFor(() => screen.exit !== undefined);
    });

    it('detach keeps the shell running; attach replays scrollback, then live output', async () => {
      const first = new Screen(await provider.openShell(s, { cols: 80, rows: 24 }));
      const id = first.shell.shell_id;
      first.type('echo before-detach; sleep 1; echo while-detached-$((6*7))');
      await first.waitFor(/before-detach\r\n/);
      first.shell.detach();
      await sleep(100);
      const listed = await provider.listShells(s);
      assert.deepEqual(listed.map((x) => [x.shell_id, x.attached]), [[id, false]]);
      await sleep(1200);
      // A restarted daemon is a new provider instance: it finds the shell through the supervisor.
      const again = new LocalComputeProvider({ home, sandbox: mode, poolSize: 0 });
      const second = new Screen(await again.openShell(s, { cols: 80, rows: 24, attach: id }));
      assert.equal(second.shell.shell_id, id);
      await second.waitFor(/before-detach[\s\S]*while-detached-42/);
      second.type('echo live-$((2+3))');
      await second.waitFor(/live-5\r\n/);
      second.shell.kill();
      await second.waitFor(() => second.exit !== undefined);
      await again.close();
    });

    it('an attached shell gets exit 137 when its shuttle is terminated', async () => {
      const t = spec([mount('vault-sh', '/workspace')]);
      await provider.launch(t);
      const screen = new Screen(await provider.openShell(t, { cols: 80, rows: 24 }));
      screen.type('echo up-$((2+2))');
      await screen.waitFor(/up-4\r\n/);
      await provider.terminate(t);
      await screen.waitFor(() => screen.exit !== undefined);
      assert.equal(screen.exit, 137);
    });

    it('pause stops output until resume (backpressure)', async () => {
      const screen = new Screen(await provider.openShell(s, { cols: 80, rows: 24 }));
      screen.type('echo ready-$((1+1))');
      await screen.waitFor(/ready-2\r\n/);
      await sleep(200);
      screen.shell.pause();
      await sleep(100);
      const before = screen.text().length;
      screen.type('echo paused-$((3+4))');
      await sleep(500);
      assert.equal(screen.text().length, before, 'no output while paused');
      screen.shell.resume();
      await screen.waitFor(/paused-7\r\n/);
      screen.shell.kill();
      await screen.waitFor(() => screen.exit !== undefined);
    });

    it('a detached shell expires after the linger window; unknown ids are 404', async () => {
      const screen = new Screen(await provider.openShell(s, { cols: 80, rows: 24 }));
      const id = screen.shell.shell_id;
      screen.shell.detach();
      await sleep(2600);
      assert.deepEqual(await provider.listShells(s), []);
      await assert.rejects(provider.openShell(s, { cols: 80, rows: 24, attach: id }), { status: 404, code: 'not_found' });
      await assert.rejects(provider.openShell(s, { cols: 80, rows: 24, attach: 'sh-000000000000' }), { status: 404 });
    });
  });
}
