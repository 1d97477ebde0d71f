// This daemon's installation id: random, made once and kept in the daemon's home. Every object the
// gke provider creates carries it (manifests.ts L_INSTALLATION), so gc tells this daemon's objects
// from those of another daemon on the same cluster and GCS project.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { providerUnavailable } from '../../errors.js';

export const INSTALLATION_FILE = 'gke-installation-id';
/** Valid as a Kubernetes and as a GCS label value, so no mapping can make two ids collide. */
const VALID = /^[a-z0-9]{16,40}$/;

/** Read `<home>/gke-installation-id`, creating it (0600) on first use. */
export function loadInstallationId(home: string): string {
  const path = join(home, INSTALLATION_FILE);
  const read = () => {
    const v = readFileSync(path, 'utf8').trim();
    if (!VALID.test(v)) throw providerUnavailable(`${path} does not hold an installation id (16-40 lowercase letters and digits); restore it from a backup — objects this daemon made carry the old one and gc only collects those`);
    return v;
  };
  try {
    return read();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const id = randomBytes(10).toString('hex');
  try {
    // wx: two processes starting on one home agree on whichever id was written first.
    writeFileSync(path, id + '\n', { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return read();
    throw e;
  }
  chmodSync(path, 0o600);
  return id;
}
