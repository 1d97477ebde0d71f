// `npm run bench`: every benchmark, one table. Each figure is a ratio to a baseline measured in the
// same run (this machine is noisy), with the absolute numbers beside it. Not a test: never gates CI.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { printTable, type Row } from './lib';
import { runApiBench } from './api';

async function main() {
  const rows: Row[] = [];
  const started = Date.now();
  rows.push(...(await runApiBench()));
  for (const mod of ['shell', 'local-provider', 'load']) {
    const file = join(__dirname, `${mod}.ts`);
    if (!existsSync(file)) continue;
    const m = await import(file);
    const fn = m.run ?? m.default?.run;
    if (typeof fn === 'function') rows.push(...(await fn()));
  }
  console.log(`\nonmemos bench (${new Date().toISOString()}, node ${process.version}, ${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
  printTable(rows);
}

main().catch((e) => { console.error(e); process.exit(1); });
