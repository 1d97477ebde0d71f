// The provider interfaces. `local` and `gke` are peers that know nothing of HTTP; services call
// them and the daemon picks one from config. Errors: throw ApiError (daemon/errors.ts), e.g.
// providerUnavailable(...) when the machine/cluster cannot run sessions, with what to install.
import type { Duplex } from 'node:stream';

export type AccessMode = 'RW' | 'RO';
export type StorageType = 'bucket' | 'filestore';

/** One storage resource attached to a session, as the sandbox/pod sees it. */
export interface MountSpec {
  resource_id: string;
  type: StorageType;
  name: string;
  mount_path: string;
  access_mode: AccessMode;
}

export interface Template {
  id: string;
  name: string;
  image: string;
  cpu: string; // Kubernetes quantity, e.g. "500m"
  memory: string; // e.g. "1Gi"
  description: string;
}

export interface WorkspaceRef {
  workspace_id: string;
  user_id: string;
  name: string;
  k8s_namespace: string;
  ksa_name: string;
  gsa_email: string;
}

/** What a provider needs to find a running session again (all fields are in the session record). */
export interface SessionRef {
  session_id: string;
  /** The sandbox (local) or pod (gke) name; the API's `pod_name`. */
  sandbox_name: string;
  /** The workspace's namespace name; the API's `k8s_namespace`. */
  namespace: string;
}

export interface LaunchSpec extends SessionRef {
  workspace: WorkspaceRef;
  template: Template;
  env: Record<string, string>;
  mounts: MountSpec[];
  ttl_minutes: number;
  /** ISO time at which the provider must end the session by itself (TTL), even if the daemon is down. */
  expires_at: string;
}

export interface ExecOptions {
  command: string;
  timeout_seconds: number;
  env?: Record<string, string>;
  /** Cap on each of stdout and stderr, bytes; beyond it output is dropped and `truncated` set. */
  max_output_bytes: number;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  exit_code: number;
  timed_out: boolean;
  truncated: boolean;
  duration_ms: number;
}

export type Progress = (message: string) => void;

/** A live terminal inside a session (a pty in its namespace). */
export interface ShellStream {
  readonly shell_id: string;
  write(data: Buffer | string): void;
  resize(cols: number, rows: number): void;
  /** Output bytes; scrollback first when attaching. */
  onData(listener: (chunk: Buffer) => void): void;
  onExit(listener: (code: number) => void): void;
  /** Backpressure: stop/resume reading the pty. */
  pause(): void;
  resume(): void;
  /** Detach this client; the shell lingers for reattachment. */
  detach(): void;
  /** End the shell. */
  kill(): void;
}

export interface ShellInfo {
  shell_id: string;
  created_at: string;
  attached: boolean;
  cols: number;
  rows: number;
}

/** A connected shell server socket (see ComputeProvider.connectShell); `head`: bytes already read from it. */
export interface ShellSocket {
  socket: Duplex;
  head: Buffer;
}

export interface ComputeProvider {
  readonly name: 'local' | 'gke';
  /** Throw providerUnavailable with what to install/configure if sessions cannot run here. */
  check(): Promise<void>;
  launch(spec: LaunchSpec, progress?: Progress): Promise<void>;
  execute(session: SessionRef, options: ExecOptions): Promise<ExecResult>;
  /** Kill everything of the session and remove its scratch space. Idempotent. */
  terminate(session: SessionRef): Promise<void>;
  /** Is the session's sandbox/pod still running? */
  isAlive(session: SessionRef): Promise<boolean>;
  openShell?(session: SessionRef, options: { cols: number; rows: number; attach?: string }): Promise<ShellStream>;
  /**
   * The same shell as a bare socket speaking onmemos.pty.v1 after the handshake, for the public
   * endpoint to splice to its client without parsing frames (local: the agent's own WebSocket).
   * Rejects with 404 for an unknown `attach`, 409 when the shuttle cannot serve shells.
   */
  connectShell?(session: SessionRef, options: { cols: number; rows: number; attach?: string; heartbeatMs?: number }): Promise<ShellSocket>;
  listShells?(session: SessionRef): Promise<ShellInfo[]>;
  /**
   * At start: end every sandbox no live record names (a daemon stopped between starting one and
   * its record becoming durable: launch writes both at once). Returns their names. (gke: admin /gc.)
   */
  sweepOrphans?(live: Set<string>): Promise<string[]>;
  /** Release provider resources (not sessions) at daemon shutdown. */
  close(): Promise<void>;
}

export interface StorageProvider {
  /** Make sure the workspace's identity/home exists (namespace+KSA on gke, directory on local). */
  ensureWorkspace(workspace: WorkspaceRef): Promise<Record<string, unknown>>;
  deleteWorkspace(workspace: WorkspaceRef): Promise<void>;
  /** Create the backing store of a vault (bucket) or drive (volume). Idempotent. */
  createResource(workspace: WorkspaceRef, resource: { resource_id: string; name: string; type: StorageType; size_gb: number }): Promise<{ backing_name: string }>;
  deleteResource(workspace: WorkspaceRef, resource: { resource_id: string; name: string; type: StorageType; backing_name: string }): Promise<void>;
}
