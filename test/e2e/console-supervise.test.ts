// Listen in, whisper and barge from the web console, in headless Chromium with a
// fake microphone (a 1 kHz tone), on a conference room of two SIPp callers
// (660 and 880 Hz, Node RTP peers): listening, the page hears both and nobody
// hears it; whispering to carol, carol hears the supervisor and dave does not;
// barging, both hear it and the roster shows the supervisor until it stops.
// Needs the browser-participant module (/webrtc/assets/webrtc-client.js): skipped
// where this Parley does not serve it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { apiBase, apiYaml, TEST_TOKEN } from '../helpers/api-client.ts';
import { toneAmplitude } from '../helpers/audio-analysis.ts';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';
import type { RtpPeer } from '../helpers/rtp-peer.ts';
import { waitFor } from '../helpers/wait.ts';
import { startCaller, type Peer } from './helpers.ts';

const CHROMIUM = process.env.PARLEY_CHROMIUM ?? '/usr/bin/chromium';
const CAROL_HZ = 660;
const DAVE_HZ = 880;
const SUPERVISOR_HZ = 1000;
const ROOM = '[data-test=room][data-room=standup]';

const flows = `
routing:
  rules:
    - name: standup
      match: { method: INVITE, media: audio }
      actions: [{ app: standup }]
flows:
  standup: [{ conference: { room: standup } }]
`;

/** The level (0..1 of full scale) of `hz` in the second `peer` hears after now (an action takes effect within 300 ms). */
async function levelAfter(peer: RtpPeer, hz: number): Promise<number> {
  const from = peer.received.length;
  await waitFor('65 more packets', () => peer.received.length >= from + 65, 15_000);
  return toneAmplitude(peer.decoded(from + 15).subarray(0, 8000), 8000, hz);
}

/** What the page's supervision audio carries at each frequency (dBFS-like, WebAudio's scale), over a second. */
async function pageHears(page: Page, freqs: number[]): Promise<Record<number, number>> {
  return (await page.evaluate(`(async () => {
    const a = document.querySelector('[data-test=supervise-audio]');
    const ctx = new AudioContext();
    const an = ctx.createAnalyser();
    an.fftSize = 32768;
    an.smoothingTimeConstant = 0;
    ctx.createMediaStreamSource(a.srcObject).connect(an);
    const bins = new Float32Array(an.frequencyBinCount);
    const sum = new Float64Array(bins.length);
    for (let i = 0; i < 6; i++) {
      await new Promise((r) => setTimeout(r, 200));
      an.getFloatFrequencyData(bins);
      for (let j = 0; j < bins.length; j++) sum[j] += Math.pow(10, bins[j] / 10);
    }
    const hz = ctx.sampleRate / an.fftSize;
    await ctx.close();
    const out = {};
    for (const f of ${JSON.stringify(freqs)}) {
      const b = Math.round(f / hz);
      let m = 0;
      for (let j = b - 4; j <= b + 4; j++) m = Math.max(m, sum[j] / 6);
      out[f] = 10 * Math.log10(m);
    }
    return out;
  })()`)) as Record<number, number>;
}

describe('console: listen in, whisper, barge on a conference room (Chromium, SIPp, audio checked)', async () => {
  let parley: RunningParley;
  let base: string;
  let browser: Browser;
  let page: Page;
  let carol: Peer;
  let dave: Peer;
  let carolLeg = '';
  let served = false;

  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-supervise-'));
    parley = await startParley(flows + apiYaml(join(dir, 'rules.json')));
    base = apiBase(parley);
    served = (await fetch(`${base}/webrtc/assets/webrtc-client.js`, { method: 'HEAD' })).ok;
    if (!served) return;
    const wav = join(dir, 'tone.wav');
    execFileSync('sox', ['-n', '-r', '48000', '-c', '1', '-b', '16', wav, 'synth', '10', 'sine', String(SUPERVISOR_HZ), 'vol', '0.5']);
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-dev-shm-usage', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${wav}`, '--autoplay-policy=no-user-gesture-required', '--mute-audio'],
    });
    page = await browser.newPage();
    page.setDefaultTimeout(20_000);
    const extra = ['-timeout', '120s'];
    carol = await startCaller(parley, 'caller-wait-bye.xml', 'sip:standup@127.0.0.1', { extra, fromUser: 'carol', toneHz: CAROL_HZ });
    dave = await startCaller(parley, 'caller-wait-bye.xml', 'sip:standup@127.0.0.1', { extra, fromUser: 'dave', toneHz: DAVE_HZ });
    await page.goto(`${base}/console/`);
    // The page renders its sign-in form once its script has asked whether a session exists.
    await page.waitForSelector('[data-test=signin] #token');
    await page.type('#token', TEST_TOKEN);
    await page.click('[data-test=signin] button[type=submit]');
    await page.waitForFunction(`document.querySelectorAll('${ROOM} [data-test=leg]').length === 2`, { timeout: 30_000 });
    carolLeg = await page.$$eval(`${ROOM} [data-test=leg]`, (ls) => ls.find((l) => /carol/.test(l.textContent ?? ''))?.getAttribute('data-leg') ?? '');
  });

  after(async () => {
    await browser?.close();
    for (const p of [carol, dave]) {
      p?.kill();
      await p?.rtp.close();
    }
    await parley?.stop();
  });

  it('listen: the page hears both callers, nobody hears the supervisor', async (t) => {
    if (!served) return t.skip('this Parley does not serve the browser-participant module');
    await page.click(`${ROOM} [data-test=listen]`);
    await page.waitForSelector(`${ROOM} [data-test=supervising]`);
    const heard = await waitFor('the room in the page', async () => {
      const l = await pageHears(page, [CAROL_HZ, DAVE_HZ, SUPERVISOR_HZ]);
      return l[CAROL_HZ]! > -60 && l[DAVE_HZ]! > -60 ? l : undefined;
    }, 20_000);
    assert.ok(heard[SUPERVISOR_HZ]! < heard[CAROL_HZ]! - 30, `the supervisor's own tone is not in what it hears: ${JSON.stringify(heard)}`);
    assert.ok((await levelAfter(carol.rtp, SUPERVISOR_HZ)) < 0.01, 'carol does not hear the listener');
    assert.ok((await levelAfter(dave.rtp, SUPERVISOR_HZ)) < 0.01, 'dave does not hear the listener');
    await page.click(`${ROOM} [data-test=supervise-stop]`);
    await page.waitForSelector(`${ROOM} [data-test=listen]`);
  });

  it('whisper to carol: carol hears the supervisor, dave does not', async (t) => {
    if (!served) return t.skip('this Parley does not serve the browser-participant module');
    await page.click(`${ROOM} [data-test="whisper-${carolLeg}"]`);
    await page.waitForSelector(`${ROOM} [data-test=supervising]`);
    await waitFor('carol hears the whisper', async () => ((await levelAfter(carol.rtp, SUPERVISOR_HZ)) > 0.02 ? true : undefined), 20_000);
    assert.ok((await levelAfter(dave.rtp, SUPERVISOR_HZ)) < 0.01, 'dave does not hear the whisper');
    assert.ok((await levelAfter(dave.rtp, CAROL_HZ)) > 0.05, 'dave still hears carol');
    await page.click(`${ROOM} [data-test=supervise-stop]`);
    await page.waitForSelector(`${ROOM} [data-test=listen]`);
    await waitFor('the whisper ends', async () => ((await levelAfter(carol.rtp, SUPERVISOR_HZ)) < 0.01 ? true : undefined), 15_000);
  });

  it('barge: both hear the supervisor, who is on the roster until it stops', async (t) => {
    if (!served) return t.skip('this Parley does not serve the browser-participant module');
    await page.click(`${ROOM} [data-test=barge]`);
    await page.waitForFunction(`document.querySelectorAll('${ROOM} [data-test=leg]').length === 3`);
    await waitFor('both hear the supervisor', async () => ((await levelAfter(carol.rtp, SUPERVISOR_HZ)) > 0.02 && (await levelAfter(dave.rtp, SUPERVISOR_HZ)) > 0.02 ? true : undefined), 20_000);
    await page.click(`${ROOM} [data-test=supervise-stop]`);
    await page.waitForFunction(`document.querySelectorAll('${ROOM} [data-test=leg]').length === 2`);
  });

  it('a supervisor that closes its tab leaves at once (pagehide), not after the ICE consent timeout', async (t) => {
    if (!served) return t.skip('this Parley does not serve the browser-participant module');
    await page.click(`${ROOM} [data-test=listen]`);
    await page.waitForSelector(`${ROOM} [data-test=supervising]`);
    assert.equal(parley.app.webrtc!.size, 1);
    const closedAt = performance.now();
    await page.close({ runBeforeUnload: true });
    await waitFor('the listen session closed', () => (parley.app.webrtc!.size === 0 ? true : undefined), 20_000);
    const ms = performance.now() - closedAt;
    assert.ok(ms < 15_000, `left ${Math.round(ms)} ms after the tab closed (media.webrtc.timeoutSec is 30)`);
  });
});
