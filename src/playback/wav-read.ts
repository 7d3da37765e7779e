// Reads a WAV file with the `wav` package. Only 16-bit PCM is decoded here;
// anything else is reported as such so that the caller can transcode it.
import { createReadStream } from 'node:fs';
import wav from 'wav';

export interface WavInfo {
  audioFormat: number;
  sampleRate: number;
  channels: number;
  bitDepth: number;
}

export interface DecodedWav extends WavInfo {
  /** Interleaved samples (channels × frames). */
  samples: Int16Array;
}

/** Channels a WAV prompt may have (7.1 and a little more); a header that says more is corrupt. */
const MAX_CHANNELS = 16;

/** True when Parley can use the file without ffmpeg (PCM 16-bit little-endian). */
export function isPlainPcm16(info: WavInfo): boolean {
  return info.audioFormat === 1 && info.bitDepth === 16;
}

/**
 * Reads a WAV. With `headerOnly` the stream is dropped once the format is known
 * (samples is then empty). Rejects when the file is not a RIFF/WAVE file.
 */
export function readWav(path: string, headerOnly = false, maxBytes = 64 * 1024 * 1024): Promise<DecodedWav> {
  return new Promise((resolve, reject) => {
    const file = createReadStream(path);
    const reader = new wav.Reader();
    let info: WavInfo | null = null;
    const chunks: Buffer[] = [];
    let bytes = 0;
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      file.unpipe(reader);
      file.destroy();
      reject(err);
    };
    const finish = (): void => {
      if (settled) return;
      if (!info) return fail(new Error('not a WAV file (no fmt chunk)'));
      settled = true;
      file.unpipe(reader);
      file.destroy();
      const buf = Buffer.concat(chunks, bytes);
      const samples = new Int16Array(buf.length >> 1);
      for (let i = 0; i < samples.length; i++) samples[i] = buf.readInt16LE(i * 2);
      resolve({ ...info, samples });
    };
    file.on('error', fail);
    reader.on('error', fail);
    reader.on('format', (f: wav.Format) => {
      info = { audioFormat: f.audioFormat, sampleRate: f.sampleRate, channels: f.channels, bitDepth: f.bitDepth };
      // A header the reader takes whatever it says: 0 channels would divide by zero when
      // downmixed, 65535 make a prompt of no samples that plays as nothing at all.
      if (f.channels < 1 || f.channels > MAX_CHANNELS) return fail(new Error(`WAV header says ${f.channels} channels`));
      if (f.sampleRate < 1) return fail(new Error('WAV header says a sample rate of 0'));
      if (headerOnly || !isPlainPcm16(info)) finish();
    });
    reader.on('data', (d: Buffer) => {
      if (settled) return;
      bytes += d.length;
      if (bytes > maxBytes) return fail(new Error(`WAV data larger than ${maxBytes} bytes`));
      chunks.push(d);
    });
    reader.on('end', finish);
    file.pipe(reader);
  });
}

/** Averages interleaved channels to mono (Int32 sum, rounded). */
export function downmixToMono(samples: Int16Array, channels: number): Int16Array {
  if (channels === 1) return samples;
  const frames = Math.floor(samples.length / channels);
  const out = new Int16Array(frames);
  for (let i = 0; i < frames; i++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += samples[i * channels + c];
    out[i] = Math.round(sum / channels);
  }
  return out;
}
