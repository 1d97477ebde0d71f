// Session templates: what a shuttle runs. On gke the image and resources become the pod spec; on
// local the sandbox shares the host's system, so only the name and the price matter.
import type { TemplateT } from '../api/schemas';
import { badRequest } from '../errors';

export const TEMPLATES: TemplateT[] = [
  { id: 'dev', name: 'Development', image: 'debian:12', cpu: '500m', memory: '1Gi', description: 'General-purpose shell with the standard tools', credits_per_hour: 1 },
  { id: 'python', name: 'Python', image: 'python:3.11-slim', cpu: '1', memory: '2Gi', description: 'Python 3.11 with pip', credits_per_hour: 2 },
  { id: 'node', name: 'Node.js', image: 'node:20-bookworm-slim', cpu: '1', memory: '2Gi', description: 'Node.js 20 with npm', credits_per_hour: 2 },
];
export const DEFAULT_TEMPLATE = 'dev';

export function findTemplate(id: string | undefined): TemplateT {
  const wanted = (id ?? DEFAULT_TEMPLATE).toLowerCase();
  const t = TEMPLATES.find((x) => x.id === wanted);
  if (!t) throw badRequest(`unknown template "${id}"; known: ${TEMPLATES.map((x) => x.id).join(', ')}`);
  return t;
}
