// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// A token holder that opens browser sessions without end (each holds WebRtcTransports,
// UDP ports and a timer until media.webrtc.timeoutSec): real HTTP against a running
// Parley with a real mediasoup worker; a listen session is opened without ICE ever
// starting, as an attacker would. Past media.webrtc.maxSessionsPerToken (per token
// name) or media.webrtc.maxSessions (in all) the answer is 429 naming the key, a burst
// of concurrent requests cannot overshoot the cap, the refusals are counted in the
// metrics, and a session that closes (DELETE, its room closing, the timeout) frees
// its place.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dgram from 'node:dgram';
import { after, describe, it } from 'node:test';
import { apiBase, apiYaml, call, type ApiAnswer } from '../helpers/api-client.ts';
import { parleyPerSuite, type RunningParley } from '../helpers/parley-harness.ts';
import { waitFor } from '../helpers/wait.ts';

const OPS = 'ops-token-0123456789abcdef';

function yaml(): string {
  const state = join(mkdtempSync(join(tmpdir(), 'parley-adv-webrtc-')), 'rules.json');
  return apiYaml(state, `  tokens: [{ name: ops, token: ${OPS} }]`);
}

const listen = (p: RunningParley, room: string, token?: string): Promise<ApiAnswer> => call(apiBase(p), 'POST', `/rooms/${room}/webrtc`, { role: 'listen' }, token);

async function metric(p: RunningParley, name: string, labels = ''): Promise<number> {
  const m = await call(apiBase(p), 'GET', '/metrics');
  assert.equal(m.status, 200, m.text);
  const line = m.text.split('\n').find((l) => l.startsWith(labels ? `${name}{${labels}} ` : `${name} `));
  assert.ok(line, `${name}{${labels}} in /metrics`);
  return Number(line.split(' ').at(-1));
}

describe('adversary: a token holder opening browser sessions', () => {
  const parley = parleyPerSuite(yaml(), { media: 'webrtc: { maxSessions: 5, maxSessionsPerToken: 3, timeoutSec: 3600 }' });

  it('past maxSessionsPerToken and maxSessions: 429 naming the key, counted; closing a session or its room frees its place', async () => {
    const p = parley();
    const base = apiBase(p);
    assert.equal((await call(base, 'POST', '/rooms', { name: 'cap' })).status, 201);
    const mine: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await listen(p, 'cap');
      assert.equal(r.status, 201, r.text);
      mine.push(r.body.sessionId);
    }
    const over = await listen(p, 'cap');
    assert.equal(over.status, 429, over.text);
    assert.equal(over.body.error, 'too_many_sessions');
    assert.match(over.body.message, /token 'default' holds 3 browser sessions, media\.webrtc\.maxSessionsPerToken is 3/);
    // Another token has its own share, up to the cap on all sessions.
    for (let i = 0; i < 2; i++) assert.equal((await listen(p, 'cap', OPS)).status, 201);
    const full = await listen(p, 'cap', OPS);
    assert.equal(full.status, 429, full.text);
    assert.match(full.body.message, /5 browser sessions are open, media\.webrtc\.maxSessions is 5/);
    assert.equal(await metric(p, 'parley_webrtc_sessions_refused', 'limit="per_token"'), 1);
    assert.equal(await metric(p, 'parley_webrtc_sessions_refused', 'limit="global"'), 1);
    assert.equal(await metric(p, 'parley_webrtc_sessions'), 5);

    // A session closed frees its place.
    assert.equal((await call(base, 'DELETE', `/webrtc/${mine[0]}`)).status, 200);
    assert.equal((await listen(p, 'cap')).status, 201, 'the freed place is taken again');
    assert.equal((await listen(p, 'cap')).status, 429);

    // The room closing closes its sessions and frees every place.
    assert.equal((await call(base, 'DELETE', '/rooms/cap')).status, 200);
    await waitFor('the sessions closed with their room', () => (p.app.webrtc!.size === 0 ? true : undefined), 10_000);
    assert.equal((await call(base, 'POST', '/rooms', { name: 'cap2' })).status, 201);

    // A burst of concurrent requests: the places are taken before anything is awaited.
    const burst = await Promise.all(Array.from({ length: 10 }, () => listen(p, 'cap2')));
    const codes = burst.map((r) => r.status).sort();
    assert.deepEqual(codes, [201, 201, 201, 429, 429, 429, 429, 429, 429, 429], JSON.stringify(burst.map((r) => r.text)));
    assert.equal(p.app.webrtc!.size, 3);
    assert.equal((await call(base, 'DELETE', '/rooms/cap2')).status, 200);
  });

  it('bodies mediasoup cannot take are 400s, not 500s; an unknown room has no session list (404)', async () => {
    const p = parley();
    const base = apiBase(p);
    assert.equal((await call(base, 'POST', '/rooms', { name: 'shapes' })).status, 201);
    const part = await call(base, 'POST', '/rooms/shapes/webrtc', { role: 'participant' });
    assert.equal(part.status, 201, part.text);
    const produce = await call(base, 'POST', `/webrtc/${part.body.sessionId}/produce`, { kind: 'audio', rtpParameters: { codecs: [{ mimeType: 5 }] } });
    assert.equal(produce.status, 400, produce.text);
    assert.match(produce.body.message, /body\.rtpParameters\.codecs/);
    const lis = await listen(p, 'shapes');
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 3000; i++) deep = { x: deep };
    const consume = await call(base, 'POST', `/webrtc/${lis.body.sessionId}/consume`, { rtpCapabilities: { codecs: [deep] } });
    assert.equal(consume.status, 400, consume.text);
    assert.equal(consume.body.field, 'body.rtpCapabilities');
    assert.equal((await call(base, 'GET', '/rooms/shapes/webrtc')).body.length, 2);
    // A browser on the roster takes mute, unmute and kick; the rest is a clear 409, not "no leg".
    const leg = part.body.legId as string;
    assert.equal((await call(base, 'POST', `/rooms/shapes/legs/${leg}/mute`)).status, 200);
    for (const [path, body] of [[`/rooms/shapes/legs/${leg}/deafen`, undefined], [`/rooms/shapes/legs/${leg}/coach`, { listeners: null }], ['/rooms/shapes/play', { tone: 'beep', leg }]] as const) {
      const r = await call(base, 'POST', path, body);
      assert.equal(r.status, 409, `${path}: ${r.text}`);
      assert.match(r.body.message, /is a browser: it can be muted, unmuted or kicked/);
    }
    const none = await call(base, 'GET', '/rooms/nope/webrtc');
    assert.equal(none.status, 404, none.text);
    assert.equal((await call(base, 'DELETE', '/rooms/shapes')).status, 200);
  });

  it('joins racing the room closing, produce racing DELETE: 201 or 404, never 500 or 503', async () => {
    const p = parley();
    const base = apiBase(p);
    const opus = { kind: 'audio', rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 }], encodings: [{ ssrc: 4242 }], rtcp: { cname: 'x' } } };
    const seen = new Set<number>();
    for (let i = 0; i < 8; i++) {
      assert.equal((await call(base, 'POST', '/rooms', { name: `race${i}` })).status, 201);
      const joins = [0, 1, 2].map(() => listen(p, `race${i}`));
      await new Promise((r) => setTimeout(r, i % 3));
      const [closed, ...answers] = await Promise.all([call(base, 'DELETE', `/rooms/race${i}`), ...joins]);
      assert.equal(closed.status, 200);
      for (const a of answers) {
        assert.ok(a.status === 201 || a.status === 404, a.text);
        seen.add(a.status);
      }
      assert.equal((await call(base, 'POST', '/rooms', { name: `race${i}` })).status, 201);
      const part = await call(base, 'POST', `/rooms/race${i}/webrtc`, { role: 'participant' });
      assert.equal(part.status, 201, part.text);
      const produced = call(base, 'POST', `/webrtc/${part.body.sessionId}/produce`, opus);
      await new Promise((r) => setTimeout(r, i));
      const [gone, prod] = await Promise.all([call(base, 'DELETE', `/webrtc/${part.body.sessionId}`), produced]);
      assert.equal(gone.status, 200);
      assert.ok(prod.status === 201 || prod.status === 404, prod.text);
      seen.add(prod.status);
      await call(base, 'DELETE', `/rooms/race${i}`);
    }
    await waitFor('every session closed', () => (p.app.webrtc!.size === 0 ? true : undefined), 10_000);
    assert.ok(seen.has(404), `some request lost the race (${[...seen]})`);
  });
});

describe('adversary: browser sessions abandoned before ICE', () => {
  const parley = parleyPerSuite(yaml(), { media: 'webrtc: { maxSessionsPerToken: 1, timeoutSec: 10 }' });

  it('a session that never connects times out (media.webrtc.timeoutSec) and frees its place', async () => {
    const p = parley();
    const base = apiBase(p);
    assert.equal((await call(base, 'POST', '/rooms', { name: 'idle' })).status, 201);
    const first = await listen(p, 'idle');
    assert.equal(first.status, 201, first.text);
    assert.equal((await listen(p, 'idle')).status, 429);
    // Junk to its port all along (anyone can send it) proves no browser: the session still times out.
    const junk = dgram.createSocket('udp4');
    const port = first.body.recvTransport.iceCandidates[0].port as number;
    const spray = setInterval(() => junk.send(Buffer.alloc(100, 0x55), port, '127.0.0.1'), 500);
    after(() => {
      clearInterval(spray);
      junk.close();
    });
    await waitFor('the abandoned session timed out', async () => ((await call(base, 'GET', `/webrtc/${first.body.sessionId}`)).status === 404 ? true : undefined), 60_000);
    const again = await listen(p, 'idle');
    assert.equal(again.status, 201, again.text);
  });
});
