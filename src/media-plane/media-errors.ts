// Errors the media plane throws for call control to map onto SIP responses.

/** The SDP cannot be accepted: call control answers 488 Not Acceptable Here (RFC 3261 §21.4.26). */
export class SdpNegotiationError extends Error {
  override name = 'SdpNegotiationError';
  readonly sipStatus = 488;
  constructor(
    message: string,
    /** Warning code for a Warning header (RFC 3261 §20.43): 304 media type, 305 format, 302 transport... */
    readonly warning = 304,
  ) {
    super(message);
  }
}

/**
 * Parley has no room for more media now (every port of media.rtpPortRange is taken): call
 * control answers 503 with Retry-After (RFC 3261 §21.5.4), on which a proxy tries another
 * server, as for security.maxCalls; `status` is read by the flows (call-session.ts).
 */
export class MediaCapacityError extends Error {
  override name = 'MediaCapacityError';
  readonly status = 503;
}

/** The room or leg was closed while an operation was running or before it started. */
export class MediaClosedError extends Error {
  override name = 'MediaClosedError';
}
