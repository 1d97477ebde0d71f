// Entry point that the extension host loads (extensionTestsPath). Runs the mocha suites and
// writes results to $ONMEMOS_EXT_RESULTS (the console only carries raw format strings there).
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Mocha from 'mocha';

function fileReporter(file: string) {
  return class FileReporter extends Mocha.reporters.Base {
    constructor(runner: Mocha.Runner, options: Mocha.MochaOptions) {
      super(runner, options);
      writeFileSync(file, '');
      const line = (s: string) => appendFileSync(file, `${s}\n`);
      runner.on('pass', (t) => line(`  ok   ${t.fullTitle()} (${t.duration ?? 0} ms)`));
      runner.on('fail', (t, err: Error) => line(`  FAIL ${t.fullTitle()}\n       ${(err.stack ?? err.message).split('\n').slice(0, 8).join('\n       ')}`));
      runner.on('pending', (t) => line(`  skip ${t.fullTitle()}`));
      runner.once('end', () => line(`${this.stats.passes} passed, ${this.stats.failures} failed, ${this.stats.pending} skipped`));
    }
  };
}

export function run(): Promise<void> {
  const results = process.env.ONMEMOS_EXT_RESULTS ?? join(__dirname, 'results.txt');
  const mocha = new Mocha({ ui: 'bdd', timeout: 120_000, reporter: fileReporter(results) as never });
  mocha.suite.emit('pre-require', globalThis, 'suites.js', mocha);
  // The suites are a separate bundle, loaded after mocha's globals (describe, it) exist.
  require(join(__dirname, 'suites.js'));
  return new Promise((resolve, reject) => {
    try {
      mocha.run((failures) => (failures ? reject(new Error(`${failures} test(s) failed`)) : resolve()));
    } catch (e) { reject(e); }
  });
}
