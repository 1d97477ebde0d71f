// `npm run bench`: every benchmark, one table. Each figure is a ratio to a baseline measured in the
// same run (this machine is noisy), with the absolute numbers beside it. Not a test: never gates CI.
import { printTable, type Row } from './lib';
import { runApiBench } from './api';
import { run as runLoadBench } from './load';
import { run as runLocalProviderBench } from './local-provider';
import { run as runShellBench } from './shell';

async function main() {
  const rows: Row[] = [];
  const started = Date.now();
  rows.push(...(await runApiBench()));
  for (const run of [runShellBench, runLocalProviderBench, runLoadBench]) rows.push(...(await run()));
  console.log(`\nonmemos bench (${new Date().toISOString()}, node ${process.version}, ${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
  printTable(rows);
}

main().catch((e) => { console.error(e); process.exit(1); });
