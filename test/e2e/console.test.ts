// The web console in a real headless Chromium (Debian's chromium driven by
// puppeteer-core) against a running Parley with a real call: a SIPp caller
// (440 Hz) → the record-notice flow → a SIPp callee (1000 Hz), Node RTP peers on
// both sides. Signs in with the token (an HttpOnly cookie the page cannot read),
// sees the call with its legs, flow, rule, talkers and recording state, mutes the
// caller from the page (the callee's peer hears silence, then the tone again),
// pauses and resumes the recording from the page (silence in the mixed file
// where the sidecar marks the pause), hangs up from the page (both SIPp sides get
// their BYE), plays the recording with its waveform and marks, then: a forged
// cookie is a 401 and the page falls back to the sign-in; sign-out ends the
// session on the server. Screenshots go to $PARLEY_SCREENSHOTS_DIR (default: a
// temp folder; `docs/screenshots` refreshes the README's).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { apiBase, apiYaml, call, TEST_TOKEN } from '../helpers/api-client.ts';
import { readWavFile, rms } from '../helpers/audio-analysis.ts';
import { heardAfter, toneAndLevel } from '../helpers/peer-hearing.ts';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';
import { waitFor } from '../helpers/wait.ts';
import { sippOk, startCallee, startCaller, type Peer } from './helpers.ts';

const CALLER_HZ = 440;
const CALLEE_HZ = 1000;
const CHROMIUM = process.env.PARLEY_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = resolve(process.env.PARLEY_SCREENSHOTS_DIR ?? mkdtempSync(join(tmpdir(), 'parley-console-shots-')));

const flows = `
routing:
  rules:
    - name: standup
      match: { method: INVITE, to: "sip:standup@*" }
      actions: [{ app: standup }]
    - name: gateway
      match: { method: INVITE, media: audio }
      actions: [{ app: record-notice }]
flows:
  record-notice:
    - answer: { early: true }
    - record: { action: start }
    - play: { prompt: record-notice, notice: true }
    - bridge: { ringTimeout: 10 }
  standup: [{ conference: { room: standup } }]
`;
const CAROL_HZ = 660;
const DAVE_HZ = 880;

describe('web console in Chromium with a live call (SIPp, audio checked)', () => {
  let parley: RunningParley;
  let base: string;
  let browser: Browser;
  let page: Page;
  let caller: Peer;
  let callee: Peer;
  let carol: Peer;
  let dave: Peer;
  let callId = '';
  let sessionCookie = '';
  let recordingId = '';

  const shot = async (name: string): Promise<void> => {
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, name) as `${string}.png`, fullPage: true });
  };
  const card = (): string => `[data-test=call][data-call-id="${callId}"]`;

  before(async () => {
    const state = join(mkdtempSync(join(tmpdir(), 'parley-console-e2e-')), 'rules.json');
    parley = await startParley(flows + apiYaml(state), { pauseMode: 'silence' });
    base = apiBase(parley);
    browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    page = await browser.newPage();
    page.setDefaultTimeout(20_000);
    await page.setViewport({ width: 1280, height: 760 });
  });

  after(async () => {
    await browser?.close();
    for (const p of [caller, callee, carol, dave]) {
      p?.kill();
      await p?.rtp.close();
    }
    await parley?.stop();
  });

  it('signs in with the API token: an HttpOnly, SameSite=Strict cookie the page cannot read', async () => {
    await page.goto(`${base}/console/`);
    await page.waitForSelector('[data-test=signin]');
    await page.type('#token', 'not-the-token-0123456789');
    await page.click('[data-test=signin] button[type=submit]');
    await page.waitForSelector('[role=alert]');
    assert.match(await page.$eval('[role=alert]', (e) => e.textContent ?? ''), /Wrong token/);
    await page.$eval('#token', (e) => ((e as unknown as { value: string }).value = ''));
    await page.type('#token', TEST_TOKEN);
    await page.click('[data-test=signin] button[type=submit]');
    await page.waitForSelector('[data-test=stream-state].up, .conn.up');
    const cookies = await browser.cookies();
    const c = cookies.find((x) => x.name === 'parley_console');
    assert.ok(c, 'the session cookie is set');
    assert.equal(c.httpOnly, true);
    assert.equal(c.sameSite, 'Strict');
    assert.ok(c.expires > Date.now() / 1000 + 3600, 'it expires (api.console.sessionTtlSec, 8 h by default)');
    assert.equal(await page.evaluate('document.cookie'), '', 'scripts cannot read it');
    sessionCookie = `parley_console=${c.value}`;
  });

  it('shows the live call with its legs, flow, rule, talkers and recording state', async () => {
    callee = await startCallee('callee.xml', CALLEE_HZ);
    // A global SIPp timeout long enough for a loaded machine: the test, not SIPp, decides when the call ends.
    caller = await startCaller(parley, 'caller-wait-bye.xml', `sip:bob@127.0.0.1:${callee.port}`, { toneHz: CALLER_HZ, extra: ['-timeout', '120s'] });
    await page.waitForSelector('[data-test=call] [data-leg=callee]', { timeout: 30_000 });
    callId = await page.$eval('[data-test=call]', (e) => e.getAttribute('data-call-id') ?? '');
    const listed = (await call(base, 'GET', '/calls')).body as { id: string }[];
    assert.deepEqual(listed.map((x) => x.id), [callId]);
    assert.equal(await page.$eval(`${card()} [data-test=flow]`, (e) => e.textContent), 'record-notice');
    assert.equal(await page.$eval(`${card()} [data-test=rule]`, (e) => e.textContent), 'gateway');
    assert.match(await page.$eval(`${card()} .from`, (e) => e.textContent ?? ''), /^sip:alice@127\.0\.0\.1/);
    assert.equal(await page.$eval(`${card()} .to`, (e) => e.textContent), `sip:bob@127.0.0.1:${callee.port}`);
    await page.waitForSelector(`${card()} [data-test=rec-state].recording`);
    // Both parties send a tone: both legs show as talking.
    await page.waitForSelector(`${card()} [data-leg=caller].talking`);
    await page.waitForSelector(`${card()} [data-leg=callee].talking`);
    // Two more callers in a conference room: the room and its roster.
    const conf = { extra: ['-timeout', '120s'] };
    carol = await startCaller(parley, 'caller-wait-bye.xml', 'sip:standup@127.0.0.1', { ...conf, fromUser: 'carol', toneHz: CAROL_HZ });
    dave = await startCaller(parley, 'caller-wait-bye.xml', 'sip:standup@127.0.0.1', { ...conf, fromUser: 'dave', toneHz: DAVE_HZ });
    await page.waitForFunction(`document.querySelectorAll('[data-test=room][data-room=standup] [data-test=leg].talking').length === 2`, { timeout: 30_000 });
    await shot('console-live.png');
  });

  it('a conference room from the console: mute a leg (the other stops hearing it), kick it (its caller gets a BYE)', async () => {
    const room = '[data-test=room][data-room=standup]';
    const carolLeg = await page.$$eval(`${room} [data-test=leg]`, (ls) => ls.find((l) => /carol/.test(l.textContent ?? ''))?.getAttribute('data-leg') ?? '');
    assert.ok(carolLeg, 'carol is on the roster');
    const before = toneAndLevel(await heardAfter(dave.rtp, dave.rtp.received.length), CAROL_HZ);
    assert.ok(before.share > 0.6, `dave hears carol: share ${before.share.toFixed(3)}`);
    await page.click(`${room} [data-test="mute-${carolLeg}"]`);
    const muted = toneAndLevel(await heardAfter(dave.rtp, dave.rtp.received.length), CAROL_HZ);
    assert.ok(muted.rms < 0.005, `carol muted: dave hears silence (rms ${muted.rms.toFixed(4)})`);
    await page.click(`${room} [data-test="kick-${carolLeg}"]`);
    sippOk(await carol.done, 'carol');
    await page.waitForFunction(`document.querySelectorAll('[data-test=room][data-room=standup] [data-test=leg]').length === 1`);
  });

  it('mute from the console: the callee stops hearing the caller; unmute brings it back', async () => {
    const before = toneAndLevel(await heardAfter(callee.rtp, callee.rtp.received.length), CALLER_HZ);
    assert.ok(before.share > 0.6, `the callee hears the caller first: share ${before.share.toFixed(3)}`);
    await page.click(`${card()} [data-test=mute-caller]`);
    await page.waitForSelector(`${card()} [data-leg=caller].muted`);
    const muted = toneAndLevel(await heardAfter(callee.rtp, callee.rtp.received.length), CALLER_HZ);
    assert.ok(muted.rms < 0.005, `muted: the callee hears silence (rms ${muted.rms.toFixed(4)})`);
    await page.click(`${card()} [data-test=unmute-caller]`);
    await page.waitForSelector(`${card()} [data-leg=caller]:not(.muted)`);
    const back = toneAndLevel(await heardAfter(callee.rtp, callee.rtp.received.length), CALLER_HZ);
    assert.ok(back.share > 0.6, `unmuted: share ${back.share.toFixed(3)}`);
  });

  it('pause and resume the recording from the console: the live view follows the recording.state events', async () => {
    await page.click(`${card()} [data-test=rec-pause]`);
    await page.waitForSelector(`${card()} [data-test=rec-state].paused`);
    await heardAfter(callee.rtp, callee.rtp.received.length); // a second of call while paused
    await page.click(`${card()} [data-test=rec-resume]`);
    await page.waitForSelector(`${card()} [data-test=rec-state].recording`);
    await heardAfter(callee.rtp, callee.rtp.received.length);
  });

  it('hang up from the console: both SIPp sides get a BYE, the call moves to Ended', async () => {
    await page.click(`${card()} [data-test=hangup]`);
    sippOk(await caller.done, 'caller');
    sippOk(await callee.done, 'callee');
    await page.waitForSelector(`[data-test=ended][data-call-id="${callId}"]`);
    await page.waitForFunction(`!document.querySelector('${card()}')`);
    assert.match(await page.$eval(`[data-test=ended][data-call-id="${callId}"]`, (e) => e.textContent ?? ''), /sip:alice@/);
    assert.equal((await call(base, 'GET', `/calls/${encodeURIComponent(callId)}`)).status, 404);
  });

  it('the recording holds silence where the console paused it, sound around it', async () => {
    const rec = await waitFor('the recording finalized', async () => {
      const list = (await call(base, 'GET', '/recordings')).body as { id: string; state: string }[];
      return list.find((r) => r.state === 'finalized');
    }, 30_000);
    recordingId = rec.id;
    const meta = (await call(base, 'GET', `/recordings/${rec.id}`)).body;
    assert.equal(meta.pauses.length, 1);
    const p = meta.pauses[0];
    const pausedMs = p.end.fileMs - p.start.fileMs;
    assert.ok(pausedMs > 700, `paused ${pausedMs} ms`);
    const mix = readWavFile(join(parley.recordingDir, meta.mix.file));
    const at = (ms: number): number => Math.round((ms * mix.sampleRate) / 1000);
    const gap = rms(mix.samples, at(p.start.fileMs + 60), at(pausedMs - 120));
    const before = rms(mix.samples, at(p.start.fileMs - 500), at(400));
    const afterPause = rms(mix.samples, at(p.end.fileMs + 100), at(400));
    assert.ok(gap < 0.002, `silence while paused: rms ${gap.toFixed(4)}`);
    assert.ok(before > 0.05 && afterPause > 0.05, `sound before (${before.toFixed(3)}) and after (${afterPause.toFixed(3)})`);
  });

  it('plays the recording in the page: waveform from the WAV, the notice and the pause marked', async () => {
    await page.click('[data-test=nav-recordings]');
    await page.waitForSelector(`[data-test=recording][data-id="${recordingId}"]`);
    await page.click(`[data-test=recording][data-id="${recordingId}"] a`);
    await page.waitForSelector('[data-test=waveform][data-ready="1"]');
    const marks = await page.$$eval('[data-test=marks] li', (l) => l.map((x) => x.getAttribute('data-test')));
    assert.ok(marks.includes('mark-notice') && marks.includes('mark-pause'), `marks: ${marks.join(', ')}`);
    // Drawn: most columns of the canvas carry the waveform's colour somewhere. The page draws in
    // an effect after the render that sets data-ready (and once the recording's metadata is in), so
    // the share is read until it is there or 5 s have passed, then judged.
    // (Browser code as a string: the tests' tsconfig has no DOM types.)
    const share = `(() => {
      const canvas = document.querySelector('[data-test=waveform]');
      const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      let dark = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] < 150 && d[i + 2] > 100) dark++;
      return dark / (canvas.width * canvas.height);
    })()`;
    await page.waitForFunction(`${share} > 0.05`, { timeout: 5000 }).catch(() => undefined);
    const drawn = (await page.evaluate(share)) as number;
    assert.ok(drawn > 0.05, `waveform pixels: ${(drawn * 100).toFixed(1)} %`);
    const meta = (await call(base, 'GET', `/recordings/${recordingId}`)).body;
    const seconds = await page.waitForFunction(`(() => {
      const a = document.querySelector('[data-test=audio]');
      return a && Number.isFinite(a.duration) && a.duration > 0 ? a.duration : false;
    })()`);
    const duration = (await seconds.jsonValue()) as number;
    assert.ok(Math.abs(duration * 1000 - meta.durationMs) < 100, `the player has the mix: ${duration} s vs ${meta.durationMs} ms`);
    const verify = await page.$eval('[data-test=verify]', (e) => e.textContent ?? '');
    assert.ok(verify.length > 0 && !/verifying/.test(verify), verify);
    await shot('console-recording.png');
  });

  it('signs out: the page shows the sign-in, the old cookie gets 401', async () => {
    await page.click('[data-test=nav-live]');
    await page.click('[data-test=signout]');
    await page.waitForSelector('[data-test=signin]');
    const r = await fetch(`${base}/calls`, { headers: { cookie: sessionCookie } });
    assert.equal(r.status, 401);
  });

  it('a forged cookie gets 401 and the page asks to sign in', async () => {
    await browser.setCookie({ name: 'parley_console', value: 'A'.repeat(43), domain: '127.0.0.1', path: '/', httpOnly: true, sameSite: 'Strict' });
    await page.reload();
    await page.waitForSelector('[data-test=signin]');
    const status = await page.evaluate(async () => (await fetch('/calls', { credentials: 'same-origin' })).status);
    assert.equal(status, 401);
  });
});
