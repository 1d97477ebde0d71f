// Daemon configuration from flags and environment (flags win). Pure: no I/O besides reading argv/env.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

export interface DaemonConfig {
  home: string;
  host: string;
  /** Host the admin listener binds; loopback unless configured (ONMEMOS_ADMIN_HOST / --admin-host). */
  adminHost: string;
  adminPort: number;
  publicPort: number;
  provider: 'local' | 'gke';
  adminKey?: string;
  autoProvisionIdentity: boolean;
  gcpProject?: string;
  gkeRegion?: string;
  gkeCluster?: string;
  /** Seconds between TTL sweeps. */
  sweepIntervalMs: number;
  /** Cap on each of stdout/stderr returned by execute. */
  maxOutputBytes: number;
  /** Live (pending or running) shuttles one user may have; 0: no cap. */
  maxLiveShuttlesPerUser: number;
  /** Length of a TTL minute in ms; 60000 except in tests (ONMEMOS_TEST_MINUTE_MS) that need TTLs to pass quickly. */
  minuteMs: number;
  version: string;
}

export const VERSION = '0.1.0';

function port(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${name} must be a port number 0-65535, got "${value}"`);
  return n;
}

/** A user's live shuttles by default: each is ~100 MB on local (a supervisor and an agent, both Node). */
export const DEFAULT_MAX_SHUTTLES_PER_USER = 20;

function count(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number (0: no limit), got "${value}"`);
  return n;
}

const truthy = (v: string | undefined) => v !== undefined && /^(1|true|yes|on)$/i.test(v);

export function loadConfig(argv: string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): DaemonConfig {
  const { values } = parseArgs({
    args: argv,
    options: {
      home: { type: 'string' },
      'admin-port': { type: 'string' },
      'public-port': { type: 'string' },
      host: { type: 'string' },
      'admin-host': { type: 'string' },
      provider: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(
      'usage: node dist/daemon.js [--home DIR] [--admin-port N] [--public-port N] [--host H] [--admin-host H] [--provider local|gke]\n' +
        'env: ONMEMOS_HOME ONMEMOS_ADMIN_PORT ONMEMOS_PUBLIC_PORT ONMEMOS_HOST ONMEMOS_ADMIN_HOST ONMEMOS_INTERNAL_API_KEY\n' +
        '     ONMEMOS_PROVIDER AUTO_PROVISION_IDENTITY GCP_PROJECT GKE_REGION GKE_CLUSTER ONMEMOS_MAX_SHUTTLES_PER_USER\n',
    );
    process.exit(0);
  }
  const provider = (values.provider ?? env.ONMEMOS_PROVIDER ?? 'local') as string;
  if (provider !== 'local' && provider !== 'gke') throw new Error(`--provider must be local or gke, got "${provider}"`);
  const host = values.host ?? env.ONMEMOS_HOST ?? '127.0.0.1';
  return {
    home: resolve(values.home ?? env.ONMEMOS_HOME ?? join(homedir(), '.onmemos')),
    host,
    adminHost: values['admin-host'] ?? env.ONMEMOS_ADMIN_HOST ?? '127.0.0.1',
    adminPort: port(values['admin-port'] ?? env.ONMEMOS_ADMIN_PORT, 8001, 'admin port'),
    publicPort: port(values['public-port'] ?? env.ONMEMOS_PUBLIC_PORT, 8080, 'public port'),
    provider,
    adminKey: env.ONMEMOS_INTERNAL_API_KEY || undefined,
    autoProvisionIdentity: truthy(env.AUTO_PROVISION_IDENTITY),
    gcpProject: env.GCP_PROJECT || undefined,
    gkeRegion: env.GKE_REGION || undefined,
    gkeCluster: env.GKE_CLUSTER || undefined,
    sweepIntervalMs: Number(env.ONMEMOS_SWEEP_MS ?? 2000),
    maxOutputBytes: Number(env.ONMEMOS_MAX_OUTPUT_BYTES ?? 1024 * 1024),
    maxLiveShuttlesPerUser: count(env.ONMEMOS_MAX_SHUTTLES_PER_USER, DEFAULT_MAX_SHUTTLES_PER_USER, 'ONMEMOS_MAX_SHUTTLES_PER_USER'),
    minuteMs: Number(env.ONMEMOS_TEST_MINUTE_MS) > 0 ? Number(env.ONMEMOS_TEST_MINUTE_MS) : 60_000,
    version: VERSION,
  };
}
