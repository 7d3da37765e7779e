// Tone generators: every tone is rendered once to mono Int16 at the room rate.
// Amplitudes stay well below full scale so that a mixer sum does not clip, and
// every burst has 5 ms ramps so that it starts and ends without a click.
import { dtmfFrequencies } from '../dtmf/dtmf-keys.ts';

export type ToneSpec =
  | { kind: 'beep'; frequencyHz?: number; durationMs?: number }
  | { kind: 'dtmf'; digits: string; toneMs?: number; gapMs?: number }
  /** 440 + 480 Hz, 2 s on, 4 s off (North American cadence); durationMs defaults to one cycle. */
  | { kind: 'ringback'; durationMs?: number; onMs?: number; offMs?: number }
  | { kind: 'silence'; durationMs: number };

export { dtmfFrequencies };

const MAX_TONE_MS = 10 * 60 * 1000;

export class ToneError extends Error {
  override name = 'ToneError';
}

export function renderTone(spec: ToneSpec, sampleRate: number): Int16Array {
  switch (spec.kind) {
    case 'beep': {
      const ms = checkMs(spec.durationMs ?? 250);
      const out = new Int16Array(samples(ms, sampleRate));
      addSine(out, 0, out.length, spec.frequencyHz ?? 1000, 0.3, sampleRate);
      return out;
    }
    case 'dtmf': {
      const toneMs = checkMs(spec.toneMs ?? 100);
      const gapMs = checkMs(spec.gapMs ?? 100);
      const digits = [...spec.digits];
      if (digits.length === 0) throw new ToneError('dtmf: no digits');
      const toneLen = samples(toneMs, sampleRate);
      const step = toneLen + samples(gapMs, sampleRate);
      const out = new Int16Array(step * digits.length);
      digits.forEach((d, i) => {
        const f = dtmfFrequencies(d);
        if (!f) throw new ToneError(`dtmf: '${d}' is not a DTMF digit`);
        addSine(out, i * step, toneLen, f[0], 0.22, sampleRate);
        addSine(out, i * step, toneLen, f[1], 0.22, sampleRate);
      });
      return out;
    }
    case 'ringback': {
      const onMs = checkMs(spec.onMs ?? 2000);
      const offMs = checkMs(spec.offMs ?? 4000);
      const total = checkMs(spec.durationMs ?? onMs + offMs);
      const out = new Int16Array(samples(total, sampleRate));
      const cycle = samples(onMs + offMs, sampleRate);
      const on = samples(onMs, sampleRate);
      for (let start = 0; start < out.length; start += cycle) {
        const len = Math.min(on, out.length - start);
        addSine(out, start, len, 440, 0.2, sampleRate);
        addSine(out, start, len, 480, 0.2, sampleRate);
      }
      return out;
    }
    case 'silence':
      return new Int16Array(samples(checkMs(spec.durationMs), sampleRate));
    default:
      throw new ToneError(`unknown tone kind '${(spec as { kind: string }).kind}'`);
  }
}

function checkMs(ms: number): number {
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_TONE_MS) throw new ToneError(`tone duration ${ms} ms out of range`);
  return ms;
}

function samples(ms: number, rate: number): number {
  return Math.round((ms * rate) / 1000);
}

/** Adds a sine burst with 5 ms raised-cosine ramps into out[start, start+len). */
function addSine(out: Int16Array, start: number, len: number, hz: number, amplitude: number, rate: number): void {
  const ramp = Math.min(Math.round(rate * 0.005), len >> 1);
  const w = (2 * Math.PI * hz) / rate;
  for (let i = 0; i < len; i++) {
    let g = amplitude * 32767;
    if (i < ramp) g *= 0.5 - 0.5 * Math.cos((Math.PI * i) / ramp);
    else if (i >= len - ramp) g *= 0.5 - 0.5 * Math.cos((Math.PI * (len - 1 - i)) / ramp);
    const v = out[start + i] + Math.round(g * Math.sin(w * i));
    out[start + i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
}
