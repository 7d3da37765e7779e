// The rate a call's recording is written at. A call whose legs are all G.711
// (RFC 3551 §4.5.14: 8 kHz) carries nothing above 4 kHz, and its room mixes at
// 8 kHz (media.mixer.narrowband): its recording is written at 8 kHz too, so the
// media thread does not resample every frame to the mixer's wideband rate and the
// files are half the size. A wideband leg that joins later is recorded at the
// recording's rate (the room resamples for it); a WAV cannot change its rate.
import type { MediaRoom } from '../media-plane/media-room.ts';
import { NARROWBAND_CODECS, NARROWBAND_RATE } from '../mixer/room-mixer.ts';
import type { CallSettings } from './call-deps.ts';

export function recordingRate(room: MediaRoom, settings: CallSettings): number {
  if (!settings.narrowband) return settings.sampleRate;
  let legs = 0;
  for (const id of room.legIds) {
    const codec = room.leg(id)?.media?.codec;
    if (!codec || !NARROWBAND_CODECS.has(codec)) return settings.sampleRate;
    legs++;
  }
  return legs > 0 ? NARROWBAND_RATE : settings.sampleRate;
}
