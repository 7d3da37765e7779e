// What a browser session may be, and the one error type its API answers with.

/**
 * participant: heard by everyone, hears its mix-minus, on the roster.
 * barge: the same, for a supervisor who was listening (the console's wording).
 * whisper: heard by one leg only (coaching), hears the room's mix, not on the roster.
 * listen: heard by nobody, hears the room's mix, not on the roster.
 */
export type WebRtcRole = 'participant' | 'barge' | 'whisper' | 'listen';

export const WEBRTC_ROLES: readonly WebRtcRole[] = ['participant', 'barge', 'whisper', 'listen'];

/** Roles that are on the roster and heard by everyone. */
export function joinsRoster(role: WebRtcRole): boolean {
  return role === 'participant' || role === 'barge';
}

/** A refusal with the HTTP status the API answers (the route turns it into an ApiError). */
export class WebRtcSessionError extends Error {
  override name = 'WebRtcSessionError';

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}
