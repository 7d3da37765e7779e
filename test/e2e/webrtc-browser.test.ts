// Browsers in a conference room, in a real headless Chromium through mediasoup
// (WebRtcTransport, DTLS-SRTP, Opus), with two SIPp callees dialled into the
// room: A says 440 Hz, B is silent. A browser participant says 1 kHz (its fake
// microphone): it hears A's 440 Hz and not its own 1 kHz (mix-minus), A hears
// it; a listener hears both and is heard by nobody; a whisper to B is heard by
// B only; a browser that vanishes (its process killed) leaves the room within
// media.webrtc.timeoutSec; sessions that do not exist, rooms that do not
// exist, roles that may not produce are refused; closing the room closes its
// browser sessions.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'puppeteer-core';
import { apiBase, apiYaml, call, TEST_TOKEN } from '../helpers/api-client.ts';
import { purity, rms } from '../helpers/audio-analysis.ts';
import { haveChromium, heardLevels, launchChromium, toneWav } from '../helpers/chromium.ts';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { startSipp } from '../helpers/sipp.ts';
import { waitFor } from '../helpers/wait.ts';
import { SCENARIOS, type Peer } from './helpers.ts';

const A_HZ = 440;
const BROWSER_HZ = 1000;
const FLOOR_HZ = 700;
const TIMEOUT_SEC = 10;

/** A SIPp callee that stays up for the whole file, its Node RTP peer saying `hz` (null: silence). */
async function callee(hz: number | null): Promise<Peer> {
  const rtp = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
  rtp.start(hz === null ? { kind: 'silence' } : { kind: 'tone', freq: hz, amplitude: 8000 });
  const s = await startSipp({ scenario: `${SCENARIOS}/callee.xml`, transport: 'udp', calls: 1, timeoutS: 300, extra: ['-key', 'rtpport', String(rtp.port)] });
  return { rtp, port: s.port, done: s.done, messages: s.messages, kill: s.kill };
}

/** What a SIP peer heard over the next second: each tone's share (median over 100 ms blocks) and the level. */
async function sipHears(peer: RtpPeer, hz: number[]): Promise<{ share: Record<number, number>; rms: number }> {
  const from = peer.received.length;
  await waitFor('a second of RTP at the SIP peer', () => peer.received.length >= from + 60, 10_000);
  const pcm = peer.decoded(from + 10).subarray(0, 8000);
  const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
  const blocks = (f: (s: number) => number): number => {
    const v: number[] = [];
    for (let s = 0; s + 800 <= pcm.length; s += 800) v.push(f(s));
    return median(v);
  };
  const share: Record<number, number> = {};
  for (const f of hz) share[f] = blocks((s) => purity(pcm, 8000, f, s, 800));
  return { share, rms: blocks((s) => rms(pcm, s, 800)) };
}

async function openPage(browser: Browser, base: string, room: string, fragment: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(`${base}/webrtc/join/${room}#token=${TEST_TOKEN}&processing=off&${fragment}`);
  await page.waitForFunction(() => (globalThis as unknown as { parley: { state: string } }).parley.state !== 'starting', { timeout: 20_000 });
  const state = await page.evaluate(() => (globalThis as unknown as { parley: { state: string; error: unknown } }).parley);
  assert.equal(state.state, 'live', `the page joined: ${JSON.stringify(state.error)}`);
  return page;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const pageSession = (page: Page): Promise<any> => page.evaluate(() => {
  const s = (globalThis as unknown as { parley: { session: { sessionId: string; legId: string } } }).parley.session;
  return { sessionId: s.sessionId, legId: s.legId };
});

/** A tone is "heard" at least 20 dB over the level between the tones, "absent" within 10 dB of it. */
function judge(levels: Record<number, number>, present: number[], absent: number[]): void {
  const floor = levels[FLOOR_HZ]!;
  const text = Object.entries(levels).map(([f, db]) => `${f} Hz ${db.toFixed(1)} dB`).join(', ');
  for (const f of present) assert.ok(levels[f]! - floor > 20, `${f} Hz is heard (${text})`);
  for (const f of absent) assert.ok(levels[f]! - floor < 10, `${f} Hz is not heard (${text})`);
}

describe('browsers in a room: real Chromium through mediasoup, SIPp legs, audio checked', { skip: !haveChromium() && 'chromium is not installed (scripts/setup.sh)' }, () => {
  let parley: RunningParley;
  let base: string;
  let a: Peer;
  let b: Peer;
  let legA = '';
  let legB = '';
  let browser: Browser;
  let dir: string;
  let participant: Page;
  let listener: Page;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-webrtc-'));
    parley = await startParley(
      `
routing: { rules: [] }
` + apiYaml(join(dir, 'rules.json')),
      { media: `webrtc: { timeoutSec: ${TIMEOUT_SEC} }` },
    );
    base = apiBase(parley);
    a = await callee(A_HZ);
    b = await callee(null);
    let r = await call(base, 'POST', '/rooms', { name: 'standup' });
    assert.equal(r.status, 201);
    r = await call(base, 'POST', '/rooms/standup/dial', { to: `sip:alice@127.0.0.1:${a.port}` });
    assert.equal(r.status, 201, r.text);
    legA = r.body.leg;
    r = await call(base, 'POST', '/rooms/standup/dial', { to: `sip:bob@127.0.0.1:${b.port}` });
    assert.equal(r.status, 201, r.text);
    legB = r.body.leg;
    browser = await launchChromium(toneWav(dir, BROWSER_HZ));
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    a?.kill();
    b?.kill();
    await a?.rtp.close();
    await b?.rtp.close();
    await parley?.stop();
  });

  it('a participant hears the room minus itself, the SIP legs hear it, the roster shows it', async () => {
    participant = await openPage(browser, base, 'standup', 'role=participant&name=Ann');
    const { legId, sessionId } = await pageSession(participant);
    const room = await call(base, 'GET', '/rooms/standup');
    const entry = room.body.roster.find((e: { leg: string }) => e.leg === legId);
    assert.ok(entry, `the browser is on the roster: ${JSON.stringify(room.body.roster)}`);
    assert.equal(entry.displayName, 'Ann');
    const s = await waitFor('DTLS connected', async () => {
      const r = await call(base, 'GET', `/webrtc/${sessionId}`);
      assert.equal(r.status, 200);
      return r.body.dtlsState === 'connected' ? r.body : undefined;
    });
    assert.equal(s.role, 'participant');
    // Its voice activity reaches the roster like a SIP leg's (the console shows who talks).
    await waitFor('the roster says the browser talks', async () =>
      (await call(base, 'GET', '/rooms/standup')).body.roster.find((e: { leg: string }) => e.leg === legId)?.talking === true);
    // A hears the browser's 1 kHz (through the mixer: decoded Opus, mixed, PCMU).
    await waitFor('A hears the browser', async () => (await sipHears(a.rtp, [BROWSER_HZ])).share[BROWSER_HZ]! > 0.3, 15_000);
    const atB = await sipHears(b.rtp, [A_HZ, BROWSER_HZ]);
    assert.ok(atB.share[A_HZ]! > 0.15 && atB.share[BROWSER_HZ]! > 0.15, `B hears A and the browser: ${JSON.stringify(atB.share)}`);
    // The page hears A's 440 Hz and not its own 1 kHz: its own mix-minus.
    judge(await heardLevels(participant, [A_HZ, BROWSER_HZ, FLOOR_HZ]), [A_HZ], [BROWSER_HZ]);
  });

  it('the room API mutes a browser participant by its leg id (roster too), and unmutes it', async () => {
    const { legId } = await pageSession(participant);
    assert.equal((await call(base, 'POST', `/rooms/standup/legs/${legId}/mute`)).status, 200);
    await waitFor('A no longer hears the muted browser', async () => (await sipHears(a.rtp, [BROWSER_HZ])).share[BROWSER_HZ]! < 0.05, 10_000);
    const room = await call(base, 'GET', '/rooms/standup');
    assert.equal(room.body.roster.find((e: { leg: string }) => e.leg === legId).muted, true);
    assert.equal((await call(base, 'POST', `/rooms/standup/legs/${legId}/unmute`)).status, 200);
    await waitFor('A hears the browser again', async () => (await sipHears(a.rtp, [BROWSER_HZ])).share[BROWSER_HZ]! > 0.3, 10_000);
  });

  it('a listener hears everyone (the mix) and is heard by nobody; it may not produce', async () => {
    listener = await openPage(browser, base, 'standup', 'role=listen');
    judge(await heardLevels(listener, [A_HZ, BROWSER_HZ, FLOOR_HZ]), [A_HZ, BROWSER_HZ], []);
    const { sessionId, legId } = await pageSession(listener);
    const room = await call(base, 'GET', '/rooms/standup');
    assert.ok(!room.body.roster.some((e: { leg: string }) => e.leg === legId), 'a listener is not on the roster');
    const r = await call(base, 'POST', `/webrtc/${sessionId}/produce`, { kind: 'audio', rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }] } });
    assert.equal(r.status, 403, r.text);
    const again = await call(base, 'POST', `/webrtc/${sessionId}/consume`, { rtpCapabilities: { codecs: [] } });
    assert.equal(again.status, 409, 'one consumer per session');
  });

  it('a participant that leaves (DELETE) leaves the roster and is no longer heard', async () => {
    const { sessionId, legId } = await pageSession(participant);
    const r = await call(base, 'DELETE', `/webrtc/${sessionId}`);
    assert.equal(r.status, 200);
    assert.equal((await call(base, 'GET', `/webrtc/${sessionId}`)).status, 404);
    const room = await call(base, 'GET', '/rooms/standup');
    assert.ok(!room.body.roster.some((e: { leg: string }) => e.leg === legId), 'gone from the roster');
    await waitFor('A no longer hears the browser', async () => (await sipHears(a.rtp, [BROWSER_HZ])).share[BROWSER_HZ]! < 0.05, 10_000);
    await participant.close();
  });

  it('a whisper to B is heard by B only (not by A, not in the mix)', async () => {
    const whisper = await openPage(browser, base, 'standup', `role=whisper&target=${encodeURIComponent(legB)}`);
    await waitFor('B hears the whisper', async () => (await sipHears(b.rtp, [BROWSER_HZ])).share[BROWSER_HZ]! > 0.3, 15_000);
    const atA = await sipHears(a.rtp, [BROWSER_HZ]);
    assert.ok(atA.rms < 0.005, `A hears nothing (B is silent, the whisper is not for A): rms ${atA.rms.toFixed(4)}`);
    judge(await heardLevels(listener, [A_HZ, BROWSER_HZ, FLOOR_HZ]), [A_HZ], [BROWSER_HZ]);
    // The whisperer hears the room (A).
    judge(await heardLevels(whisper, [A_HZ, BROWSER_HZ, FLOOR_HZ]), [A_HZ], []);
  });

  it('refuses what does not exist and what a session may not do', async () => {
    const forged = 'AAAAAAAAAAAAAAAAAAAAAA';
    for (const [method, path, body] of [
      ['GET', `/webrtc/${forged}`, undefined],
      ['POST', `/webrtc/${forged}/connect`, { transportId: 'x', dtlsParameters: { fingerprints: [{ algorithm: 'sha-256', value: 'AA' }] } }],
      ['POST', `/webrtc/${forged}/produce`, { kind: 'audio', rtpParameters: { codecs: [{}] } }],
      ['POST', `/webrtc/${forged}/consume`, { rtpCapabilities: { codecs: [] } }],
      ['DELETE', `/webrtc/${forged}`, undefined],
    ] as const) {
      const r = await call(base, method, path, body);
      assert.equal(r.status, 404, `${method} ${path}: ${r.text}`);
    }
    const { sessionId } = await pageSession(listener);
    assert.equal((await call(base, 'GET', `/webrtc/${sessionId}`, undefined, null)).status, 401, 'no token');
    assert.equal((await call(base, 'GET', `/webrtc/${sessionId}`, undefined, 'wrong-token-wrong-token')).status, 401, 'a wrong token');
    let r = await call(base, 'POST', '/rooms/nowhere/webrtc', { role: 'participant' });
    assert.equal(r.status, 404);
    assert.match(r.body.message, /no room 'nowhere'/);
    r = await call(base, 'POST', '/rooms/standup/webrtc', { role: 'whisper' });
    assert.equal(r.status, 400);
    assert.equal(r.body.field, 'body.targetLegId');
    r = await call(base, 'POST', '/rooms/standup/webrtc', { role: 'whisper', targetLegId: 'nobody' });
    assert.equal(r.status, 404);
    r = await call(base, 'POST', '/rooms/standup/webrtc', { role: 'listen', targetLegId: legA });
    assert.equal(r.status, 400, 'only a whisper has a target');
    r = await call(base, 'POST', '/rooms/standup/webrtc', { role: 'owner' });
    assert.equal(r.body.field, 'body.role');
    r = await call(base, 'POST', '/rooms/standup/webrtc', { role: 'participant', uri: `sip:alice@127.0.0.1:${a.port}` });
    assert.equal(r.status, 409, 'a URI already on the roster');
    // The page for a room that does not exist says so.
    const page = await browser.newPage();
    await page.goto(`${base}/webrtc/join/nowhere#token=${TEST_TOKEN}&role=listen`);
    await page.waitForFunction(() => (globalThis as unknown as { parley: { state: string } }).parley.state === 'error', { timeout: 20_000 });
    const shown = await page.$eval('#status', (el) => el.textContent ?? '');
    assert.match(shown, /does not exist/);
    await page.close();
  });

  it('a barging browser whose tab is closed leaves at once (the page says so on pagehide), a kicked one too', async () => {
    const conf = (await parley.app.conferences!.get('standup'))!;
    const left = new Map<string, string>();
    conf.roster.on('leave', (e, reason) => left.set(e.legId, reason));
    const page = await openPage(browser, base, 'standup', 'role=barge&name=Boss');
    const { sessionId, legId } = await pageSession(page);
    assert.ok(conf.roster.get(legId), 'a barging supervisor is on the roster');
    await page.close({ runBeforeUnload: true });
    await waitFor('the session closed', async () => (await call(base, 'GET', `/webrtc/${sessionId}`)).status === 404, 20_000);
    // The page's pagehide leave() closes its transports (DTLS close_notify) and DELETEs its session, whichever lands first.
    assert.ok(['browser closed', 'browser dtls-closed'].includes(left.get(legId) ?? ''), `the closing page said so, no timeout needed: ${left.get(legId)}`);
    const kicked = await openPage(browser, base, 'standup', 'role=participant&name=Kicked');
    const k = await pageSession(kicked);
    assert.equal((await call(base, 'DELETE', `/rooms/standup/legs/${k.legId}`)).status, 200);
    assert.equal((await call(base, 'GET', `/webrtc/${k.sessionId}`)).status, 404);
    assert.equal(left.get(k.legId), 'browser kicked');
    await kicked.waitForFunction(() => (globalThis as unknown as { parley: { state: string } }).parley.state === 'left', { timeout: 20_000 });
    // Told by Parley (the session is gone), not by its ICE failing later.
    assert.equal(await kicked.$eval('#status', (el) => el.textContent), 'Disconnected (removed)');
    await kicked.close();
  });

  it('a browser that vanishes (its process killed) leaves the room within media.webrtc.timeoutSec', async () => {
    const other = await launchChromium(toneWav(dir, 600));
    try {
      const page = await openPage(other, base, 'standup', 'role=participant&name=Gone');
      const { sessionId, legId } = await pageSession(page);
      const killedAt = Date.now();
      other.process()!.kill('SIGKILL');
      await waitFor('the session closed', async () => (await call(base, 'GET', `/webrtc/${sessionId}`)).status === 404, (TIMEOUT_SEC + 20) * 1000);
      const room = await call(base, 'GET', '/rooms/standup');
      assert.ok(!room.body.roster.some((e: { leg: string }) => e.leg === legId), 'gone from the roster');
      // Nothing told Parley: only the silence of the transport did (a closed tab would have closed DTLS at once).
      assert.ok(Date.now() - killedAt >= (TIMEOUT_SEC - 2) * 1000, `closed by the timeout, ${Date.now() - killedAt} ms after the kill`);
    } finally {
      await other.close().catch(() => undefined);
    }
  });

  it('closing the room closes its browser sessions', async () => {
    const sessions = await call(base, 'GET', '/rooms/standup/webrtc');
    assert.ok(sessions.body.length >= 2, `the listener and the whisper: ${sessions.text}`);
    assert.equal((await call(base, 'DELETE', '/rooms/standup')).status, 200);
    for (const s of sessions.body) assert.equal((await call(base, 'GET', `/webrtc/${s.sessionId}`)).status, 404);
    assert.equal(parley.app.webrtc?.size, 0);
  });
});
