// Who the shuttle's user is and the environment its commands and shells start with. Nothing of
// the daemon's own environment leaks in (it may hold the admin key).
import { userInfo } from 'node:os';
import type { LaunchSpec } from '../providers/types';

export interface SandboxUser {
  name: string;
  home: string;
}

export function sandboxUser(): SandboxUser {
  const info = userInfo();
  if (info.uid === 0) return { name: 'root', home: '/root' };
  const home = info.homedir && info.homedir !== '/' ? info.homedir : '/home/shuttle';
  return { name: info.username, home };
}

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** What every command and shell of `user` starts with, before anything about the session is known. */
export function baseEnv(user: SandboxUser): Record<string, string> {
  return { PATH: DEFAULT_PATH, HOME: user.home, USER: user.name, LOGNAME: user.name, SHELL: '/bin/bash', TERM: 'dumb', LANG: 'C.UTF-8' };
}

/** The variables sandboxEnv adds to baseEnv for a session without env of its own. */
export const SESSION_KEYS = ['HOSTNAME', 'ONMEMOS_SESSION_ID', 'ONMEMOS_SANDBOX_NAME', 'ONMEMOS_WORKSPACE_ID'] as const;

export function sandboxEnv(spec: LaunchSpec, user: SandboxUser): Record<string, string> {
  return {
    ...baseEnv(user),
    HOSTNAME: spec.sandbox_name,
    ONMEMOS_SESSION_ID: spec.session_id,
    ONMEMOS_SANDBOX_NAME: spec.sandbox_name,
    ONMEMOS_WORKSPACE_ID: spec.workspace?.workspace_id ?? '',
    ...spec.env,
  };
}
