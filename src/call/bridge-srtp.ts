// The bridge's `srtp`: whether the leg Parley offers a callee (or a transfer's target) is
// SDES-SRTP. `follow` keeps a caller's SRTP on the callee's side too, instead of a plain
// RTP leg there (Parley, a B2BUA, terminates the media of both). Under `follow`, a callee
// that refuses the SRTP offer (488 or 606: no SRTP there) is offered plain RTP once more,
// on a new leg, as a callee of `off` would have been; `on` never falls back.
import type { MediaLeg } from '../media-plane/media-api.ts';
import type { Logger } from '../util/logger.ts';
import { sipFailure } from './dialog-util.ts';
import type { BridgeSrtp } from './ports.ts';

/** Whether a leg Parley offers is to be SDES-SRTP, under `mode`, once connected to `other`. */
export function offersSrtp(mode: BridgeSrtp, other: MediaLeg | null): boolean {
  return mode === 'on' || (mode === 'follow' && (other?.media?.remoteSrtp ?? null) !== null);
}

/** The leg whose offer is being placed (changed by dialFollowingSrtp when it falls back). */
export interface OfferedLeg {
  leg: MediaLeg;
  offer: string;
  srtp: boolean;
}

/**
 * Places `offered` with `dial`. Under `follow`, an SRTP offer refused with 488 or 606 closes
 * that leg, makes a plain one (`make`: the caller's own set-up, mute included) into `offered`
 * and places it once more, unless `stop()` says the call is being given up. Whatever fails is
 * thrown; `offered.leg` is then the caller's to close.
 */
export async function dialFollowingSrtp<T>(
  mode: BridgeSrtp,
  offered: OfferedLeg,
  make: (srtp: boolean) => Promise<{ leg: MediaLeg; offer: string }>,
  dial: (leg: MediaLeg, offer: string) => Promise<T>,
  stop: () => boolean,
  log: Logger,
): Promise<T> {
  try {
    return await dial(offered.leg, offered.offer);
  } catch (err) {
    const status = sipFailure(err)?.status;
    if (mode !== 'follow' || !offered.srtp || (status !== 488 && status !== 606) || stop()) throw err;
    log.info({ status }, 'the SRTP offer was refused: offered again with plain RTP');
    offered.leg.close();
    Object.assign(offered, await make(false), { srtp: false });
    if (stop()) throw err;
    return await dial(offered.leg, offered.offer);
  }
}
