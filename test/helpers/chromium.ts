// Headless Chromium (Debian's `chromium`, driven by puppeteer-core) for WebRTC
// tests: a fake microphone that plays a WAV file in a loop, no permission
// prompts, audio that plays without a user gesture. What it hears is measured
// in the page with a WebAudio AnalyserNode (the remote stream must also play
// in a media element, or WebAudio gets silence: ../shared/notes/test-peers-2.md).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

export const CHROMIUM = process.env.PARLEY_CHROMIUM ?? '/usr/bin/chromium';

/** Whether the browser is installed (scripts/setup.sh installs it). */
export function haveChromium(): boolean {
  return existsSync(CHROMIUM);
}

/** A WAV of a steady tone (48 kHz mono 16-bit, -12 dBFS) made with sox; Chromium loops it as its microphone. */
export function toneWav(dir: string, hz: number): string {
  const file = join(dir, `tone-${hz}.wav`);
  execFileSync('sox', ['-n', '-r', '48000', '-c', '1', '-b', '16', file, 'synth', '10', 'sine', String(hz), 'vol', '0.25']);
  return file;
}

/** A headless Chromium whose microphone plays `wav`. */
export function launchChromium(wav: string): Promise<Browser> {
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${wav}`,
      '--autoplay-policy=no-user-gesture-required',
      '--disable-background-networking',
      '--disable-background-timer-throttling',
      '--disable-renderer-backgrounding',
      '--disable-backgrounding-occluded-windows',
      '--disable-dev-shm-usage',
      '--no-first-run',
      '--mute-audio',
    ],
  });
}

/**
 * The level (dB, WebAudio's scale) at each frequency of what the page's
 * participant session hears, averaged over `ms`: an AnalyserNode (fftSize
 * 32768: about 1.5 Hz per bin) on `window.parley.session.remoteStream`; each
 * frequency's value is the strongest bin within ±4 bins.
 */
export async function heardLevels(page: Page, freqs: number[], ms = 2000): Promise<Record<number, number>> {
  return page.evaluate(
    async (freqs: number[], ms: number) => {
      // Runs in the page (this project's types have no DOM).
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const w = globalThis as any;
      const ctx = new w.AudioContext();
      const src = ctx.createMediaStreamSource(w.parley.session.remoteStream);
      const an = ctx.createAnalyser();
      an.fftSize = 32768;
      an.smoothingTimeConstant = 0;
      src.connect(an);
      const bins = new Float32Array(an.frequencyBinCount);
      const sum = new Float64Array(bins.length);
      let n = 0;
      const until = performance.now() + ms;
      while (performance.now() < until) {
        await new Promise((r) => setTimeout(r, 200));
        an.getFloatFrequencyData(bins);
        for (let i = 0; i < bins.length; i++) sum[i] += Math.pow(10, bins[i] / 10);
        n++;
      }
      const binHz = ctx.sampleRate / an.fftSize;
      await ctx.close();
      const out: Record<number, number> = {};
      for (const f of freqs) {
        const b = Math.round(f / binHz);
        let m = 0;
        for (let i = b - 4; i <= b + 4; i++) m = Math.max(m, sum[i] / n);
        out[f] = 10 * Math.log10(m || 1e-30);
      }
      return out;
    },
    freqs,
    ms,
  );
}
