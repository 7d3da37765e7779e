// The `calls` section: delayed offers and the guard over calls without a live dialog.

export interface CallsConfig {
  /**
   * An INVITE without SDP (delayed offer, RFC 3261 §13.2.1): `offer` makes Parley's offer
   * in its reliable 183 or its 200 and takes the answer from the PRACK or ACK; `reject`
   * refuses it with 488.
   */
  delayedOffer: 'offer' | 'reject';
  /** How often the guard looks for calls without a live dialog (s); 0: never. */
  guardIntervalSec: number;
  /** A call still unanswered (no final response) after this long is ended with 408 by the guard. */
  maxUnansweredSec: number;
  /**
   * A hold (re-INVITE or UPDATE offering sendonly, inactive or c=0.0.0.0) by one party of a
   * two-party bridge: `reinvite` passes it on to the other party with a re-INVITE of Parley's
   * (sendonly or inactive; sendrecv on resume); `none` answers it on the holder's leg alone.
   */
  holdPropagation?: 'reinvite' | 'none';
}

export const callsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['delayedOffer', 'guardIntervalSec', 'maxUnansweredSec'],
  properties: {
    delayedOffer: { type: 'string', enum: ['offer', 'reject'] },
    guardIntervalSec: { type: 'number', minimum: 0, maximum: 3600 },
    maxUnansweredSec: { type: 'number', minimum: 1, maximum: 3600 },
    holdPropagation: { type: 'string', enum: ['reinvite', 'none'] },
  },
} as const;

export const defaultCalls: CallsConfig = { delayedOffer: 'offer', guardIntervalSec: 10, maxUnansweredSec: 50, holdPropagation: 'reinvite' };
