// A small client for the control API in tests: JSON in, status and JSON out.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningParley } from './parley-harness.ts';

export const TEST_TOKEN = 'test-token-0123456789abcdef';

export interface ApiAnswer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  headers: Headers;
  text: string;
}

export function apiBase(parley: RunningParley): string {
  const url = parley.app.api?.url;
  if (!url) throw new Error('the API is not running (api.enabled?)');
  return url;
}

export async function call(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  token: string | null = TEST_TOKEN,
): Promise<ApiAnswer> {
  const headers: Record<string, string> = {};
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let parsed: unknown = undefined;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed, headers: res.headers, text };
}

/** The api section for startParley's yaml. */
export function apiYaml(stateFile: string, extra = ''): string {
  return `
api:
  enabled: true
  port: 0
  token: ${TEST_TOKEN}
  rulesStateFile: ${stateFile}
  webhookSpoolFile: ${stateFile}.webhooks.json
${extra}`;
}

/** apiYaml with its state files in a new temp folder (named `prefix…`). */
export function tempApiYaml(prefix = 'parley-api-'): string {
  return apiYaml(join(mkdtempSync(join(tmpdir(), prefix)), 'rules.json'));
}
