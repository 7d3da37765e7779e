// The console's only way to the API: same-origin fetch with the session cookie
// (the browser sends it; scripts cannot read it) and the header that marks a
// console request, which the server requires on every state-changing one.

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Called when the server says the session is gone (401): the app shows the sign-in. */
let onUnauthorized: () => void = () => undefined;

export function whenUnauthorized(f: () => void): void {
  onUnauthorized = f;
}

/** For requests made outside api(): the session is gone. */
export function whenUnauthorizedNow(): void {
  onUnauthorized();
}

export async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { 'x-parley-console': '1' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let parsed: unknown = undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!res.ok) {
    const e = (parsed ?? {}) as { error?: string; message?: string };
    if (res.status === 401 && path !== '/console/session') onUnauthorized();
    throw new ApiFailure(res.status, e.error ?? 'error', e.message ?? `${res.status} ${res.statusText}`);
  }
  return parsed as T;
}

/** Binary GET (a recording's WAV). */
export async function apiBytes(path: string): Promise<ArrayBuffer> {
  const res = await fetch(path, { headers: { 'x-parley-console': '1' }, credentials: 'same-origin' });
  if (res.status === 401) onUnauthorized();
  if (!res.ok) throw new ApiFailure(res.status, 'error', `${res.status} ${res.statusText}`);
  return res.arrayBuffer();
}

export const enc = encodeURIComponent;
