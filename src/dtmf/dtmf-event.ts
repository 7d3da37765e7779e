// One DTMF digit, whatever carried it.
export type DtmfSource = 'rfc4733' | 'inband' | 'info';

export interface DtmfEvent {
  /** 0-9, *, #, A-D. */
  digit: string;
  /** How long the key was held, in ms (0 when the carrier does not say, e.g. application/dtmf). */
  durationMs: number;
  source: DtmfSource;
}

/** RFC 4733 §3.2 event codes 0–15. */
export const DTMF_DIGITS = '0123456789*#ABCD';
