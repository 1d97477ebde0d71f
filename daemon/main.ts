// The daemon: config → store → providers → services → apps → listeners. One process, two
// listeners (admin on loopback, public), one store. Prints the ready line when both are up.
import { mkdirSync, realpathSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { loadConfig, type DaemonConfig } from './config';
import { createLogger, type Logger } from './log';
import { Store } from './store';
import { HomeLockedError } from './store/lock';
import { loadAdminKey, loadTokenSecret } from './auth/keys';
import { TokenService } from './auth/tokens';
import { createAuthenticator } from './auth/authenticate';
import { createProviders } from './providers';
import { createServices, type Services } from './services';
import { createApp, route, type RouteDef } from './api/http';
import { adminRoutes } from './api/admin';
import { publicRoutes } from './api/public';
import { openApiDocument } from './api/openapi';
import { attachShellEndpoint } from './shell';

export const ADMIN_PREFIXES = ['/admin', '/admin/v1/admin'];

export interface Daemon {
  config: DaemonConfig;
  services: Services;
  admin: FastifyInstance;
  public: FastifyInstance;
  adminUrl: string;
  publicUrl: string;
  stop(): Promise<void>;
}

function withOpenApi(title: string, version: string, mounts: Array<{ prefix: string; routes: RouteDef[] }>) {
  let doc: unknown;
  const openapi = route({ method: 'GET', path: '/openapi.json', auth: 'none', tag: 'meta', summary: 'This listener\'s OpenAPI document', responses: {},
    handler: () => (doc ??= openApiDocument(title, version, mounts)) });
  return [...mounts, { prefix: '', routes: [openapi] }];
}

export async function startDaemon(config: DaemonConfig, log: Logger = createLogger()): Promise<Daemon> {
  // The home by its real path: sandboxes bind and hide its directories by path, and a symlink on the
  // way (a home on another disk, say) made every launch fail.
  mkdirSync(config.home, { recursive: true, mode: 0o700 });
  config = { ...config, home: realpathSync(config.home) };
  const store = await Store.open(config.home, log);
  try {
    const { key: adminKey, source, path: keyPath } = loadAdminKey(config.home, config.adminKey);
    const tokens = new TokenService(loadTokenSecret(config.home));
    const providers = await createProviders(config, log);
    const services = createServices({ config, log, store, tokens, ...providers });
    const auth = createAuthenticator({ adminKey, store, authenticatePassport: (s) => services.users.authenticate(s) });

    const adminMounts = withOpenApi('OnMemOS admin API', config.version, ADMIN_PREFIXES.map((prefix) => ({ prefix, routes: adminRoutes(services) })));
    const publicMounts = withOpenApi('OnMemOS public API', config.version, [{ prefix: '', routes: publicRoutes(services) }]);
    const admin = createApp({ name: 'admin', log, authenticate: auth.authenticate, mounts: adminMounts });
    const pub = createApp({ name: 'public', log, authenticate: auth.authenticate, mounts: publicMounts });
    const shells = attachShellEndpoint(pub.server, { services, auth, tokens, log });

    const reconciled = await services.sessions.reconcile();
    if (reconciled.alive || reconciled.ended || reconciled.orphans) log.info('sessions reconciled', reconciled);

    await admin.listen({ host: config.adminHost, port: config.adminPort });
    await pub.listen({ host: config.host, port: config.publicPort });
    const url = (app: FastifyInstance) => {
      const a = app.server.address();
      if (!a || typeof a === 'string') throw new Error('listener has no address');
      const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
      return `http://${host}:${a.port}`;
    };

    let sweeps = 0;
    let sweeping = false;
    const timer = setInterval(() => {
      if (sweeping) return;
      sweeping = true;
      services.sessions.sweep(++sweeps % 5 === 0).catch((e) => log.error('sweep failed', { error: (e as Error).message }))
        .finally(() => { sweeping = false; });
    }, config.sweepIntervalMs);
    timer.unref();

    log.info('daemon started', { home: config.home, provider: config.provider, admin_key: source === 'env' ? 'from ONMEMOS_INTERNAL_API_KEY' : keyPath });
    let stopping: Promise<void> | null = null;
    return {
      config, services, admin, public: pub, adminUrl: url(admin), publicUrl: url(pub),
      stop: () => (stopping ??= (async () => {
        clearInterval(timer);
        shells.close();
        await Promise.allSettled([admin.close(), pub.close()]);
        await providers.compute.close();
        await store.close();
      })()),
    };
  } catch (e) {
    await store.close();
    throw e;
  }
}

async function main() {
  const log = createLogger();
  let config: DaemonConfig;
  try {
    config = loadConfig();
  } catch (e) {
    process.stderr.write(`onmemos: ${(e as Error).message}\n`);
    process.exit(2);
  }
  let daemon: Daemon;
  try {
    daemon = await startDaemon(config, log);
  } catch (e) {
    if (e instanceof HomeLockedError) {
      process.stderr.write(`onmemos: ${e.message}\n`);
      process.exit(3);
    }
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EADDRINUSE') {
      process.stderr.write(`onmemos: port in use (${err.message}); pick others with --admin-port/--public-port (0 = any free port)\n`);
      process.exit(4);
    }
    process.stderr.write(`onmemos: failed to start: ${err.stack ?? err.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`onmemos daemon ready admin=${daemon.adminUrl} public=${daemon.publicUrl}\n`);
  const shutdown = (signal: string) => {
    log.info('shutting down', { signal });
    daemon.stop().then(() => process.exit(0), (e) => { log.error('shutdown failed', { error: String(e) }); process.exit(1); });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

if (require.main === module) void main();
