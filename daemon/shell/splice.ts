// onmemos.pty.v1 without frames in the daemon: where the provider hands over the shell server's own
// socket (local: the shuttle's agent, see ComputeProvider.connectShell), the client's socket is
// spliced to it byte for byte once both handshakes are done. Both ends speak the same protocol
// (hello, binary output and input, resize, exit); the client's frames are masked, as the agent (a
// WebSocket server) requires, and the agent's are not, as the client expects. So nothing needs
// parsing here: the daemon's share of a 100 MB `cat` drops from frame parsing and re-framing to
// plain socket reads and writes, and a keystroke's echo crosses it in one read and one write.
// Backpressure is the sockets' own (pipe stops reading the side whose peer is not draining, and
// the agent pauses the pty when its socket backs up); the agent enforces the message size limit
// and, with `heartbeatMs`, drops a client that stops answering pings.
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

const KEY = /^[+/0-9A-Za-z]{22}==$/;
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** The protocol versions `ws` accepts (RFC 6455's 13, and the draft's 8). */
export const WS_VERSIONS = ['13', '8'];

/** Why this upgrade request is not a WebSocket handshake we can complete (the checks `ws` makes), or undefined. */
export function handshakeProblem(req: IncomingMessage): string | undefined {
  if (req.method !== 'GET') return 'a WebSocket handshake is a GET request';
  if (String(req.headers.upgrade ?? '').toLowerCase() !== 'websocket') return 'the Upgrade header must be "websocket"';
  if (!KEY.test(String(req.headers['sec-websocket-key'] ?? ''))) return 'missing or invalid Sec-WebSocket-Key';
  if (!WS_VERSIONS.includes(String(req.headers['sec-websocket-version']))) return `Sec-WebSocket-Version must be one of ${WS_VERSIONS.join(', ')}`;
  return undefined;
}

/** The 101 that completes `req`'s handshake, with `protocol` when the client offered it (no extensions). */
export function switchingProtocols(req: IncomingMessage, protocol: string | undefined): string {
  const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}${GUID}`).digest('base64');
  return 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
    + `Sec-WebSocket-Accept: ${accept}\r\n${protocol ? `Sec-WebSocket-Protocol: ${protocol}\r\n` : ''}\r\n`;
}

/**
 * Relay `client` <-> `upstream` until either closes; `*Head`: bytes each side sent that were read
 * with its handshake. An upstream that ends has its last bytes (the exit event, the close frame)
 * delivered before the client's socket is ended; a client that goes away ends the upstream at once
 * (the shell lingers for a reattach). Returns a function that ends both now.
 */
export function splice(client: Socket, clientHead: Buffer, upstream: Duplex, upstreamHead: Buffer, keepAliveMs: number, onClose: () => void): () => void {
  client.setTimeout(0);
  client.setNoDelay(true);
  // The agent's heartbeat finds clients that vanished without a FIN; an agent started by an older
  // daemon has none, and TCP keepalive still does it there (in minutes rather than seconds).
  client.setKeepAlive(true, keepAliveMs);
  if (upstreamHead.length) client.write(upstreamHead);
  if (clientHead.length) upstream.write(clientHead);
  client.pipe(upstream);
  upstream.pipe(client);
  client.on('error', () => undefined); // 'close' follows
  upstream.on('error', () => undefined);
  let closed = 0;
  const closedOne = () => { if (++closed === 2) onClose(); };
  client.on('close', () => { upstream.destroy(); closedOne(); });
  upstream.on('close', () => {
    client.end();
    setTimeout(() => client.destroy(), 5000).unref(); // a client that never reads its last bytes
    closedOne();
  });
  return () => { client.destroy(); upstream.destroy(); };
}
