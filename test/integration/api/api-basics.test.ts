// The control API without calls: the token, bad input (400 naming the field,
// 404 for unknown ids, paths out of recording.dir refused), the OpenAPI document,
// metrics, rule switches persisted across a restart, recordings from sidecars.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import WebSocket from 'ws';
import { apiBase, apiYaml, call, TEST_TOKEN } from '../../helpers/api-client.ts';
import { startParley, type RunningParley } from '../../helpers/parley-harness.ts';
import { parseConfig } from '../../../src/config/load-config.ts';
import { ToneRoom } from '../../helpers/mix-ticks.ts';
import { waitFor } from '../../helpers/wait.ts';

const routing = `
routing:
  rules:
    - name: gateway
      match: { method: INVITE, media: audio }
      actions: [{ app: hello }]
    - name: mobile
      enabled: false
      match: { method: INVITE }
      actions: [{ respond: { status: 486 } }]
flows:
  hello: [answer, hangup]
`;

describe('control API: token, bad input, OpenAPI, rules, recordings', () => {
  let parley: RunningParley;
  let base: string;
  const stateDir = mkdtempSync(join(tmpdir(), 'parley-api-'));
  const stateFile = join(stateDir, 'rules.json');

  before(async () => {
    parley = await startParley(routing + apiYaml(stateFile));
    base = apiBase(parley);
    // A finished recording as the recorder leaves it: a sidecar and its files.
    mkdirSync(parley.recordingDir, { recursive: true });
    const id = 'rec-20261122T080000Z-abc';
    const meta = {
      version: 1,
      room: 'call-x',
      state: 'finalized',
      startedAt: '2026-11-22T08:00:00.000Z',
      endedAt: '2026-11-22T08:00:05.000Z',
      durationMs: 5000,
      mix: { file: `${id}.mix.wav`, channels: 1, sampleRate: 16000, durationMs: 5000, sha256: null },
      stereo: { file: `${id}.stereo.wav`, channels: 2, sampleRate: 16000, durationMs: 5000, sha256: null, left: 'caller' },
      legs: [],
      postProcessed: [],
    };
    writeFileSync(join(parley.recordingDir, `${id}.json`), JSON.stringify(meta));
    writeFileSync(join(parley.recordingDir, `${id}.mix.wav`), 'RIFF-mix');
    writeFileSync(join(parley.recordingDir, 'secret.txt'), 'not listed');
  });

  after(async () => {
    await parley?.stop();
  });

  it('refuses requests without the token, or with a wrong one, with 401 JSON', async () => {
    for (const token of [null, 'wrong-token-0123456789abcdef', TEST_TOKEN.slice(0, -1)]) {
      const r = await call(base, 'GET', '/calls', undefined, token);
      assert.equal(r.status, 401);
      assert.equal(r.body.error, 'unauthorized');
    }
    const metrics = await fetch(`${base}/metrics`);
    assert.equal(metrics.status, 401);
    // The scheme's name is case-insensitive (RFC 7235 §2.1); another scheme, or the token alone, is not the header.
    for (const [authorization, status] of [[`bearer ${TEST_TOKEN}`, 200], [`BEARER  ${TEST_TOKEN}`, 200], [`Basic ${TEST_TOKEN}`, 401], [TEST_TOKEN, 401], [`Bearer ${TEST_TOKEN} x`, 401]] as const) {
      assert.equal((await fetch(`${base}/calls`, { headers: { authorization } })).status, status, authorization.replace(TEST_TOKEN, 'TOKEN'));
    }
    // The event stream too: the upgrade is refused.
    for (const url of [`${base.replace('http', 'ws')}/events`, `${base.replace('http', 'ws')}/events?token=nope`]) {
      const status = await new Promise<number>((resolve) => {
        const ws = new WebSocket(url);
        ws.on('unexpected-response', (_req, res) => {
          resolve(res.statusCode ?? 0);
          ws.terminate();
        });
        ws.on('open', () => {
          resolve(101);
          ws.close();
        });
        ws.on('error', () => resolve(-1));
      });
      assert.equal(status, 401, url);
    }
  });

  it('takes ?token= only on the event stream; every other route wants the header', async () => {
    for (const path of ['/calls', '/metrics', '/events/recent', '/recordings', '/openapi.json', '/health']) {
      const r = await call(base, 'GET', `${path}?token=${TEST_TOKEN}`, undefined, null);
      assert.equal(r.status, 401, `${path}?token=`);
      assert.equal(r.body.error, 'unauthorized');
      assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer/, 'RFC 6750 §3 challenge');
    }
    const r = await call(base, 'POST', `/rules/mobile?token=${TEST_TOKEN}`, { enabled: true }, null);
    assert.equal(r.status, 401, 'a write with a query token');
    // The WebSocket stream opens with it.
    const ws = new WebSocket(`${base.replace('http', 'ws')}/events?token=${TEST_TOKEN}`);
    const hello = await new Promise<{ type: string }>((resolve, reject) => {
      ws.once('message', (m: WebSocket.RawData) => resolve(JSON.parse(m.toString())));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`status ${res.statusCode}`)));
      ws.once('error', reject);
    });
    ws.close();
    assert.equal(hello.type, 'hello');
  });

  it('answers health and readiness', async () => {
    assert.deepEqual((await call(base, 'GET', '/health')).body, { status: 'ok' });
    const ready = await call(base, 'GET', '/ready');
    assert.equal(ready.status, 200);
    assert.equal(ready.body.ready, true);
  });

  it('gives 404 JSON for unknown ids and routes', async () => {
    for (const [method, path] of [
      ['GET', '/calls/nope'],
      ['DELETE', '/calls/nope'],
      ['POST', '/calls/nope/recording/pause'],
      ['GET', '/rooms/nope'],
      ['GET', '/recordings/nope'],
      ['GET', '/no/such/route'],
    ] as const) {
      const r = await call(base, method, path);
      assert.equal(r.status, 404, `${method} ${path}`);
      assert.equal(r.body.error, 'not_found');
    }
    const r = await call(base, 'POST', '/rules/nope', { enabled: true });
    assert.equal(r.status, 404);
  });

  it('gives 400 naming the field for bad bodies', async () => {
    let r = await call(base, 'POST', '/calls/x/transfer', {});
    assert.equal(r.status, 400);
    assert.equal(r.body.field, 'body.to');
    r = await call(base, 'POST', '/calls/x/transfer', { to: 'not a uri' });
    assert.equal(r.body.field, 'body.to');
    r = await call(base, 'POST', '/rules/mobile', { enabled: 'yes' });
    assert.equal(r.status, 400);
    assert.equal(r.body.field, 'body.enabled');
    r = await call(base, 'POST', '/rules/mobile', { enabled: true, colour: 'red' });
    assert.equal(r.body.field, 'body.colour');
    r = await call(base, 'POST', '/calls/x/play', { prompt: '../../etc/passwd', target: 'caller' });
    assert.equal(r.status, 400);
    assert.equal(r.body.field, 'body.prompt');
    r = await call(base, 'POST', '/calls/x/mute', { leg: 42 });
    assert.equal(r.body.field, 'body.leg');
    const bad = await fetch(`${base}/rules/mobile`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' },
      body: '{"enabled": tru',
    });
    assert.equal(bad.status, 400);
  });

  it('GET /events/recent takes a limit of at most 1000 (api.eventBacklog may keep 100000): above, 400 naming limit', async () => {
    for (const limit of ['1001', '100000', '999999']) {
      const r = await call(base, 'GET', `/events/recent?limit=${limit}`);
      assert.equal(r.status, 400, `limit=${limit}`);
      assert.equal(r.body.field, 'querystring.limit');
      assert.match(r.body.message, /^querystring\.limit: at most 1000 events per request/);
    }
    const ok = await call(base, 'GET', '/events/recent?limit=1000');
    assert.equal(ok.status, 200);
    assert.ok(Array.isArray(ok.body.events) && ok.body.events.length <= 1000);
  });

  it('lists recordings from their sidecars and serves only the files they list', async () => {
    const list = await call(base, 'GET', '/recordings');
    assert.equal(list.status, 200);
    assert.equal(list.body.length, 1);
    const id = list.body[0].id as string;
    assert.equal((await call(base, 'GET', `/recordings/${id}`)).body.room, 'call-x');
    const ok = await call(base, 'GET', `/recordings/${id}/files/${id}.mix.wav`);
    assert.equal(ok.status, 200);
    assert.equal(ok.text, 'RIFF-mix');
    assert.equal(ok.headers.get('content-type'), 'audio/wav');
    // Listed in the metadata but not on disk.
    assert.equal((await call(base, 'GET', `/recordings/${id}/files/${id}.stereo.wav`)).status, 404);
    // On disk but not listed.
    assert.equal((await call(base, 'GET', `/recordings/${id}/files/secret.txt`)).status, 404);
    // Out of the folder (encoded, so that no client normalises it away).
    for (const evil of ['..%2F..%2Fetc%2Fpasswd', '%2Fetc%2Fpasswd', '..%2Fsecret.txt', '..']) {
      const r = await call(base, 'GET', `/recordings/${id}/files/${evil}`);
      assert.ok(r.status === 400 || r.status === 404, `${evil}: ${r.status}`);
      assert.doesNotMatch(r.text, /root:/);
    }
    const r = await call(base, 'GET', `/recordings/..%2F..%2Fetc%2Fpasswd`);
    assert.equal(r.status, 400);
  });

  it('answers a Range request on a file with 206 and that part; an unsatisfiable one with 416', async () => {
    const id = (await call(base, 'GET', '/recordings')).body[0].id as string;
    const get = (range: string): Promise<Response> => fetch(`${base}/recordings/${id}/files/${id}.mix.wav`, { headers: { authorization: `Bearer ${TEST_TOKEN}`, range } });
    let r = await get('bytes=1-3');
    assert.equal(r.status, 206);
    assert.equal(await r.text(), 'IFF');
    assert.equal(r.headers.get('content-range'), 'bytes 1-3/8');
    assert.equal(r.headers.get('content-length'), '3');
    assert.equal(r.headers.get('accept-ranges'), 'bytes');
    r = await get('bytes=-3');
    assert.equal(r.status, 206);
    assert.equal(await r.text(), 'mix');
    r = await get('bytes=5-100');
    assert.equal(r.status, 206);
    assert.equal(r.headers.get('content-range'), 'bytes 5-7/8');
    r = await get('bytes=8-');
    assert.equal(r.status, 416);
    assert.equal(r.headers.get('content-range'), 'bytes */8');
    await r.text();
    // Several ranges, or another unit: the whole file, 200.
    for (const range of ['bytes=0-1,4-5', 'lines=1-2']) {
      r = await get(range);
      assert.equal(r.status, 200, range);
      assert.equal(await r.text(), 'RIFF-mix');
    }
  });

  it('serves a valid OpenAPI document listing every route', async () => {
    const r = await call(base, 'GET', '/openapi.json');
    assert.equal(r.status, 200);
    const doc = r.body;
    await SwaggerParser.validate(structuredClone(doc));
    assert.match(doc.openapi, /^3\./);
    const listed = new Set<string>();
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
      for (const m of Object.keys(ops)) listed.add(`${m.toUpperCase()} ${path}`);
    }
    const expected = [
      'GET /health', 'GET /ready', 'GET /metrics', 'GET /openapi.json', 'GET /events', 'GET /events/recent',
      'GET /calls', 'GET /calls/{id}', 'DELETE /calls/{id}', 'POST /calls/{id}/play', 'POST /calls/{id}/play/stop', 'POST /calls/{id}/dtmf',
      'POST /calls/{id}/mute', 'POST /calls/{id}/unmute', 'POST /calls/{id}/deafen', 'POST /calls/{id}/undeafen',
      'POST /calls/{id}/transfer',
      ...['start', 'stop', 'pause', 'resume', 'mask', 'unmask'].map((a) => `POST /calls/{id}/recording/${a}`),
      'GET /rooms', 'GET /rooms/{name}', 'POST /rooms', 'DELETE /rooms/{name}', 'POST /rooms/{name}/dial',
      'POST /rooms/{name}/legs/{leg}/mute', 'POST /rooms/{name}/legs/{leg}/unmute', 'DELETE /rooms/{name}/legs/{leg}',
      'POST /rooms/{name}/legs/{leg}/deafen', 'POST /rooms/{name}/legs/{leg}/undeafen', 'POST /rooms/{name}/legs/{leg}/coach', 'POST /rooms/{name}/play', 'POST /rooms/{name}/play/stop',
      'GET /recordings', 'GET /recordings/{id}', 'GET /recordings/{id}/files/{file}',
      'GET /recordings/signing-key', 'GET /recordings/audit/verify', 'GET /recordings/{id}/verify',
      'POST /recordings/{id}/hold', 'DELETE /recordings/{id}/hold',
      'GET /rules', 'POST /rules/{name}',
      'GET /webhooks/dead-letter', 'POST /webhooks/dead-letter/replay',
      'POST /console/session', 'GET /console/session', 'DELETE /console/session',
      'POST /rooms/{name}/webrtc', 'GET /rooms/{name}/webrtc', 'GET /webrtc/{sessionId}', 'DELETE /webrtc/{sessionId}',
      'POST /webrtc/{sessionId}/connect', 'POST /webrtc/{sessionId}/produce', 'POST /webrtc/{sessionId}/consume',
      'GET /webrtc/join/{room}', 'GET /webrtc/assets/{file}',
      'POST /admin/drain',
    ];
    for (const e of expected) assert.ok(listed.has(e), `OpenAPI lists ${e}`);
    assert.equal(listed.size, expected.length, `no unexpected routes: ${[...listed].join(', ')}`);
    // Every route that takes a body or ids says so in the document.
    assert.ok(doc.paths['/calls/{id}/transfer'].post.requestBody, 'transfer has a request body');
    assert.ok(doc.paths['/calls/{id}'].get.parameters.some((p: { name: string }) => p.name === 'id'));
  });

  it('answers junk on every route without a 5xx, and stays up', async () => {
    const doc = (await call(base, 'GET', '/openapi.json')).body;
    const junk: unknown[] = [null, 0, 'x', [], {}, { leg: {} }, { to: 'sip:' + 'a'.repeat(600) }, { prompt: '/etc/passwd', target: 'room' }, { tone: 'dtmf:', target: 'caller' }, { enabled: true, user: 'x' }, { __proto__: { enabled: true } }, { constructor: { prototype: { x: 1 } } }];
    const ids = ['x', '%00', '..%2F..', 'a'.repeat(300), '%F0%9F%92%A9', '%'];
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
      // The stream is a WebSocket; a drain would stop this Parley (tested on its own below).
      if (path === '/events' || path === '/admin/drain') continue;
      for (const method of Object.keys(ops)) {
        for (const id of ids) {
          const p = path.replace(/\{[a-z]+\}/g, id);
          for (const body of method === 'get' || method === 'delete' ? [undefined] : junk) {
            const r = await call(base, method.toUpperCase(), p, body);
            assert.ok(r.status < 500, `${method.toUpperCase()} ${p} ${JSON.stringify(body)}: ${r.status} ${r.text.slice(0, 200)}`);
          }
        }
      }
    }
    const raw = await fetch(`${base}/rules/gateway`, { method: 'POST', headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' }, body: 'x'.repeat(100_000) });
    assert.equal(raw.status, 413);
    assert.equal(((await raw.json()) as { error: string }).error, 'too_large');
    // A path parameter past the router's length, or a bad escape in it: the API's JSON shape, the message cut short.
    for (const [path, status, error] of [[`/calls/${'a'.repeat(10_000)}`, 414, 'uri_too_long'], ['/calls/%zz', 400, 'bad_request']] as const) {
      const r = await call(base, 'GET', path);
      assert.equal(r.status, status, path.slice(0, 20));
      assert.equal(r.body.error, error);
      assert.equal(typeof r.body.message, 'string');
      assert.ok((r.body.message as string).length <= 201);
    }
    assert.equal((await call(base, 'GET', '/health')).status, 200);
  });

  it('exposes Prometheus metrics', async () => {
    const r = await call(base, 'GET', '/metrics');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /text\/plain/);
    for (const m of ['parley_calls_active 0', 'parley_calls_total 0', 'parley_legs 0', 'parley_worker_restarts 0', 'parley_media_thread_restarts 0', 'parley_recording_ticks_lost 0', 'parley_recording_bytes_total 0']) {
      assert.ok(r.text.includes(m), `metrics has '${m}'`);
    }
    // Each media thread said 'ready' (one message, one post), counted by direction and type.
    assert.match(r.text, /^parley_media_thread_messages\{direction="from_thread",type="ready"\} [1-9]\d*$/m);
    assert.match(r.text, /^parley_media_thread_messages\{direction="from_thread",type="\(postMessage\)"\} [1-9]\d*$/m);
    // ?name= (repeatable) keeps only the metrics named; an unknown name is a 400.
    const some = await call(base, 'GET', '/metrics?name=parley_calls_active&name=parley_legs');
    assert.equal(some.status, 200);
    const samples = some.text.split('\n').filter((l: string) => l && !l.startsWith('#'));
    assert.deepEqual(samples, ['parley_calls_active 0', 'parley_legs 0']);
    const one = await call(base, 'GET', '/metrics?name=parley_recordings_open');
    assert.deepEqual(one.text.split('\n').filter((l: string) => l && !l.startsWith('#')), ['parley_recordings_open 0']);
    const bad = await call(base, 'GET', '/metrics?name=nope');
    assert.equal(bad.status, 400);
    assert.match(bad.body.message, /querystring.name: no metric 'nope'/);
  });

  it('switches rules for everyone or one user, saves them, and restores them at the next start', async () => {
    let r = await call(base, 'GET', '/rules');
    assert.deepEqual(r.body.map((x: { name: string }) => x.name), ['gateway', 'mobile']);
    assert.equal(r.body[1].enabled, false);
    r = await call(base, 'POST', '/rules/mobile', { enabled: true, user: 'sip:bob@example.com' });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.perUser, { 'sip:bob@example.com': true });
    r = await call(base, 'POST', '/rules/gateway', { enabled: false });
    assert.equal(r.body.enabled, false);
    const saved = JSON.parse(readFileSync(stateFile, 'utf8'));
    assert.deepEqual(saved, { global: { gateway: false }, perUser: { mobile: { 'sip:bob@example.com': true } } });
    await parley.stop();
    parley = await startParley(routing + apiYaml(stateFile));
    base = apiBase(parley);
    r = await call(base, 'GET', '/rules');
    assert.equal(r.body[0].enabled, false, 'gateway switched off across the restart');
    assert.deepEqual(r.body[1].perUser, { 'sip:bob@example.com': true });
  });

  it('keeps the rule switches in <recording.dir>/.parley/ when api.rulesStateFile is not set', async () => {
    const other = await startParley(`${routing}api: { enabled: true, port: 0, token: ${TEST_TOKEN} }\n`);
    try {
      const r = await call(apiBase(other), 'POST', '/rules/mobile', { enabled: true });
      assert.equal(r.status, 200);
      assert.deepEqual(JSON.parse(readFileSync(join(other.recordingDir, '.parley', 'rules-state.json'), 'utf8')), { global: { mobile: true }, perUser: {} });
    } finally {
      await other.stop();
    }
  });

  it("an open recording's metadata comes from memory, with the lengths recorded so far (its sidecar's are refreshed every 10 s)", async () => {
    const rec = parley.app.recordings!.createRecorder({ roomId: 'live-x', sampleRate: 16000 });
    try {
      rec.addLeg('a', { uri: 'sip:a@x', role: 'caller' });
      const room = new ToneRoom(16000);
      room.legs.set('a', 440);
      room.feed(rec, 2000);
      const path = join(parley.recordingDir, `${rec.id}.json`);
      const read = (): { legs: unknown[]; mix: { durationMs: number } } | undefined => (existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : undefined);
      const onDisk = await waitFor('the sidecar with the leg (written at its join)', () => (read()?.legs.length === 1 ? read() : undefined));
      assert.equal(onDisk!.mix.durationMs, 0, 'written when the leg joined, before any audio');
      room.feed(rec, 2000);
      const r = await call(base, 'GET', `/recordings/${rec.id}`);
      assert.equal(r.status, 200);
      assert.deepEqual([r.body.state, r.body.mix.durationMs, r.body.legs[0].stems[0].durationMs], ['recording', 4000, 4000]);
      assert.equal(read()!.mix.durationMs, 0, 'the sidecar on disk is not rewritten for its lengths alone');
      assert.equal((await call(base, 'GET', `/recordings/${rec.id}/files/${rec.id}.mix.wav`)).status, 200, 'its files are served as listed');
    } finally {
      rec.close();
      await rec.finalized;
    }
  });

  it('is not ready while draining (SIGTERM)', async () => {
    parley.app.calls!.drain();
    const r = await call(base, 'GET', '/ready');
    assert.equal(r.status, 503);
    assert.deepEqual([r.body.ready, r.body.draining], [false, true]);
    assert.equal((await call(base, 'GET', '/health')).status, 200);
  });

  it('POST /admin/drain drains as SIGTERM does: new calls refused, the process closes once no call is up', async () => {
    const closed = new Promise<void>((r) => parley.app.once('close', () => r()));
    const r = await call(base, 'POST', '/admin/drain');
    assert.equal(r.status, 202);
    assert.deepEqual(r.body, { draining: true, node: null });
    await closed;
    assert.equal(parley.app.calls!.draining, true);
  });

  it('will not start the API without a token', () => {
    assert.throws(() => parseConfig('api: { enabled: true }'), /api\.token: required/);
    assert.throws(() => parseConfig('api: { enabled: true, token: short }'), /api\.token/);
  });
});
