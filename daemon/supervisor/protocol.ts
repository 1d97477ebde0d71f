// What the daemon (LocalComputeProvider) and a per-shuttle supervisor say to each other over the
// supervisor's Unix socket. HTTP/1.1 with JSON bodies:
//   GET  /health                      -> Health
//   POST /launch    LaunchRequest     -> Health   (an idle pool member becomes a shuttle)
//   POST /adopt     {launch, started_at} -> Health (the daemon set the warm sandbox up itself: direct.ts)
//   POST /exec      ExecRequest       -> ExecResult
//   POST /terminate                   -> {ok: true}, then the supervisor exits
//   POST /exit                        -> idle pool members only: exit
//   GET  /shells                      -> {shells: ShellInfo[]}
//   GET  /shell?cols&rows&attach=ID   WebSocket upgrade: a pty (404 when ID is unknown/expired)
// Shell WebSocket frames: binary = pty bytes both ways. Text = JSON control:
//   client -> {type:"resize",cols,rows} | {type:"pause"} | {type:"resume"} | {type:"detach"} | {type:"kill"}
//   server -> {type:"hello",shell_id} first, then {type:"exit",code} | {type:"error",message}
// Errors: {error: {code, message}} with the HTTP status of the matching ApiError.
import { setFlagsFromString } from 'node:v8';
import type { ExecOptions, LaunchSpec } from '../providers/types';

export type SandboxMode = 'bwrap' | 'unshare';

/**
 * Called by the exec agent once booted and idle. It is a fresh process whose first command and
 * first shell run code that never ran before; with feedback vectors allocated at a function's first
 * call (instead of after several) that first run already gets inline caches: a shuttle's first
 * command ~2 ms faster (9 -> 7 ms through the API). Not as a command-line flag: for the boot itself
 * (all the bundle's one-off functions) it costs more than it gives (a warm pool member's boot
 * 150-200 -> 240-400 ms). Not in the supervisor: its launch got slower with it (A/B, 3 runs each:
 * 13.7-14.4 ms with, 12.1-13.1 without), the first request's parsing allocating for every function.
 */
export function eagerFeedback(): void {
  setFlagsFromString('--no-lazy-feedback-allocation');
}

export const AGENT_SOCKET_INSIDE = '/run/onmemos/run/agent.sock';
/** Beside the agent's socket (host side: `<scratch>/run/`): the session, written at launch (agent.ts). */
export const AGENT_SESSION_FILE = 'session.json';

/** What the exec agent needs to know of its session. */
export interface AgentSession {
  cwd: string;
  env: Record<string, string>;
  shell_linger_ms: number;
  scrollback_bytes: number;
}

/** Absolute paths of the host tools, resolved by the daemon. */
export interface Tools {
  bwrap?: string;
  unshare?: string;
  nsenter: string;
  setpriv: string;
  /** util-linux `script`: gives shells a pty from the sandbox's own devpts (a real ttyname). */
  script?: string;
  /** perl: the session's setup in one waiting process (stage.ts perlSetupArgv); without it, a program per step. */
  perl?: string;
}

export interface LaunchRequest {
  spec: LaunchSpec;
  mode: SandboxMode;
  userns: boolean;
  tools: Tools;
  /** Host directory of each mount's resource_id (the provider resolves storageDir). */
  sources: Record<string, string>;
  /** Seconds a detached shell lingers for reattachment. */
  shell_linger_seconds: number;
  scrollback_bytes: number;
}

export type ExecRequest = ExecOptions;

export interface Health {
  status: 'idle' | 'running' | 'terminating';
  pid: number;
  sandbox_name?: string;
  session_id?: string;
  mode?: SandboxMode;
  init_pid?: number;
  /** The init's start time (/proc/<pid>/stat): with init_pid, that process and no later one. */
  init_start?: string;
  expires_at?: string;
  started_at?: string;
}

/**
 * What an idle pool member with a warm sandbox set up by the one-process setup tells the daemon on
 * its ready line (`ready <json>`), so the daemon can launch on it directly (providers/local/direct.ts).
 */
export interface WarmMember {
  init_pid: number;
  init_start?: string;
  mode: SandboxMode;
  /** The warm sandbox's mount plan without session storage (JSON): a launch whose plan differs cannot use it. */
  base: string;
}

/** Written to `<sandbox dir>/state.json` so a restarted daemon can find (or clean up) a shuttle. */
export interface SupervisorState {
  pid: number;
  init_pid: number;
  init_start?: string;
  socket: string;
  sandbox_name: string;
  session_id: string;
  mode: SandboxMode;
  expires_at: string;
  started_at: string;
}

/** Exit code reported for a command killed at its timeout (as coreutils `timeout`). */
export const TIMEOUT_EXIT_CODE = 124;
