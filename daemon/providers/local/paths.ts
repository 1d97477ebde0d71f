// Where the local provider keeps things under the daemon's home. The lead's storage code creates
// vault/drive backing directories with storageDir(); sandboxes live under sandboxDir() and are
// removed on terminate.
import { join } from 'node:path';

export function storageRoot(home: string): string {
  return join(home, 'storage');
}

/** Backing directory of a vault (bucket) or drive (filestore): `<home>/storage/<resource_id>`. */
export function storageDir(home: string, resource_id: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(resource_id)) throw new Error(`invalid resource id: ${resource_id}`);
  return join(storageRoot(home), resource_id);
}

export function sandboxesRoot(home: string): string {
  return join(home, 'sandboxes');
}

/** Per-session scratch and runtime directory: `<home>/sandboxes/<sandbox_name>`. */
export function sandboxDir(home: string, sandbox_name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(sandbox_name)) throw new Error(`invalid sandbox name: ${sandbox_name}`);
  return join(sandboxesRoot(home), sandbox_name);
}

/** Idle pre-spawned supervisors (the warm pool) put their sockets here. */
export function poolDir(home: string): string {
  return join(sandboxesRoot(home), '.pool');
}

/** Ended sandboxes' scratch dirs, renamed here at terminate and removed in the background. */
export function endedDir(home: string): string {
  return join(sandboxesRoot(home), '.ended');
}

export const SOCKET_NAME = 'supervisor.sock';
export const STATE_NAME = 'state.json';

export function socketPath(home: string, sandbox_name: string): string {
  return join(sandboxDir(home, sandbox_name), SOCKET_NAME);
}

/** The in-sandbox exec agent's socket under a sandbox (or pool member) dir: `<dir>/run/agent.sock` (read-only inside). */
export function agentSocketIn(dir: string): string {
  return join(dir, 'run', 'agent.sock');
}

export function agentSocketPath(home: string, sandbox_name: string): string {
  return agentSocketIn(sandboxDir(home, sandbox_name));
}

export function statePath(home: string, sandbox_name: string): string {
  return join(sandboxDir(home, sandbox_name), STATE_NAME);
}

/** Unix socket paths are limited to 107 bytes on Linux. */
export const MAX_SOCKET_PATH = 107;
