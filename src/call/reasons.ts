// Reason header values (RFC 3326) for calls Parley ends itself.

/** A party's RTP stopped while it should have flowed (Q.850 102: recovery on timer expiry). */
export const MEDIA_TIMEOUT_REASON = 'Q.850;cause=102;text="media timeout"';

/** The call's recording cannot be written and recording.onWriteError is 'hangup' (Q.850 47: resource unavailable). */
export const RECORDING_FAILED_REASON = 'Q.850;cause=47;text="recording failed"';

/** The media thread that ran the call's room died (Q.850 41: temporary failure); the call cannot go on without its media. */
export const MEDIA_THREAD_FAILED_REASON = 'Q.850;cause=41;text="media thread failed"';

/** A caller piped into a room on another node whose node was lost (killed, cut off): the room is gone (Q.850 41: temporary failure). */
export const ROOM_OWNER_LOST_REASON = 'Q.850;cause=41;text="room owner lost"';

/**
 * A callee or target that did not answer within its ring timeout, whoever placed it (the bridge's
 * B leg, a transfer's target, a dial-out): 408 with RFC 3261 §21.4.9's phrase, as the proxy's
 * timer C (§16.8) and a re-INVITE that got no answer say it. The bridge's said "No Answer" and a
 * transfer's NOTIFY "Request Timeout" for the same event.
 */
export const RING_TIMEOUT = { status: 408, reason: 'Request Timeout' } as const;
