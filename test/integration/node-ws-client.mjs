// A terminal session through Node's own WebSocket client (undici's, global in Node 22; behind
// --experimental-websocket in Node 20), as a user without the `ws` package would open one:
// subprotocol onmemos.pty.v1, the passport in the query (a browser-style client sets no headers).
// Resizes and checks `stty size`, writes a file with vim and quits, reads it back, then `exit 7`.
// Prints one JSON line: the subprotocol, the JSON messages, the output checks.
//   node [--experimental-websocket] node-ws-client.mjs WS_URL
const url = process.argv[2];
const ws = new WebSocket(url, ['onmemos.pty.v1']);
ws.binaryType = 'arraybuffer';
const decoder = new TextDecoder();
const encoder = new TextEncoder();
let out = '';
const messages = [];
ws.onmessage = (e) => {
  if (typeof e.data === 'string') messages.push(JSON.parse(e.data));
  else out += decoder.decode(new Uint8Array(e.data), { stream: true });
};
const closed = new Promise((resolve) => { ws.onclose = (e) => resolve(e.code); });
const fail = (why) => { console.log(JSON.stringify({ error: why, output: out.slice(-2000), messages })); process.exit(1); };
const waitFor = async (re, what) => {
  const until = Date.now() + 15_000;
  while (!re.test(out)) {
    if (Date.now() > until) fail(`no ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};
const type = (text) => ws.send(encoder.encode(text));

await new Promise((resolve) => { ws.onopen = resolve; ws.onerror = () => fail('could not connect'); });
await waitFor(/[#$] $/, 'prompt');
ws.send(JSON.stringify({ type: 'resize', cols: 132, rows: 43 }));
type('stty size\r');
await waitFor(/[\r\n]43 132\r\n/, 'stty size after the resize');
type('vim -u NONE -n /tmp/from-node.txt\r');
await waitFor(/\x1b\[\?1049h/, 'vim on the alternate screen');
type('ihello from node\x1b:wq\r');
await waitFor(/\x1b\[\?1049l/, 'vim leaving the alternate screen');
out = '';
type('cat /tmp/from-node.txt\r');
await waitFor(/[\r\n]hello from node\r\n/, 'the file vim wrote');
type('exit 7\r');
const code = await closed;
console.log(JSON.stringify({ protocol: ws.protocol, messages, close: code }));
