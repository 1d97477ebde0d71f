// The fuzz tier (scripts/test.mjs runs it; also `npm run fuzz`): schemathesis (PyPI) against the
// OpenAPI documents both listeners serve at GET /openapi.json, authenticated, every operation.
// A real daemon on port 0 with a temp home; a user, passport, workspace, credits, vault, drive and
// running shuttles are created first and offered to the generator (schemathesis dictionaries), so
// operations on ids hit real objects as well as random ones.
// Checks: no 5xx, response schema conformance, status code and content type conformance, auth not
// ignored (no or bad credentials get 401), schema-invalid data rejected.
// Exit 0 = passed, 77 = skipped (python3/venv missing, not CI), anything else = failed.
//   ONMEMOS_FUZZ_EXAMPLES=N  cases per operation and phase (default 40)
//   ONMEMOS_FUZZ_SEED=N      reproduce a run (the seed is printed)
//   ONMEMOS_FUZZ_CHECKS=...  schemathesis checks (default: the six above; `all` for every one)
//   ONMEMOS_FUZZ_KEEP=1      keep the run folder (reports, daemon log)
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { killShuttles } from '../helpers/shuttles.mjs';
import { existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync, readFileSync, readdirSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const VERSION = '4.32.5';
const CI = process.env.CI === 'true';
const EXAMPLES = Number(process.env.ONMEMOS_FUZZ_EXAMPLES ?? 40);
// CI uses a fixed seed (a run that lands must be repeatable); elsewhere each run explores a new one.
const SEED = Number(process.env.ONMEMOS_FUZZ_SEED ?? (process.env.CI === 'true' ? 1237886603 : Math.floor(Math.random() * 2 ** 31)));
const CHECKS = process.env.ONMEMOS_FUZZ_CHECKS ?? 'not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance,ignored_auth,negative_data_rejection';

function skip(why) {
  const line = `fuzz tier: ${why}`;
  if (CI) { console.error(`FAILED ${line}`); process.exit(1); }
  console.error(`\n!!!!! SKIPPED ${line}\n`);
  process.exit(77);
}

// ---------- schemathesis in a cached venv ----------
function schemathesis() {
  const tools = process.env.ONMEMOS_TOOLS || join(homedir(), '.cache', 'onmemos-tools');
  const venv = join(tools, `schemathesis-${VERSION}`);
  const bin = join(venv, 'bin', 'schemathesis');
  // A venv whose Python went away (upgraded, removed) is rebuilt rather than failing the tier.
  if (existsSync(join(venv, '.complete')) && spawnSync(bin, ['--version'], { stdio: 'ignore' }).status === 0) return bin;
  const py = spawnSync('python3', ['-c', 'import venv, ensurepip'], { stdio: 'ignore' });
  if (py.status !== 0) skip('needs python3 with venv and ensurepip (apt-get install -y python3-venv)');
  console.log(`fuzz: installing schemathesis ${VERSION} into ${venv} (pip, once)`);
  mkdirSync(tools, { recursive: true });
  rmSync(venv, { recursive: true, force: true });
  const steps = [['python3', ['-m', 'venv', venv]], [join(venv, 'bin', 'pip'), ['install', '-q', `schemathesis==${VERSION}`]]];
  for (const [cmd, args] of steps) {
    const r = spawnSync(cmd, args, { stdio: 'inherit' });
    if (r.status !== 0) { rmSync(venv, { recursive: true, force: true }); skip(`could not install schemathesis ${VERSION} with pip (PyPI unreachable?)`); }
  }
  writeFileSync(join(venv, '.complete'), `${VERSION}\n`);
  return bin;
}

// ---------- the daemon ----------
async function startDaemon(dir) {
  const daemon = join(root, 'dist', 'daemon.js');
  if (!existsSync(daemon)) throw new Error(`${daemon} is missing: run \`npm run build\``);
  const adminKey = `fuzz-admin-${randomBytes(16).toString('hex')}`;
  const home = join(dir, 'home');
  const proc = spawn(process.execPath, [daemon, '--home', home, '--admin-port', '0', '--public-port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env, ONMEMOS_INTERNAL_API_KEY: adminKey,
      // schemathesis sends requests without or with wrong credentials on purpose; keep them from tripping the throttle.
      ONMEMOS_AUTH_FAILURES_PER_MINUTE: '1000000',
    },
  });
  const logs = [];
  createInterface({ input: proc.stderr }).on('line', (l) => logs.push(l));
  const exited = new Promise((r) => proc.on('exit', (code, sig) => r(sig ?? code)));
  const ready = await new Promise((res, rej) => {
    const t = setTimeout(() => rej(new Error(`daemon not ready in 30 s:\n${logs.join('\n')}`)), 30_000);
    createInterface({ input: proc.stdout }).on('line', (line) => {
      const m = /^onmemos daemon ready admin=(\S+) public=(\S+)$/.exec(line);
      if (m) { clearTimeout(t); res({ admin: m[1], pub: m[2] }); }
    });
    exited.then((c) => { clearTimeout(t); rej(new Error(`daemon exited (${c}) before ready:\n${logs.join('\n')}`)); });
  });
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
    const c = await exited;
    clearTimeout(timer);
    return c;
  };
  return { ...ready, adminKey, proc, logs, exited, stop };
}

async function call(base, path, key, method = 'GET', body) {
  const res = await fetch(base + path, {
    method, headers: { 'x-api-key': key, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** Real objects for the generator to use: two users' worth, so DELETEs don't starve the rest. */
async function fixtures(d, tag) {
  const A = (p, m, b) => call(d.admin, `/admin${p}`, d.adminKey, m, b);
  const ids = { user_id: [], passport_id: [], workspace_id: [], resource_id: [], session_id: [], product_id: [], price_id: [] };
  const passports = [];
  for (let i = 0; i < 2; i++) {
    const { user } = await A('/users', 'POST', { email: `fuzz-${tag}-${i}@example.com`, name: `fuzz ${i}` });
    const p = await A('/passports', 'POST', { user_id: user.user_id, name: 'fuzz' });
    await A('/credits/add', 'POST', { user_id: user.user_id, amount: 100000 });
    const { workspace } = await A('/workspaces', 'POST', { user_id: user.user_id, name: 'fuzz' });
    ids.user_id.push(user.user_id); ids.passport_id.push(p.passport_id); ids.workspace_id.push(workspace.workspace_id);
    passports.push(p.passport_key);
    if (i === 0) {
      const P = (path, m, b) => call(d.pub, path, p.passport_key, m, b);
      const vault = await P('/v1/storage/buckets', 'POST', { workspace_id: workspace.workspace_id, name: 'fuzz-vault' });
      const drive = await P('/v1/storage/filestores', 'POST', { workspace_id: workspace.workspace_id, name: 'fuzz-drive' });
      ids.resource_id.push(vault.resource_id, drive.resource_id);
      for (let s = 0; s < 2; s++) {
        const { session } = await P('/v1/sessions', 'POST', { workspace_id: workspace.workspace_id, ttl_minutes: 30 });
        ids.session_id.push(session.session_id);
      }
    }
  }
  const product = await A('/products', 'POST', { name: 'fuzz credits', credits: 10 });
  const price = await A('/prices', 'POST', { product_id: product.product_id, amount_cents: 100 });
  ids.product_id.push(product.product_id); ids.price_id.push(price.price_id);
  return { ids, passport: passports[0] };
}

function toml(ids, { key, header }) {
  const q = (s) => JSON.stringify(String(s));
  const lines = [
    `headers = { ${q(header)} = ${q(key)} }`,
    'request-timeout = 60',
    'generation.max-examples = ' + EXAMPLES,
    'generation.allow-x00 = true',
    'continue-on-failure = true',
    '',
  ];
  for (const [name, values] of Object.entries(ids)) {
    if (values.length) lines.push(`[dictionaries.${name}]`, `values = [${values.map(q).join(', ')}]`, '');
  }
  lines.push('[parameters]');
  for (const [name, values] of Object.entries(ids)) {
    if (!values.length) continue;
    for (const where of ['path', 'query', 'body']) lines.push(`${q(`${where}.${name}`)} = { dictionary = ${q(name)}, probability = 0.6 }`);
  }
  // dock_id is the seed's alias of workspace_id.
  for (const where of ['query', 'body']) lines.push(`${q(`${where}.dock_id`)} = { dictionary = "workspace_id", probability = 0.6 }`);
  // Invalid data may also be rejected for its size: a body over 1 MiB is 413, a head over 1 MiB 431
  // (documented on every operation); schemathesis' default list lacks both.
  lines.push('', '[checks.negative_data_rejection]',
    'expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "431", "5xx"]');
  return lines.join('\n') + '\n';
}

async function runSchemathesis(bin, name, url, cfgPath, reportDir) {
  const args = [
    '--config-file', cfgPath, 'run', `${url}/openapi.json`,
    '--checks', CHECKS,
    '--phases', 'examples,coverage,fuzzing',
    '--seed', String(SEED), '--workers', '1', '--no-color',
    '--report', 'junit,ndjson', '--report-dir', reportDir,
  ];
  console.log(`\nfuzz: ${name}: schemathesis ${args.join(' ')}`);
  const t0 = Date.now();
  const r = await new Promise((res) => {
    const child = spawn(bin, args, { stdio: 'inherit', env: { ...process.env, SCHEMATHESIS_HOOKS: '' } });
    const limit = setTimeout(() => { console.error(`fuzz: ${name}: still running after 10 min, killing it`); child.kill('SIGKILL'); }, 10 * 60_000);
    child.on('exit', (c, sig) => { clearTimeout(limit); res(sig ? 1 : c ?? 1); });
  });
  return { code: r, seconds: (Date.now() - t0) / 1000 };
}

function countCases(reportDir) {
  let cases = 0;
  for (const f of readdirSync(reportDir).filter((x) => x.endsWith('.ndjson'))) {
    for (const line of readFileSync(join(reportDir, f), 'utf8').split('\n')) {
      if (!line) continue;
      try {
        const ev = JSON.parse(line);
        const s = ev.ScenarioFinished ?? ev.scenario_finished;
        if (s?.recorder?.cases) cases += Object.keys(s.recorder.cases).length;
      } catch { /* partial line */ }
    }
  }
  return cases;
}

const bin = schemathesis();
const dir = mkdtempSync(join(tmpdir(), 'onmemos-fuzz-'));
let d;
let code = 1;
const t0 = Date.now();
try {
  d = await startDaemon(dir);
  console.log(`fuzz: daemon admin=${d.admin} public=${d.pub}; seed ${SEED}; ${EXAMPLES} examples per operation (ONMEMOS_FUZZ_SEED=${SEED} reproduces)`);
  const results = [];
  for (const name of ['admin', 'public']) {
    // Fresh objects for each listener: the admin run deletes users, passports and workspaces.
    const { ids, passport } = await fixtures(d, name);
    const [url, key] = name === 'admin' ? [d.admin, d.adminKey] : [d.pub, passport];
    const cfg = join(dir, `${name}.toml`);
    writeFileSync(cfg, toml(ids, { key, header: 'X-API-Key' }));
    const reportDir = join(dir, `report-${name}`);
    const r = await runSchemathesis(bin, name, url, cfg, reportDir);
    results.push({ name, ...r, cases: countCases(reportDir) });
    if (d.proc.exitCode !== null || d.proc.signalCode !== null) throw new Error(`daemon died during the ${name} run`);
  }
  const unhandled = d.logs.filter((l) => /"unhandled error"|"level":"error"/.test(l));
  if (unhandled.length) console.error(`fuzz: the daemon logged ${unhandled.length} error line(s):\n${unhandled.slice(0, 20).join('\n')}`);
  const stopped = await d.stop();
  if (stopped !== 0) console.error(`fuzz: daemon exited with ${stopped} on SIGTERM`);
  console.log('\n=== fuzz summary');
  for (const r of results) console.log(`  ${r.name.padEnd(7)} ${r.code === 0 ? 'passed' : 'FAILED'}  ${r.cases} cases  ${r.seconds.toFixed(1)} s`);
  console.log(`  total ${((Date.now() - t0) / 1000).toFixed(1)} s, seed ${SEED}`);
  code = results.every((r) => r.code === 0) && !unhandled.length && stopped === 0 ? 0 : 1;
} catch (e) {
  console.error(`fuzz: ${e.stack ?? e}`);
  if (d) console.error(d.logs.slice(-40).join('\n'));
} finally {
  if (d) await d.stop();
  killShuttles(join(dir, 'home')); // every session schemathesis launched outlives the daemon by design
  if (process.env.ONMEMOS_FUZZ_KEEP || code !== 0) console.log(`fuzz: run folder kept: ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
process.exit(code);
