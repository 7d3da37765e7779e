// The DTMF keypad (ITU-T Q.23): each key a row (low) and a column (high) frequency.
export const DTMF_LOW = [697, 770, 852, 941] as const;
export const DTMF_HIGH = [1209, 1336, 1477, 1633] as const;
/** The keys by row (low frequency), then column (high). */
export const DTMF_KEYPAD = ['123A', '456B', '789C', '*0#D'] as const;

/** The two frequencies of a DTMF digit (0-9, *, #, A-D), or null. */
export function dtmfFrequencies(digit: string): [number, number] | null {
  const d = digit.toUpperCase();
  for (let r = 0; r < 4; r++) {
    const c = DTMF_KEYPAD[r]!.indexOf(d);
    if (c >= 0 && d.length === 1) return [DTMF_LOW[r]!, DTMF_HIGH[c]!];
  }
  return null;
}
