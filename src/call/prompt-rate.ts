// The rate a prompt (notice, IVR prompt, wait audio, whisper, API play) is made
// at for a room. A room with media.mixer.narrowband mixes at 8 kHz while every
// leg with media speaks G.711 (room-mixer.ts): a prompt made at the mixer's
// wideband rate for it was resampled to 8 kHz every frame, on the media thread
// (the room's SourceAtRate) and again on the main thread when a recording taps
// it (NoticeOverlay). Made at 8 kHz instead (the library decodes and keeps it
// once per prompt and rate), its frames pass through untouched.
import type { MediaRoom } from '../media-plane/media-api.ts';
import { NARROWBAND_CODECS, NARROWBAND_RATE } from '../mixer/room-mixer.ts';

export interface PromptRateSettings {
  /** media.mixer.sampleRate. */
  sampleRate: number;
  /** media.mixer.narrowband. */
  narrowband?: boolean;
}

/**
 * 8 kHz when the room mixes at 8 kHz: narrowband on, at least one leg with media
 * and all such legs G.711 (a leg still negotiating is not mixed yet), and the
 * room's own last word on its rate agreeing (it counts what the legs do not
 * show: a browser through the hub). Anything else: the mixer's rate, as before.
 */
export function promptRate(room: MediaRoom, settings: PromptRateSettings): number {
  if (!settings.narrowband || room.mixerSampleRate !== NARROWBAND_RATE) return settings.sampleRate;
  let withMedia = 0;
  for (const id of room.legIds) {
    const codec = room.leg(id)?.media?.codec;
    if (codec === undefined) continue;
    if (!NARROWBAND_CODECS.has(codec)) return settings.sampleRate;
    withMedia++;
  }
  return withMedia > 0 ? NARROWBAND_RATE : settings.sampleRate;
}
