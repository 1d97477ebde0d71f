// Asynchronous execution (`async_execution=true`): the command runs in the background and its
// result is kept for an hour, readable at GET /v1/sessions/{id}/jobs/{job_id}.
import type { ExecResult } from '../providers/types';
import { newId, now } from './context';

export interface Job {
  job_id: string;
  session_id: string;
  user_id: string;
  command: string;
  status: 'running' | 'succeeded' | 'failed';
  created_at: string;
  finished_at: string | null;
  result: ExecResult | null;
  error: string | null;
}

const KEEP_MS = 3600_000;
const MAX_JOBS = 1000;

export function jobs() {
  const all = new Map<string, Job>();
  const prune = () => {
    const cutoff = Date.now() - KEEP_MS;
    for (const [id, j] of all) if (j.finished_at && Date.parse(j.finished_at) < cutoff) all.delete(id);
    while (all.size > MAX_JOBS) all.delete(all.keys().next().value!);
  };
  return {
    start(session_id: string, user_id: string, command: string, run: () => Promise<ExecResult>): Job {
      prune();
      const job: Job = { job_id: newId('job_'), session_id, user_id, command, status: 'running', created_at: now(), finished_at: null, result: null, error: null };
      all.set(job.job_id, job);
      run().then(
        (r) => Object.assign(job, { status: r.exit_code === 0 ? 'succeeded' : 'failed', result: r, finished_at: now() }),
        (e: Error) => Object.assign(job, { status: 'failed', error: e.message, finished_at: now() }),
      );
      return job;
    },
    get: (job_id: string, session_id: string, user_id: string) => {
      const j = all.get(job_id);
      return j && j.session_id === session_id && j.user_id === user_id ? j : undefined;
    },
  };
}
