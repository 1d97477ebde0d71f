// What run.mjs tells the tests (through the environment code-server passes to the extension host).
import * as vscode from 'vscode';
import type { OnMemOSExtensionApi } from '../../../extension/extension';

export const env = {
  adminUrl: must('ONMEMOS_TEST_ADMIN_URL'),
  publicUrl: must('ONMEMOS_TEST_PUBLIC_URL'),
  adminKey: must('ONMEMOS_TEST_ADMIN_KEY'),
};

function must(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these tests through test/extension/run.mjs`);
  return v;
}

export async function activate(): Promise<OnMemOSExtensionApi> {
  const ext = vscode.extensions.getExtension<OnMemOSExtensionApi>('onmemos.onmemos');
  if (!ext) throw new Error('the extension onmemos.onmemos is not loaded');
  const api = await ext.activate();
  await api.ready;
  return api;
}

export async function admin<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${env.adminUrl}/admin${path}`, {
    method, headers: { 'x-api-key': env.adminKey, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json() as T;
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

export async function pub<T>(passport: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${env.publicUrl}${path}`, {
    method, headers: { authorization: `Bearer ${passport}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() as T };
}

export async function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try { const v = await fn(); if (v) return v; } catch (e) { last = e; }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
