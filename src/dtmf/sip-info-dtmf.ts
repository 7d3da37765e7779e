// DTMF carried in SIP INFO bodies, handed in by call control:
// application/dtmf-relay ("Signal=5\r\nDuration=160", duration in ms) and
// application/dtmf (the digit alone, no duration; some gateways write the
// dtmf-relay lines under this type too, which are read the same way).
// A hook flash (Cisco's `Signal=!`, event 16 of RFC 4733) is a valid signal but no
// digit: null, so the INFO is answered 200 and no digit reaches the flow.
import { DTMF_DIGITS, type DtmfEvent } from './dtmf-event.ts';

export class DtmfInfoError extends Error {
  override name = 'DtmfInfoError';
}

/** A hook flash, as dtmf-relay bodies write it: `!`, event 16 (RFC 4733 §3.2), or spelt out. */
const FLASH = /^(!|16|flash|hf|hook-?flash)$/i;

function normaliseSignal(raw: string): string | null {
  const s = raw.trim().toUpperCase();
  if (s.length === 1 && DTMF_DIGITS.includes(s)) return s;
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n < DTMF_DIGITS.length) return DTMF_DIGITS[n]; // "10" is *, "11" is #
  }
  return null;
}

/** `Signal=` and `Duration=` lines; null for a hook flash; throws when there is no valid Signal. */
function relayBody(body: string, type: string): DtmfEvent | null {
  let signal: string | null = null;
  let durationMs = 0;
  for (const line of body.split(/\r?\n/)) {
    const m = /^\s*([A-Za-z-]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (!m) continue;
    const key = m[1].toLowerCase();
    if (key === 'signal') signal = m[2];
    else if (key === 'duration' && /^\d+$/.test(m[2])) durationMs = Number(m[2]);
  }
  if (signal !== null && FLASH.test(signal.trim())) return null;
  const digit = signal === null ? null : normaliseSignal(signal);
  if (!digit) throw new DtmfInfoError(`no valid Signal in ${type} body`);
  return { digit, durationMs, source: 'info' };
}

/** Parses an INFO body: its digit, or null for a hook flash; throws DtmfInfoError for a body that carries neither. */
export function parseSipInfoDtmf(contentType: string, body: string): DtmfEvent | null {
  const type = contentType.split(';')[0].trim().toLowerCase();
  if (type === 'application/dtmf-relay') return relayBody(body, type);
  if (type === 'application/dtmf') {
    if (/^\s*signal\s*=/im.test(body)) return relayBody(body, type);
    if (FLASH.test(body.trim())) return null;
    const digit = normaliseSignal(body);
    if (!digit) throw new DtmfInfoError(`invalid application/dtmf body`);
    return { digit, durationMs: 0, source: 'info' };
  }
  throw new DtmfInfoError(`unsupported DTMF content type ${contentType}`);
}
