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
import { ApiError, conflict, providerUnavailable } from '../../errors';
import { sandboxUser } from '../../supervisor/env';
import type { LaunchRequest } from '../../supervisor/protocol';
import { writeSetupLine } from '../../supervisor/sandbox';
import { basePlan, giveAgentSession, scratch, sessionMounts, SETUP_OUT, setupLine, supervisorState } from '../../supervisor/stage';
import { sandboxDir, STATE_NAME, storageRoot } from './paths';
import { startTime, type Member } from './pool';
import { call, callSent } from './rpc';

const SETUP_TIMEOUT_MS = 15_000;

/**
 * The warm sandbox of `member` can take `req` directly: same mode, and its mount plan without the
 * session's storage is the warm one (which depends only on where the storage goes). Worked out
 * ahead for the destinations launches used lately (precomputeFits; for FITS_FOR_MS), else here
 * (~0.5 ms).
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
  const known = member.fits && Date.now() - member.fits.at < FITS_FOR_MS ? member.fits.answers.get(destinationsKey(dests)) : undefined;
  return known ?? planFits(home, member, dests);
}

/** How long answers worked out ahead stand: the plan reads the host's tree (/, /etc/resolv.conf), which may change. */
const FITS_FOR_MS = 10_000;

/** A launch's storage destinations, as fitsDirect and precomputeFits key them. */
export const destinationsKey = (dests: string[]) => JSON.stringify(dests);

/** Work out, while the member idles, whether launches with these destinations fit it (see fitsDirect). */
export function precomputeFits(home: string, member: Member, keys: Iterable<string>): void {
  if (!member.warm) return;
  member.fits = { at: Date.now(), answers: new Map([...keys].map((k) => [k, planFits(home, member, JSON.parse(k) as string[])])) };
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
  /** Settles once the supervisor took the shuttle on (true) or could not (the error). */
  adopted: Promise<true | Error>;
}

/** A direct launch that failed before the setup took its line: nothing happened, another member may do. */
export class WarmMemberGone extends ApiError {
  constructor(why: string) {
    super(503, 'provider_unavailable', `cannot start the sandbox: the warm sandbox is gone (${why})`);
  }
}

/**
 * Launch `req` on `member`'s warm sandbox (fitsDirect said it can). On any failure the member is
 * told to exit (taking its sandbox along): it left the pool and nobody else will use it.
 */
export async function launchDirect(home: string, member: Member, req: LaunchRequest, warn: (event: string, fields: Record<string, unknown>) => void): Promise<DirectLaunch> {
  try {
    return await launchOn(home, member, req, warn);
  } catch (e) {
    void call(member.socket, 'POST', '/exit', undefined, 2000).catch(() => undefined);
    throw e;
  }
}

async function launchOn(home: string, member: Member, req: LaunchRequest, warn: (event: string, fields: Record<string, unknown>) => void): Promise<DirectLaunch> {
  const warm = member.warm!;
  const { spec } = req;
  const s = scratch(member.dir);
  const target = sandboxDir(home, spec.sandbox_name);
  if (existsSync(target)) throw conflict(`sandbox ${spec.sandbox_name} already exists`);
  const mounts = sessionMounts(req, storageRoot(home));
  const line = setupLine(spec.sandbox_name, mounts);

  // The answer FIFO is opened before the line goes: a FIFO whose last holder closed loses its data.
  let answer: ReturnType<typeof readAnswer> | undefined;
  try {
    answer = readAnswer(join(s.run, SETUP_OUT));
    writeSetupLine(s.run, line);
  } catch (e) {
    answer?.cancel();
    // No FIFO (the member removed its scratch dir) or nobody reading it (ENXIO): its sandbox ended.
    throw new WarmMemberGone((e as NodeJS.ErrnoException).code ?? (e as Error).message);
  }
  const said = await answer.line;
  if (said !== 'launched') throw unavailable(said.startsWith('error: ') ? said.slice(7) : said || 'its setup ended without a word');

  const agentProblem = await giveAgentSession(req, s, member.agentConnection);
  if (agentProblem) warn('local.agent_unavailable', { sandbox_name: spec.sandbox_name, error: agentProblem });
  const started_at = new Date().toISOString();
  writeFileSync(join(s.dir, STATE_NAME), JSON.stringify(supervisorState(home, req, member.pid, warm.init_pid, warm.init_start, started_at)));
  // The scratch (bound into the sandbox by inode) becomes the sandbox dir. A daemon stopped from
  // here until the adopt request is sent leaves a sandbox dir no supervisor claims: the supervisor
  // ends its sandbox after ADOPT_WAIT_MS, and the next daemon's orphan sweep removes the dir.
  renameSync(s.dir, target);
  // Answered only once the request is with the kernel: a daemon killed right after this launch
  // answered still hands the shuttle over (the supervisor reads it from its socket).
  const adopt = callSent(member.socket, 'POST', '/adopt', { launch: req, started_at }, 15_000);
  try {
    await adopt.sent;
  } catch (e) {
    // The supervisor is gone: so is its sandbox (it dies with its parent), and the launch failed.
    if (startTime(warm.init_pid) === warm.init_start) try { process.kill(warm.init_pid, 'SIGKILL'); } catch { /* gone */ }
    throw unavailable(`its supervisor is gone (${(e as Error).message})`);
  }
  return { init_pid: warm.init_pid, init_start: warm.init_start, adopted: adopt.answer.then(() => true as const, (e: unknown) => e as Error) };
}

const unavailable = (why: string) => providerUnavailable(`cannot start the sandbox: ${why}`);

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
