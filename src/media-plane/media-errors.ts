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

/** The room or leg was closed while an operation was running or before it started. */
export class MediaClosedError extends Error {
  override name = 'MediaClosedError';
}
