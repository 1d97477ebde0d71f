// A small WebSocket test client over the `ws` package: collects frames, decodes terminal output as
// a UTF-8 stream (split multi-byte sequences are joined, never replaced), and waits for text.
import WebSocket from 'ws';

export interface Shell {
  ws: WebSocket;
  /** Decoded terminal output so far (pty mode) */
  output(): string;
  /** JSON text messages so far */
  messages: any[];
  waitFor(pred: () => boolean, what: string, ms?: number): Promise<void>;
  waitForOutput(text: string | RegExp, ms?: number): Promise<void>;
  send(data: string | Buffer): void;
  closed: Promise<{ code: number; reason: string }>;
}

export function openWs(url: string, options: { protocols?: string[]; headers?: Record<string, string>; countOnly?: boolean } = {}): Promise<Shell> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options.protocols ?? [], { headers: options.headers });
    const decoder = new TextDecoder('utf-8', { fatal: false });
    let out = '';
    const messages: any[] = [];
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
    ws.on('message', (data: Buffer, isBinary) => {
      if (isBinary) { if (!options.countOnly) out += decoder.decode(data, { stream: true }); }
      else messages.push(JSON.parse(data.toString('utf8')));
    });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => reject(Object.assign(new Error(`handshake refused: ${res.statusCode} ${body}`), { status: res.statusCode, body })));
    });
    ws.on('error', reject);
    ws.on('open', () => {
      const shell: Shell = {
        ws, messages, closed,
        output: () => out,
        send: (data) => ws.send(data),
        async waitFor(pred, what, ms = 10_000) {
          const end = Date.now() + ms;
          while (!pred()) {
            if (Date.now() > end) throw new Error(`timed out waiting for ${what}; output so far:\n${out.slice(-2000)}\nmessages: ${JSON.stringify(messages).slice(-2000)}`);
            await new Promise((r) => setTimeout(r, 20));
          }
        },
        waitForOutput(text, ms) {
          return shell.waitFor(() => (typeof text === 'string' ? out.includes(text) : text.test(out)), `output ${text}`, ms);
        },
      };
      resolve(shell);
    });
  });
}

export async function refusal(url: string, options: { protocols?: string[]; headers?: Record<string, string> } = {}): Promise<number> {
  try {
    const s = await openWs(url, options);
    s.ws.close();
    return 101;
  } catch (e) {
    return (e as { status?: number }).status ?? -1;
  }
}
