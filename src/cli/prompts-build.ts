// `parley prompts build`: puts every prompt a running Parley could need into the
// prompt cache at the mixer rate (and at 8 kHz with media.mixer.narrowband: the
// rate prompts are made at for G.711 calls, call/prompt-rate.ts), so that no call
// waits for ffmpeg or espeak-ng: each audio file under prompts.dir, and each
// `text` of the flows (spoken).
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { ParleyConfig } from '../config/schema.ts';
import { PromptLibrary, type PlaySpec } from '../playback/prompt-library.ts';
import { PROMPT_EXTENSIONS } from '../playback/prompt-path.ts';
import { NARROWBAND_RATE } from '../mixer/room-mixer.ts';
import { createLogger } from '../util/logger.ts';
import { ProgressBar } from './progress-bar.ts';

export interface BuildResult {
  built: number;
  fromCache: number;
  failed: { label: string; error: string }[];
}

/** The prompt files under `dir` (recursively), as names relative to it. */
export function promptFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const full = join(d, e.name);
      if (e.isDirectory()) walk(full);
      else if (PROMPT_EXTENSIONS.some((x) => e.name.toLowerCase().endsWith(x))) out.push(relative(dir, full));
    }
  };
  walk(dir);
  return out.sort();
}

/** Every `text` (a `say` step, a play spec) in the flows. */
export function flowTexts(flows: unknown): string[] {
  const texts = new Set<string>();
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'text' && typeof x === 'string') texts.add(x);
        else walk(x);
      }
    }
  };
  walk(flows);
  return [...texts];
}

export async function buildPrompts(config: ParleyConfig, out: NodeJS.WriteStream = process.stderr): Promise<BuildResult> {
  const log = createLogger({ level: 'silent', pretty: false });
  const library = new PromptLibrary({ dir: config.prompts.dir, cacheDir: config.prompts.cacheDir, voice: config.prompts.voice, log });
  const mixer = config.media.mixer;
  const rates = mixer.narrowband && mixer.sampleRate !== NARROWBAND_RATE ? [mixer.sampleRate, NARROWBAND_RATE] : [mixer.sampleRate];
  const work: { label: string; spec: PlaySpec }[] = [
    ...promptFiles(config.prompts.dir).map((f) => ({ label: f, spec: { prompt: f } })),
    ...flowTexts(config.flows).map((t) => ({ label: `text: ${t.length > 40 ? t.slice(0, 37) + '...' : t}`, spec: { text: t } })),
  ];
  const bar = new ProgressBar(work.length, out);
  const result: BuildResult = { built: 0, fromCache: 0, failed: [] };
  try {
    for (const w of work) {
      try {
        // Cached already only when it was at every rate.
        let cached = true;
        for (const rate of rates) if (!(await library.load(w.spec, rate)).fromCache) cached = false;
        if (cached) result.fromCache++;
        else result.built++;
        bar.tick(w.label);
      } catch (err) {
        result.failed.push({ label: w.label, error: (err as Error).message });
        bar.tick(w.label, true);
      }
    }
  } finally {
    bar.finish();
    library.close();
  }
  return result;
}
