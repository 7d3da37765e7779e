// Reads a SIP request from text (a file for `parley route --dry-run`) with
// drachtio-srf's own parser, so that the dry run sees a request exactly as the
// running app would. drachtio-srf is reached only through src/signaling/.
import { createRequire } from 'node:module';
import type { RoutableRequest } from '../policy/routable-request.ts';

interface DrachtioSipMessage {
  method?: string;
  uri?: string;
  body?: string;
  get(name: string): string | undefined;
}

const require = createRequire(import.meta.url);
const SipMessage = require('drachtio-srf/lib/sip-parser/message.js') as new (raw: string) => DrachtioSipMessage;

export class SipTextError extends Error {
  override name = 'SipTextError';
}

export function parseSipRequest(text: string, sourceAddress?: string): RoutableRequest {
  // Files written by hand often have bare LF line ends; SIP wants CRLF.
  const normalized = text.replace(/\r?\n/g, '\r\n');
  const [head = '', ...rest] = normalized.split('\r\n\r\n');
  let msg: DrachtioSipMessage;
  try {
    msg = new SipMessage(head + '\r\n\r\n' + rest.join('\r\n\r\n'));
  } catch (err) {
    throw new SipTextError(`not a SIP message: ${(err as Error).message}`);
  }
  if (!msg.method || !msg.uri) throw new SipTextError('not a SIP request (no method and Request-URI)');
  const body = rest.join('\r\n\r\n');
  return {
    method: msg.method,
    uri: msg.uri,
    body,
    source_address: sourceAddress,
    get: (name) => msg.get(name),
    has: (name) => msg.get(name) !== undefined,
  };
}
