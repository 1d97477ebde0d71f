// Entry of dist/supervisor.js. Two roles in one bundle (esbuild.mjs builds this file only):
//   node dist/supervisor.js --home DIR --pool-id ID --owner-pid PID [--prestart JSON]   the per-shuttle supervisor (server.ts)
//   node dist/supervisor.js --agent SOCKET                                             the in-sandbox exec agent (agent.ts)
// The agent never loads the supervisor's modules; it loads node-pty (dist/node_modules, bound in with
// the bundle) when the session is configured, and serves no shells if that fails.
if (process.argv[2] === '--agent') {
  const agent = require('./agent') as typeof import('./agent');
  agent.runAgent(process.argv[3] ?? agent.AGENT_SOCKET_INSIDE);
} else {
  require('./server');
}
