// What a `respond` rule writes on the wire, checked at load naming the key, as header edits
// are (header-edit-checks.ts): a reason phrase or header value holding CR or LF would write
// headers of its own into the response (RFC 3261 §25.1: reason-phrase and header values are
// single-line), and a header name that is no token makes a response the server cannot send.
// Headers the server writes for every response (Via, From, To, Call-ID, CSeq, …) or that
// frame a body the response does not have are refused like the edits of them; a response's
// Contact is its own (a 3xx's targets).
import { COMPACT, FRAMING, TOKEN } from './header-edit-checks.ts';
import type { RoutingConfig } from './rule-types.ts';

/** What the server writes in every response (src/sip/core/app-response-handler.ts SERVER_OWNED), and why. */
const SERVER_WRITES: Record<string, string> = {
  from: 'the request\'s, with the server\'s To tag',
  to: 'the request\'s, with the server\'s To tag',
};

export function respondChecks(routing: RoutingConfig): string[] {
  const problems: string[] = [];
  routing.rules.forEach((rule, i) =>
    rule.actions.forEach((a, j) => {
      if (!('respond' in a)) return;
      const at = `routing.rules.${i}.actions.${j}.respond`;
      const { reason, headers = {} } = a.respond;
      // reason-phrase: any text, SP and HTAB, but no other control character (§25.1).
      if (reason !== undefined && [...reason].some(isControl)) {
        problems.push(`${at}.reason: a reason phrase may not hold CR, LF or other control characters (it would write other headers)`);
      }
      for (const [name, value] of Object.entries(headers)) {
        const problem = headerProblem(name, value);
        if (problem) problems.push(`${at}.headers.${name}: ${problem}`);
      }
    }),
  );
  return problems;
}

function headerProblem(name: string, value: string): string | null {
  if (!TOKEN.test(name)) return `'${name}' is not a header name (RFC 3261 token characters only)`;
  if (/[\r\n\0]/.test(value)) return 'a header value may not hold CR, LF or NUL (it would write other headers)';
  const long = COMPACT[name.toLowerCase()] ?? name.toLowerCase();
  if (long === 'contact') return null;
  const why = SERVER_WRITES[long] ?? FRAMING[long];
  return why ? `${name} cannot be written by a respond rule (${why})` : null;
}

/** A control character other than HTAB (RFC 5234 CTL less HTAB). */
function isControl(c: string): boolean {
  const n = c.charCodeAt(0);
  return (n < 0x20 && n !== 0x09) || n === 0x7f;
}
