// All suites, in order: one bundle loaded by index.ts after mocha's globals exist.
import './commands.test';
import './workflow.test';
import './secrets.test';
import './shellPty.test';
import './daemon.test';
