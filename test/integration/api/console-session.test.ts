// The web console's server side against a running Parley: its page and assets
// (content types, CSP, immutable names, nothing else reachable), the sign-in that
// exchanges the API token for a session cookie, what the cookie authorizes (GETs,
// actions with the console header from the page's own origin, the event stream),
// what it does not (forged or signed-out cookies: 401; a cross-site action or
// WebSocket: 403), the sign-out, and wrong tokens throttled.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { apiBase, apiYaml, call, TEST_TOKEN } from '../../helpers/api-client.ts';
import { startParley, type RunningParley } from '../../helpers/parley-harness.ts';
import { parseConfig } from '../../../src/config/load-config.ts';

const flows = `
flows:
  hello: [answer, hangup]
`;

describe('web console: page, sign-in, session cookie, CSRF, sign-out', () => {
  let parley: RunningParley;
  let base: string;
  let cookie = '';

  /** A request the way the console page makes it. */
  const page = (method: string, path: string, o: { cookie?: string; body?: unknown; header?: boolean; origin?: string | null } = {}): Promise<Response> => {
    const headers: Record<string, string> = {};
    if (o.cookie) headers.cookie = o.cookie;
    if (o.header !== false) headers['x-parley-console'] = '1';
    if (o.origin !== null) headers.origin = o.origin ?? base;
    if (o.body !== undefined) headers['content-type'] = 'application/json';
    return fetch(base + path, { method, headers, body: o.body === undefined ? undefined : JSON.stringify(o.body), redirect: 'manual' });
  };

  before(async () => {
    const state = join(mkdtempSync(join(tmpdir(), 'parley-console-')), 'rules.json');
    parley = await startParley(flows + apiYaml(state, '  console: { sessionTtlSec: 600 }\n'));
    base = apiBase(parley);
  });

  after(async () => {
    await parley?.stop();
  });

  it('serves the page without a token, with a CSP; assets by hashed name only, cached as immutable', async () => {
    const redirect = await fetch(`${base}/console`, { redirect: 'manual' });
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.get('location'), '/console/');
    const res = await fetch(`${base}/console/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    const html = await res.text();
    const js = /assets\/(app-[0-9a-f]{12}\.js)/.exec(html)?.[1];
    const css = /assets\/(app-[0-9a-f]{12}\.css)/.exec(html)?.[1];
    assert.ok(js && css, html);
    const a = await fetch(`${base}/console/assets/${js}`);
    assert.equal(a.status, 200);
    assert.equal(a.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(a.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.ok((await a.text()).length > 1000);
    assert.equal((await fetch(`${base}/console/assets/${css}`)).headers.get('content-type'), 'text/css; charset=utf-8');
    // Nothing but the built files: no traversal, no other name.
    for (const p of ['/console/assets/..%2f..%2f..%2fpackage.json', '/console/assets/%2e%2e%2findex.html', '/console/assets/app.js', '/console/../package.json', '/console/index.html']) {
      const r = await fetch(base + p);
      assert.ok(r.status === 404 || r.status === 401, `${p}: ${r.status}`);
      assert.doesNotMatch(await r.text(), /"name": "parley"|<html/);
    }
  });

  it('refuses a sign-in without the console header, from another origin, or with a wrong token', async () => {
    let r = await page('POST', '/console/session', { body: { token: TEST_TOKEN }, header: false, origin: null });
    assert.equal(r.status, 403);
    r = await page('POST', '/console/session', { body: { token: TEST_TOKEN }, origin: 'http://evil.example' });
    assert.equal(r.status, 403);
    r = await page('POST', '/console/session', { body: { token: TEST_TOKEN }, header: false, origin: 'null' });
    assert.equal(r.status, 403);
    r = await page('POST', '/console/session', { body: { token: 'wrong-token-0123456789abcde' } });
    assert.equal(r.status, 401);
    assert.equal(r.headers.get('set-cookie'), null);
    r = await page('POST', '/console/session', { body: {} });
    assert.equal(r.status, 400);
  });

  it('exchanges the token for an HttpOnly, SameSite=Strict, expiring session cookie', async () => {
    const r = await page('POST', '/console/session', { body: { token: TEST_TOKEN } });
    assert.equal(r.status, 200);
    const set = r.headers.get('set-cookie') ?? '';
    assert.match(set, /^parley_console=[A-Za-z0-9_-]{43}; /);
    assert.match(set, /; HttpOnly/);
    assert.match(set, /; SameSite=Strict/);
    assert.match(set, /; Path=\//);
    assert.match(set, /; Max-Age=600/);
    assert.doesNotMatch(set, /Secure/, 'plain HTTP: not Secure (secureCookie: auto)');
    cookie = set.split(';')[0]!;
    const body = (await r.json()) as { expiresAt: string };
    const left = Date.parse(body.expiresAt) - Date.now();
    assert.ok(left > 590_000 && left <= 600_000, `expires in ${left} ms`);
  });

  it('the cookie authorizes GETs and, with the console header from its own origin, actions', async () => {
    let r = await page('GET', '/calls', { cookie, header: false, origin: null });
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), []);
    r = await page('GET', '/console/session', { cookie });
    assert.ok(((await r.json()) as { session: unknown }).session);
    // From another origin (with or without the header), or with neither Origin nor the header: 403, and nothing happened.
    r = await page('POST', '/rooms', { cookie, body: { name: 'csrf-a' }, header: false, origin: null });
    assert.equal(r.status, 403);
    r = await page('POST', '/rooms', { cookie, body: { name: 'csrf-b' }, origin: 'http://evil.example' });
    assert.equal(r.status, 403);
    r = await page('POST', '/rooms', { cookie, body: { name: 'csrf-c' }, header: false, origin: 'http://127.0.0.1.evil.example' });
    assert.equal(r.status, 403);
    r = await page('POST', '/rooms', { cookie, body: { name: 'csrf-d' }, header: false, origin: 'null' });
    assert.equal(r.status, 403);
    assert.deepEqual((await call(base, 'GET', '/rooms')).body, []);
    // The console's own origin, or the header where a browser sends no Origin.
    r = await page('POST', '/rooms', { cookie, body: { name: 'console-room' }, header: false });
    assert.equal(r.status, 201);
    r = await page('DELETE', '/rooms/console-room', { cookie, origin: null });
    assert.equal(r.status, 200);
  });

  it('the cookie opens the event stream from the page origin only', async () => {
    const wsUrl = `${base.replace('http', 'ws')}/events`;
    const ws = new WebSocket(wsUrl, { headers: { cookie, origin: base } });
    const hello = await new Promise<{ type: string }>((resolve, reject) => {
      ws.once('message', (m: WebSocket.RawData) => resolve(JSON.parse(m.toString())));
      ws.once('error', reject);
    });
    assert.equal(hello.type, 'hello');
    ws.terminate();
    for (const headers of [{ cookie, origin: 'http://evil.example' }, { cookie }]) {
      const bad = new WebSocket(wsUrl, { headers });
      bad.on('error', () => undefined);
      const status = await new Promise<number>((resolve) => {
        bad.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        bad.once('open', () => resolve(101));
      });
      bad.terminate();
      assert.equal(status, 403, JSON.stringify(headers));
    }
  });

  it('a forged or malformed cookie gets 401 everywhere', async () => {
    for (const forged of ['parley_console=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'parley_console=x', `${cookie}x`]) {
      const r = await page('GET', '/calls', { cookie: forged });
      assert.equal(r.status, 401, forged);
      assert.equal(((await r.json()) as { error: string }).error, 'unauthorized');
    }
    // The bearer token still works whatever cookie comes along.
    const r = await fetch(`${base}/calls`, { headers: { authorization: `Bearer ${TEST_TOKEN}`, cookie: 'parley_console=x' } });
    assert.equal(r.status, 200);
  });

  it('signs out: the session ends on the server (the old cookie gets 401), the cookie is cleared, and its open event stream closes', async () => {
    const ws = new WebSocket(`${base.replace('http', 'ws')}/events`, { headers: { cookie, origin: base } });
    await new Promise((resolve, reject) => {
      ws.once('message', resolve);
      ws.once('error', reject);
    });
    const closed = new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code)));
    // And a listen-in the console opened.
    assert.equal((await page('POST', '/rooms', { cookie, body: { name: 'signed-out' } })).status, 201);
    const listen = await page('POST', '/rooms/signed-out/webrtc', { cookie, body: { role: 'listen' } });
    assert.equal(listen.status, 201);
    const sessionId = ((await listen.json()) as { sessionId: string }).sessionId;
    const bearer = { authorization: `Bearer ${TEST_TOKEN}` };
    assert.equal((await fetch(`${base}/webrtc/${sessionId}`, { headers: bearer })).status, 200);
    const r = await page('DELETE', '/console/session', { cookie });
    const code = await Promise.race([closed, new Promise<number>((resolve) => setTimeout(() => resolve(-1), 5000))]);
    ws.terminate();
    assert.equal(code, 1008, 'the stream the cookie opened ends with its session');
    assert.equal((await fetch(`${base}/webrtc/${sessionId}`, { headers: bearer })).status, 404, 'so does its listen-in');
    assert.equal((await fetch(`${base}/rooms/signed-out`, { method: 'DELETE', headers: bearer })).status, 200);
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { ok: true, ended: true });
    assert.match(r.headers.get('set-cookie') ?? '', /^parley_console=; Path=\/; Max-Age=0; HttpOnly; SameSite=Strict/);
    assert.equal((await page('GET', '/calls', { cookie })).status, 401);
  });

  it('ten wrong tokens from one address: 429 with Retry-After, the right token too, for a minute', async () => {
    for (let i = 0; i < 10; i++) assert.equal((await page('POST', '/console/session', { body: { token: `wrong-token-${i}-0123456789abc` } })).status, 401);
    for (const token of ['wrong-token-x-0123456789abc', TEST_TOKEN]) {
      const r = await page('POST', '/console/session', { body: { token } });
      assert.equal(r.status, 429);
      const after = Number(r.headers.get('retry-after'));
      assert.ok(after > 0 && after <= 60, `Retry-After: ${after}`);
      assert.equal(r.headers.get('set-cookie'), null);
    }
    // The bearer token is not affected.
    assert.equal((await call(base, 'GET', '/calls')).status, 200);
  });

  it('config: api.console keys are checked and named', () => {
    assert.throws(() => parseConfig('api: { console: { sessionTtlSec: 5 } }'), /api\.console\.sessionTtlSec/);
    assert.throws(() => parseConfig('api: { console: { secureCookie: sometimes } }'), /api\.console\.secureCookie/);
    assert.throws(() => parseConfig('api: { console: { origins: ["evil.example/x"] } }'), /api\.console\.origins/);
    assert.throws(() => parseConfig('api: { console: { colour: red } }'), /api\.console\.colour/);
    assert.equal(parseConfig('api: { console: { secureCookie: always } }').api.console.sessionTtlSec, 28800);
  });
});
