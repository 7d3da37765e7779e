// The bridge's `srtp`: whether the leg Parley offers a callee (or a transfer's target) is
// SDES-SRTP. `follow` keeps a caller's SRTP on the callee's side too, instead of a plain
// RTP leg there (Parley, a B2BUA, terminates the media of both).
import type { MediaLeg } from '../media-plane/media-api.ts';
import type { BridgeSrtp } from './ports.ts';

/** Whether a leg Parley offers is to be SDES-SRTP, under `mode`, once connected to `other`. */
export function offersSrtp(mode: BridgeSrtp, other: MediaLeg | null): boolean {
  return mode === 'on' || (mode === 'follow' && (other?.media?.remoteSrtp ?? null) !== null);
}
