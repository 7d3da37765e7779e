// DTMF carried in SIP INFO bodies, handed in by call control:
// application/dtmf-relay ("Signal=5\r\nDuration=160", duration in ms) and
// application/dtmf (the digit alone, no duration).
import { DTMF_DIGITS, type DtmfEvent } from './dtmf-event.ts';

export class DtmfInfoError extends Error {
  override name = 'DtmfInfoError';
}

function normaliseSignal(raw: string): string | null {
  const s = raw.trim().toUpperCase();
  if (s.length === 1 && DTMF_DIGITS.includes(s)) return s;
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n < DTMF_DIGITS.length) return DTMF_DIGITS[n]; // "10" is *, "11" is #
  }
  return null;
}

/** Parses an INFO body; throws DtmfInfoError for a body that carries no digit. */
export function parseSipInfoDtmf(contentType: string, body: string): DtmfEvent {
  const type = contentType.split(';')[0].trim().toLowerCase();
  if (type === 'application/dtmf-relay') {
    let digit: string | null = null;
    let durationMs = 0;
    for (const line of body.split(/\r?\n/)) {
      const m = /^\s*([A-Za-z-]+)\s*=\s*(.*?)\s*$/.exec(line);
      if (!m) continue;
      const key = m[1].toLowerCase();
      if (key === 'signal') digit = normaliseSignal(m[2]);
      else if (key === 'duration' && /^\d+$/.test(m[2])) durationMs = Number(m[2]);
    }
    if (!digit) throw new DtmfInfoError(`no valid Signal in application/dtmf-relay body`);
    return { digit, durationMs, source: 'info' };
  }
  if (type === 'application/dtmf') {
    const digit = normaliseSignal(body);
    if (!digit) throw new DtmfInfoError(`invalid application/dtmf body`);
    return { digit, durationMs: 0, source: 'info' };
  }
  throw new DtmfInfoError(`unsupported DTMF content type ${contentType}`);
}
