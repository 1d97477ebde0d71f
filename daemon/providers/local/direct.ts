// A launch with no supervisor on its path. A pool member's warm sandbox waits in its one-process
// setup (supervisor/stage.ts) on a FIFO in the member's run dir; the daemon writes the session's
// setup line there itself, reads `launched` back, writes the agent's session and state.json, and
// renames the member's scratch dir to the sandbox's. Then it sends the supervisor POST /adopt and
// waits only until the request is with the kernel; the supervisor takes the shuttle on from there
// (socket, shells, TTL) while the launch answers.
// Two process hops and the supervisor's own work leave the launch this way: through the API, paced
// 1 s apart on 2 cores, launch 12.6-14.0 -> 8.4-9.5 ms (interleaved A/B in one run).
// Used when the member says it can (its ready line: WarmMember) and the launch's mount plan is the
// warm sandbox's; everything else goes to the supervisor (POST /launch) as before.
import { constants, existsSync, openSync, renameSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { ApiError, conflict } from '../../errors';
import { sandboxUser } from '../../supervisor/env';
import { AGENT_SESSION_FILE, type LaunchRequest } from '../../supervisor/protocol';
import { writeSetupLine } from '../../supervisor/sandbox';
import { agentSession, basePlan, scratch, sessionMounts, SETUP_OUT, setupLine, supervisorState } from '../../supervisor/stage';
import { sandboxDir, STATE_NAME, storageRoot } from './paths';
import type { Member } from './pool';
import { call, callSent } from './rpc';

const SETUP_TIMEOUT_MS = 15_000;

/**
 * The warm sandbox of `member` can take `req` directly: same mode, and its mount plan without the
 * session's storage is the warm one (which depends only on where the storage goes). Worked out
 * ahead for the destinations launches used lately (precomputeFits), else here (~0.5 ms).
 */
export function fitsDirect(home: string, member: Member, req: LaunchRequest): boolean {
  const warm = member.warm;
  if (!warm || warm.mode !== req.mode) return false;
  let dests: string[];
  try {
    dests = sessionMounts(req, storageRoot(home)).map((m) => m.dest);
  } catch {
    return false; // the supervisor's own launch says why
  }
  return member.fits?.get(destinationsKey(dests)) ?? planFits(home, member, dests);
}

/** A launch's storage destinations, as fitsDirect and precomputeFits key them. */
export const destinationsKey = (dests: string[]) => JSON.stringify(dests);

/** Work out, while the member idles, whether launches with these destinations fit it (see fitsDirect). */
export function precomputeFits(home: string, member: Member, keys: Iterable<string>): void {
  if (!member.warm) return;
  member.fits = new Map([...keys].map((k) => [k, planFits(home, member, JSON.parse(k) as string[])]));
}

function planFits(home: string, member: Member, dests: string[]): boolean {
  // Only the destinations shape the plan without the storage binds.
  const mounts = dests.map((dest) => ({ src: storageRoot(home), dest, ro: false }));
  try {
    return JSON.stringify(basePlan(home, scratch(member.dir), sandboxUser().home, mounts)) === member.warm?.base;
  } catch {
    return false;
  }
}

export interface DirectLaunch {
  init_pid: number;
  init_start?: string;
  /** The supervisor took the shuttle on (resolves either way; false when it did not). */
  adopted: Promise<boolean>;
}

/** Launch `req` on `member`'s warm sandbox (fitsDirect said it can). */
export async function launchDirect(home: string, member: Member, req: LaunchRequest, onAdoptFailed: (e: unknown) => void): Promise<DirectLaunch> {
  const warm = member.warm!;
  const { spec } = req;
  const s = scratch(member.dir);
  const target = sandboxDir(home, spec.sandbox_name);
  if (existsSync(target)) throw conflict(`sandbox ${spec.sandbox_name} already exists`);
  const mounts = sessionMounts(req, storageRoot(home));

  // The answer FIFO is opened before the line goes: a FIFO whose last holder closed loses its data.
  let answer: ReturnType<typeof readAnswer> | undefined;
  try {
    answer = readAnswer(join(s.run, SETUP_OUT));
    writeSetupLine(s.run, setupLine(spec.sandbox_name, mounts));
  } catch (e) {
    answer?.cancel();
    // No FIFO (the member removed its scratch dir) or nobody reading it (ENXIO): its sandbox ended.
    throw unavailable(`the warm sandbox is gone (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const said = await answer.line;
  if (said !== 'launched') {
    // Its sandbox is gone or stuck: the member ends (and takes its sandbox along).
    void call(member.socket, 'POST', '/exit', undefined, 2000).catch(() => undefined);
    throw unavailable(said.startsWith('error: ') ? said.slice(7) : said || 'its setup ended without a word');
  }

  let started_at: string;
  try {
    // The agent's session: a file it reads on inotify (supervisor/agent.ts), or by request when the
    // session has env of its own (env values are never written to disk).
    const session = agentSession(req);
    if (Object.keys(spec.env).length) await call(member.agent, 'POST', '/configure', session, 5000, member.agentConnection);
    else writeFileSync(join(s.run, AGENT_SESSION_FILE), JSON.stringify(session));
    started_at = new Date().toISOString();
    writeFileSync(join(s.dir, STATE_NAME), JSON.stringify(supervisorState(home, req, member.pid, warm.init_pid, warm.init_start, started_at)));
    // The scratch (bound into the sandbox by inode) becomes the sandbox dir.
    renameSync(s.dir, target);
  } catch (e) {
    void call(member.socket, 'POST', '/exit', undefined, 2000).catch(() => undefined);
    throw unavailable((e as Error).message);
  }
  // Answered only once the request is with the kernel: a daemon killed right after this launch
  // answered still hands the shuttle over (the supervisor reads it from its socket).
  const adopt = callSent(member.socket, 'POST', '/adopt', { launch: req, started_at }, 15_000);
  const adopted = adopt.answer.then(() => true, (e: unknown) => { onAdoptFailed(e); return false; });
  await adopt.sent;
  return { init_pid: warm.init_pid, init_start: warm.init_start, adopted };
}

const unavailable = (why: string) => new ApiError(503, 'provider_unavailable', `cannot start the sandbox: ${why}`);

/** The first line the setup process writes to its answer FIFO ('' when it ends without one). */
function readAnswer(path: string): { line: Promise<string>; cancel(): void } {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const fifo = new Socket({ fd, readable: true, writable: false });
  let text = '';
  let timer: NodeJS.Timeout | undefined;
  const line = new Promise<string>((resolve) => {
    const done = (l: string) => {
      clearTimeout(timer);
      fifo.destroy();
      resolve(l);
    };
    timer = setTimeout(() => done('error: its setup did not finish in time'), SETUP_TIMEOUT_MS);
    fifo.on('data', (d: Buffer) => {
      text += d.toString();
      const nl = text.indexOf('\n');
      if (nl >= 0) done(text.slice(0, nl));
    });
    fifo.on('end', () => done(text.trim()));
    fifo.on('error', (e) => done(`error: ${e.message}`));
  });
  return { line, cancel: () => { clearTimeout(timer); fifo.destroy(); } };
}
