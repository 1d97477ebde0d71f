// Pick the providers from config. `local` is embedded; `gke` is loaded only when asked for
// (the Kubernetes and GCS clients are large and not needed on the local provider).
import type { DaemonConfig } from '../config';
import type { Logger } from '../log';
import type { IdentityProvisioner } from '../services/context';
import type { ComputeProvider, StorageProvider } from './types';
import { DirectoryStorageProvider } from './dir-storage';
import { LocalComputeProvider } from './local';

export interface Providers {
  compute: ComputeProvider;
  storage: StorageProvider;
  ensureIdentity?: IdentityProvisioner;
  gc?: import('../services/context').ServiceContext['gc'];
}

export async function createProviders(config: DaemonConfig, log: Logger): Promise<Providers> {
  if (config.provider === 'gke') {
    // dist/gke.js is its own bundle (esbuild.mjs): the Kubernetes and GCS clients are megabytes
    // that the local provider never needs to parse.
    const { createGkeProviders } = require(require('node:path').join(__dirname, 'gke.js')) as typeof import('./gke');
    return createGkeProviders({
      home: config.home,
      project: config.gcpProject, region: config.gkeRegion, cluster: config.gkeCluster,
      autoProvisionIdentity: config.autoProvisionIdentity,
      log: (event: string, fields?: Record<string, unknown>) => log.info(event, { provider: 'gke', ...fields }),
    }) as unknown as Providers;
  }
  return {
    compute: new LocalComputeProvider({ home: config.home, log: log.child({ provider: 'local' }) }),
    storage: new DirectoryStorageProvider(config.home),
  };
}
