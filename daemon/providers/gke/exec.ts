// Commands inside a shuttle pod through the Kubernetes exec API (a WebSocket the apiserver proxies
// to the kubelet). The exit status arrives as a V1Status on channel 3.
import { Writable } from 'node:stream';
import type { V1Status } from '@kubernetes/client-node';
import type { ExecOptions, ExecResult, SessionRef } from '../types.js';
import { conflict, providerUnavailable } from '../../errors.js';
import { kubeMessage, type Kube } from './kube.js';
import { CONTAINER } from './manifests.js';

/** Exit code from the channel-3 status: Success → 0; NonZeroExitCode → its ExitCode cause. */
export function exitCodeOf(status: V1Status | undefined): { code: number; message?: string } {
  if (!status) return { code: 255, message: 'the exec stream closed without an exit status' };
  if (status.status === 'Success') return { code: 0 };
  const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
  if (status.reason === 'NonZeroExitCode' && cause?.message !== undefined) return { code: Number(cause.message) };
  // Runtimes that wrap the process error (kwok's local exec does) say "exit status N" / "signal: killed".
  const msg = status.message ?? '';
  const m = /exit status (\d+)\s*$/m.exec(msg);
  if (m) return { code: Number(m[1]) };
  if (/signal: killed/.test(msg)) return { code: 137 };
  // e.g. the executable does not exist in the image: report like a shell would.
  return { code: /not found|no such file/i.test(msg) ? 127 : 126, message: msg };
}

/** argv for `execute`: env via env(1), and a hard kill inside the pod at the deadline where the image
 * has timeout(1) — closing the stream alone does not stop a process in a container. */
export function execArgv(command: string, timeoutSeconds: number, env?: Record<string, string>): string[] {
  const prefix = env && Object.keys(env).length ? ['env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`)] : [];
  const script = 'if command -v timeout >/dev/null 2>&1; then exec timeout -s KILL "$0" /bin/sh -c "$1"; else exec /bin/sh -c "$1"; fi';
  return [...prefix, '/bin/sh', '-c', script, String(timeoutSeconds), command];
}

/** A failed exec handshake as a typed error: the pod is gone (409, the session ended) or the API is not reachable (503). */
export function execFailure(session: SessionRef, err: unknown): Error {
  const msg = kubeMessage(err);
  if (/\b404\b/.test(msg)) return conflict(`the session's pod ${session.namespace}/${session.sandbox_name} is gone (ended or expired)`);
  return providerUnavailable(`exec in pod ${session.namespace}/${session.sandbox_name} failed: ${msg}`);
}

class Capped extends Writable {
  private chunks: Buffer[] = [];
  private size = 0;
  truncated = false;
  constructor(private readonly max: number) {
    super();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void) {
    const room = this.max - this.size;
    if (room > 0) {
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      this.chunks.push(Buffer.from(part));
      this.size += part.length;
    }
    if (chunk.length > room) this.truncated = true;
    done();
  }
  text() {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

export async function runExec(kube: Kube, session: SessionRef, o: ExecOptions): Promise<ExecResult> {
  const stdout = new Capped(o.max_output_bytes);
  const stderr = new Capped(o.max_output_bytes);
  const t0 = Date.now();
  let status: V1Status | undefined;
  let timedOut = false;
  const ws = await kube.exec(session.namespace, session.sandbox_name, CONTAINER, execArgv(o.command, o.timeout_seconds, o.env), stdout, stderr, null, false, (s) => {
    status = s;
  }).catch((err) => {
    throw execFailure(session, err);
  });
  await new Promise<void>((resolve) => {
    // Grace past the in-pod kill, for images without timeout(1) or a stuck stream.
    const timer = setTimeout(() => {
      timedOut = true;
      ws.close();
    }, o.timeout_seconds * 1000 + 2000);
    ws.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  const duration_ms = Date.now() - t0;
  const { code, message } = timedOut ? { code: 137, message: undefined } : exitCodeOf(status);
  // timeout -s KILL ends the command with 137 at the deadline.
  if (code === 137 && duration_ms >= o.timeout_seconds * 1000 - 250) timedOut = true;
  let err = stderr.text();
  if (message && !err.includes(message)) err += (err && !err.endsWith('\n') ? '\n' : '') + message + '\n';
  return { stdout: stdout.text(), stderr: err, exit_code: code, timed_out: timedOut, truncated: stdout.truncated || stderr.truncated, duration_ms };
}
