// All services, built once from the context.
import type { ServiceContext } from './context';
import { billing } from './billing';
import { sessions } from './sessions';
import { storage } from './storage';
import { users } from './users';
import { workspaces } from './workspaces';
import { jobs } from './jobs';

export function createServices(ctx: ServiceContext) {
  return {
    ctx,
    users: users(ctx),
    billing: billing(ctx),
    workspaces: workspaces(ctx),
    storage: storage(ctx),
    sessions: sessions(ctx),
    jobs: jobs(),
  };
}
export type Services = ReturnType<typeof createServices>;
