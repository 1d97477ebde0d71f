// The HTTP layer both listeners share (daemon/api/http.ts), on a real server on port 0, with routes
// of its own: what the API tests do not already pin down — HEAD for every GET, a body on a GET
// dropped, a chunked body over the limit, a body without a content type, the router's 400s, and
// closing with a request in flight.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { z } from 'zod';
import { createApp, route, type Principal } from '../../daemon/api/http';

type App = ReturnType<typeof createApp>;
import { createLogger } from '../../daemon/log';
import { conflict } from '../../daemon/errors';

interface Answer { status: number; headers: Record<string, string>; body: string }

/** One raw HTTP/1.1 exchange (so nothing between us and the server fixes up the request). */
function exchange(port: number, request: string | Buffer[]): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let data = '';
    s.on('data', (d) => { data += d.toString('latin1'); });
    s.on('error', reject);
    s.on('end', () => {
      const [head = '', ...rest] = data.split('\r\n\r\n');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') });
    });
    for (const part of typeof request === 'string' ? [Buffer.from(request, 'latin1')] : request) s.write(part);
  });
}

async function withApp(run: (port: number, app: App, seen: unknown[]) => Promise<void>, gate?: Promise<void>, entered?: () => void): Promise<void> {
  const seen: unknown[] = [];
  const app = createApp({
    name: 'public', log: createLogger({}, 'error'),
    authenticate: async (): Promise<Principal> => ({ kind: 'anonymous' }),
    bodyLimit: 1024,
    mounts: [{ prefix: '/v1', routes: [
      route({ method: 'GET', path: '/things/{id}', auth: 'none', tag: 't', summary: 's', params: z.object({ id: z.string() }), responses: {},
        handler: ({ params, body }) => { seen.push(body); return { id: params.id }; } }),
      route({ method: 'POST', path: '/things', auth: 'none', tag: 't', summary: 's', body: z.object({ n: z.number() }), status: 201, responses: {},
        handler: ({ body }) => { seen.push(body); if (body.n < 0) throw conflict('negative'); return { n: body.n }; } }),
      route({ method: 'GET', path: '/slow', auth: 'none', tag: 't', summary: 's', responses: {},
        handler: async () => { entered?.(); await gate; return { slow: true }; } }),
    ] }],
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as { port: number }).port;
  try {
    await run(port, app, seen);
  } finally {
    await app.close();
  }
}

test('HEAD answers every GET route with its headers and no body; other methods on it are 404', async () => {
  await withApp(async (port) => {
    const head = await exchange(port, 'HEAD /v1/things/a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal(head.headers['content-type'], 'application/json; charset=utf-8');
    assert.match(head.headers['x-request-id'] ?? '', /^[0-9a-f-]{36}$/);
    const put = await exchange(port, 'PUT /v1/things/a HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    assert.equal(put.status, 404);
    assert.equal(JSON.parse(put.body).error.code, 'not_found');
  });
});

test('a body on a GET is read and dropped; a JSON body without a content type is parsed; a trailing slash is the same route', async () => {
  await withApp(async (port, _app, seen) => {
    const get = await exchange(port, 'GET /v1/things/a/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{"n":1}');
    assert.equal(get.status, 200);
    assert.deepEqual(JSON.parse(get.body), { id: 'a' });
    const post = await exchange(port, 'POST /v1/things HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 7\r\n\r\n{"n":2}');
    assert.equal(post.status, 201);
    assert.deepEqual(seen, [undefined, { n: 2 }]);
  });
});

test('bad bodies: over the limit by content-length or chunked is 413, invalid JSON and wrong types 400, all in the error shape, and the handler never runs', async () => {
  await withApp(async (port, _app, seen) => {
    const declared = await exchange(port, 'POST /v1/things HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n');
    assert.equal(declared.status, 413);
    assert.equal(JSON.parse(declared.body).error.code, 'payload_too_large');
    const chunk = `{"n":1,"pad":"${'x'.repeat(2000)}"}`;
    const chunked = await exchange(port, [Buffer.from(`POST /v1/things HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\n`)]);
    assert.equal(chunked.status, 413);
    const error = JSON.parse(chunked.body).error;
    assert.equal(error.code, 'payload_too_large');
    assert.equal(error.request_id, chunked.headers['x-request-id']);
    const notJson = await exchange(port, 'POST /v1/things HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5\r\n\r\n{"n":');
    assert.equal(notJson.status, 400);
    assert.match(JSON.parse(notJson.body).error.message, /not valid JSON/);
    const wrongType = await exchange(port, 'POST /v1/things HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 9\r\n\r\n{"n":"1"}');
    assert.equal(wrongType.status, 400);
    assert.equal(JSON.parse(wrongType.body).error.code, 'invalid_request');
    assert.deepEqual(seen, [], 'no handler ran');
    const refused = await exchange(port, 'POST /v1/things HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 8\r\n\r\n{"n":-1}');
    assert.equal(refused.status, 409);
    assert.equal(JSON.parse(refused.body).error.message, 'negative');
  });
});

test('the router\'s own refusals are 400 in the error shape: bad percent-encoding, a path parameter over 200 characters', async () => {
  await withApp(async (port) => {
    const bad = await exchange(port, 'GET /v1/things/%E0%A4%A HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(bad.status, 400);
    assert.match(JSON.parse(bad.body).error.message, /percent-encoding/);
    const long = await exchange(port, `GET /v1/things/${'a'.repeat(201)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.equal(long.status, 400);
    assert.match(JSON.parse(long.body).error.message, /too long/);
    assert.equal((await exchange(port, `GET /v1/things/${'a'.repeat(200)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)).status, 200);
  });
});

test('closing: a request in flight still gets its answer and the server ends its kept-alive connection; then the listener is gone', async () => {
  let open!: () => void;
  const gate = new Promise<void>((r) => { open = r; });
  let entered!: () => void;
  const inHandler = new Promise<void>((r) => { entered = r; });
  await withApp(async (port, app) => {
    // Keep-alive: the exchange resolves only once the server ends the connection.
    const answer = exchange(port, 'GET /v1/slow HTTP/1.1\r\nHost: x\r\n\r\n');
    await inHandler;
    const closed = app.close();
    open();
    const a = await answer;
    assert.equal(a.status, 200);
    await closed;
    await assert.rejects(exchange(port, 'GET /v1/things/a HTTP/1.1\r\nHost: x\r\n\r\n'), { code: 'ECONNREFUSED' });
  }, gate, () => entered());
});
