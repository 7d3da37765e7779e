// Checks what a bench:calls step left in the recordings folder: one finalized
// recording per call, with its mix, stereo file and a stem per leg on disk, and
// audio in both stems (media flowed both ways through Parley).
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { RecordingMetadata } from '../../src/recording/metadata.ts';
import { readWavFile } from '../../test/helpers/audio-analysis.ts';

export interface RecordingCheck {
  sidecars: number;
  finalized: number;
  /** Finalized, every listed file on disk, a stereo file, a mix hash, two legs with a stem each. */
  complete: number;
  /** Complete, and every stem of both legs holds sound over its last second. */
  withAudioBothWays: number;
  /** Caller call numbers (from the caller leg's URI, `bench-<n>`) that have a complete recording. */
  callNumbers: Set<number>;
  /** Of those, the ones whose recording has sound in every stem. */
  callNumbersWithSound: Set<number>;
  /** A few examples of what was wrong, for the log. */
  problems: string[];
}

export function sidecarFiles(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
}

/** RMS of the last second of a mono 16-bit WAV file (0 when unreadable). */
function tailRms(path: string): number {
  try {
    const w = readWavFile(path);
    const n = Math.min(w.samples.length, w.sampleRate * w.channels);
    let sum = 0;
    for (let i = w.samples.length - n; i < w.samples.length; i++) sum += w.samples[i] * w.samples[i];
    return n ? Math.sqrt(sum / n) : 0;
  } catch {
    return 0;
  }
}

/** Below this a stem is taken as silence (the bench's tone is about 7,000 RMS). */
const SOUND_RMS = 500;

export function checkRecordings(dir: string, files = sidecarFiles(dir)): RecordingCheck {
  const r: RecordingCheck = { sidecars: files.length, finalized: 0, complete: 0, withAudioBothWays: 0, callNumbers: new Set(), callNumbersWithSound: new Set(), problems: [] };
  const problem = (msg: string): void => {
    if (r.problems.length < 5) r.problems.push(msg);
  };
  for (const f of files) {
    let m: RecordingMetadata;
    try {
      m = JSON.parse(readFileSync(join(dir, f), 'utf8')) as RecordingMetadata;
    } catch (err) {
      problem(`${f}: ${(err as Error).message}`);
      continue;
    }
    if (m.state !== 'finalized') {
      problem(`${f}: state ${m.state}`);
      continue;
    }
    r.finalized++;
    const stems = m.legs.flatMap((l) => l.stems);
    // The bench's flow records stereo: a recording without it is incomplete.
    const listed = [m.mix.file, ...(m.stereo ? [m.stereo.file] : []), ...stems.map((s) => s.file)];
    const missing = listed.filter((x) => !existsSync(join(dir, x)) || statSync(join(dir, x)).size <= 44);
    if (missing.length || !m.stereo || !m.mix.sha256 || m.legs.length !== 2 || stems.length < 2) {
      problem(`${f}: missing ${missing.join(', ') || '-'}, stereo ${m.stereo ? 'yes' : 'no'}, legs ${m.legs.length}, stems ${stems.length}, mix hash ${m.mix.sha256 ? 'yes' : 'no'}`);
      continue;
    }
    r.complete++;
    const caller = m.legs.find((l) => l.role === 'caller');
    const n = Number(/bench-(\d+)@/.exec(caller?.uri ?? '')?.[1]);
    if (Number.isFinite(n)) r.callNumbers.add(n);
    // Every stem of every leg (a leg has more than one after its stream was restarted).
    const quiet = m.legs.filter((l) => l.stems.some((st) => tailRms(join(dir, st.file)) < SOUND_RMS));
    if (quiet.length) problem(`${f}: no sound at the end of the ${quiet.map((l) => l.role).join(' and ')} stem`);
    else {
      r.withAudioBothWays++;
      if (Number.isFinite(n)) r.callNumbersWithSound.add(n);
    }
  }
  return r;
}
