// GET /openapi.json: generated from the same zod schemas that validate requests.
import { z, type ZodType } from 'zod';
import { ErrorBody } from './schemas';
import type { RouteDef } from './http';

const json = (schema: ZodType, io: 'input' | 'output') => {
  const s = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as Record<string, unknown>;
  delete s.$schema;
  return s;
};

function parameters(schema: ZodType | undefined, where: 'query' | 'path') {
  if (!schema) return [];
  const s = json(schema, 'input') as { properties?: Record<string, unknown>; required?: string[] };
  return Object.entries(s.properties ?? {}).map(([name, sch]) => {
    const t = (sch as { type?: unknown }).type;
    // Query booleans (QueryBool: a JSON boolean or "true"/"false"...) are booleans on the wire's
    // terms: documenting them as "any string" promised that "" or "x" would be accepted.
    const schemaOut = where !== 'query' ? sch
      : Array.isArray(t) && t.includes('boolean') ? { type: 'boolean' }
      : (sch as { anyOf?: unknown[] }).anyOf ? { type: 'string' } : sch;
    return { name, in: where, required: where === 'path' || (s.required ?? []).includes(name), schema: schemaOut };
  });
}

const ERRORS: Record<number, string> = {
  400: 'Invalid request', 401: 'Missing or invalid credentials', 402: 'No credits left', 404: 'Not found (or not yours)',
  409: 'Conflict', 413: 'Body over 1 MiB', 431: 'Request line and headers over 1 MiB', 429: 'Too many failed authentications from this address, or (launch) the user\'s live-shuttle limit reached', 503: 'Provider unavailable',
};

export function openApiDocument(title: string, version: string, mounts: Array<{ prefix: string; routes: RouteDef[] }>) {
  const paths: Record<string, Record<string, unknown>> = {};
  const errorSchema = json(ErrorBody, 'output');
  for (const { prefix, routes } of mounts) {
    for (const r of routes) {
      const p = (paths[prefix + r.path] ??= {});
      const responses: Record<string, unknown> = {};
      for (const [status, schema] of Object.entries(r.responses)) {
        responses[status] = { description: 'OK', content: { 'application/json': { schema: json(schema, 'output') } } };
      }
      const errs = [400, 404, 413, 431, ...(r.auth === 'none' ? [] : [401, 429]), ...(r.method === 'POST' || r.method === 'DELETE' || r.method === 'PATCH' ? [409] : [])];
      if (r.path.startsWith('/v1/sessions') && r.method === 'POST') errs.push(402, 503);
      for (const s of errs) responses[String(s)] ??= { description: ERRORS[s], content: { 'application/json': { schema: errorSchema } } };
      p[r.method.toLowerCase()] = {
        summary: r.summary, tags: [r.tag], operationId: `${r.method.toLowerCase()}${(prefix + r.path).replace(/[^A-Za-z0-9]+/g, '_')}`,
        parameters: [...parameters(r.params, 'path'), ...parameters(r.query, 'query')],
        ...(r.body ? { requestBody: { required: !(r.body as ZodType).safeParse(undefined).success, content: { 'application/json': { schema: json(r.body, 'input') } } } } : {}),
        ...(r.auth === 'none' ? { security: [] } : {}),
        responses,
      };
    }
  }
  const admin = mounts.some((m) => m.routes.some((r) => r.auth === 'admin'));
  return {
    openapi: '3.1.0',
    info: { title, version },
    components: {
      securitySchemes: admin
        ? { adminKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' } }
        : { passport: { type: 'apiKey', in: 'header', name: 'X-API-Key' }, bearer: { type: 'http', scheme: 'bearer' } },
    },
    security: admin ? [{ adminKey: [] }] : [{ passport: [] }, { bearer: [] }],
    paths,
  };
}
