// Public surface of playback for call control and the app wiring.
import type { ParleyConfig } from '../config/schema.ts';
import type { Logger } from '../util/logger.ts';
import { PromptLibrary } from './prompt-library.ts';

export { PromptError, type PromptErrorCode } from './errors.ts';
export { Player, type Clip, type FinishReason, type PlayerOptions, type PlayerResult, type PlayerEvents } from './player.ts';
export { PromptLibrary, type PlaySpec } from './prompt-library.ts';
export type { CacheLookup, PromptCacheStats } from './prompt-cache.ts';
export { dtmfFrequencies, type ToneSpec } from './tones.ts';

/** The library configured by `prompts` (dir, cacheDir, voice). */
export function createPromptLibrary(config: ParleyConfig['prompts'], log: Logger): PromptLibrary {
  return new PromptLibrary({ dir: config.dir, cacheDir: config.cacheDir, voice: config.voice, log });
}
