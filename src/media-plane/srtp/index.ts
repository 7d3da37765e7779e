// SDES-SRTP for Parley's RTP endpoints: the only entry point into src/media-plane/srtp/.
import { SRTP_SUITES, type SrtpSuite } from '../sdp-types.ts';
import { weriftSupports } from './werift-cipher.ts';

export { generateSrtpKeyBase64, SrtpKeyError, SRTP_KEY_LENGTHS } from './srtp-keys.ts';
export { SrtpSession, SrtpIndexReuseError, type SrtpStats } from './srtp-session.ts';

/** Suites this build supports (those werift-rtp really implements), in SRTP_SUITES' order of preference. */
export const SUPPORTED_SRTP_SUITES: readonly SrtpSuite[] = Object.freeze(SRTP_SUITES.filter(weriftSupports));
