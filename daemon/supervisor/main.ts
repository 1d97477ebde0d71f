// Entry of dist/supervisor.js. Two roles in one bundle (esbuild.mjs builds this file only):
//   node dist/supervisor.js --home DIR --pool-id ID --owner-pid PID [--prestart JSON]   the per-shuttle supervisor (server.ts)
//   node dist/supervisor.js --agent SOCKET [--pty DIR]                                 the in-sandbox exec agent (agent.ts)
// The agent never loads the supervisor's modules; it loads node-pty from DIR (the package the
// supervisor resolved, bound into the sandbox) and serves no shells without it.
if (process.argv[2] === '--agent') {
  const agent = require('./agent') as typeof import('./agent');
  agent.runAgent(process.argv[3] ?? (require('./protocol') as typeof import('./protocol')).AGENT_SOCKET_INSIDE, process.argv[4] === '--pty' ? process.argv[5] : undefined);
} else {
  require('./server');
}
