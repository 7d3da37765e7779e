// A SIPREC recording client (SRC) driven by hand over UDP for the adversary tests:
// the multipart INVITE, in-dialog requests with any body, BYE.
import type { RecordingMetadata } from '../../src/recording/metadata.ts';
import type { RunningParley } from '../helpers/parley-harness.ts';
import type { RawSipClient } from '../helpers/raw-sip-client.ts';
import { waitFor } from '../helpers/wait.ts';
import { statusOf } from './raw-dialog.ts';
import { sidecarOf } from './siprec-helpers.ts';

const BOUNDARY = 'adv-boundary';

/** One PCMU stream to 127.0.0.1:`rtpPort` (`extra`: more media-level lines). */
export function sdp(rtpPort: number, extra: readonly string[] = []): string {
  return ['v=0', 'o=src 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${rtpPort} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', 'a=label:1', ...extra, 'a=sendonly'].join('\r\n') + '\r\n';
}

/** The finalized sidecar of the SIPREC session with this Call-ID. */
export function finalSidecar(parley: RunningParley, callId: string): Promise<RecordingMetadata> {
  return waitFor('the final sidecar', () => {
    try {
      const m = sidecarOf(parley, callId);
      return m.state === 'finalized' ? m : undefined;
    } catch {
      return undefined;
    }
  }, 20_000);
}

/** Metadata version `n`: the same two participants, a stream id of its own (as SRCs that renumber do). */
export function metadata(n: number): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<recording xmlns='urn:ietf:params:xml:ns:recording:1'>
  <datamode>complete</datamode>
  <session session_id="sess-adv"><sipSessionID>adv-call</sipSessionID></session>
  <participant participant_id="p1"><nameID aor="sip:alice@example.com"/><send>st-${n}</send></participant>
  <participant participant_id="p2"><nameID aor="sip:bob@example.com"/></participant>
  <stream stream_id="st-${n}" session_id="sess-adv"><label>1</label></stream>
</recording>
`;
}

/** Metadata version `n` padded to about `bytes` with an extension element (kept whole in the file, not read). */
export function paddedMetadata(n: number, bytes: number): string {
  const m = metadata(n);
  const pad = `  <extensiondata><pad>${'x'.repeat(Math.max(0, bytes - m.length - 60))}</pad></extensiondata>\n`;
  return m.replace('</recording>', `${pad}</recording>`);
}

export function multipart(parts: [string, string][]): string {
  return parts.map(([type, body]) => `--${BOUNDARY}\r\nContent-Type: ${type}\r\n\r\n${body}`).join('\r\n') + `\r\n--${BOUNDARY}--\r\n`;
}

/** A hand-driven SRC dialog: INVITE, in-dialog requests with any body, BYE. */
export class RawSrc {
  private cseq = 1;
  private toTag = '';
  private target: string;
  readonly callId = `adv-siprec-${process.pid}-${Math.random().toString(36).slice(2)}@127.0.0.1`;

  constructor(
    private readonly ua: RawSipClient,
    private readonly sipPort: number,
  ) {
    this.target = `sip:srs@127.0.0.1:${sipPort}`;
  }

  private send(method: string, contentType: string | null, body: string, extra: string[] = [], ackOf = 1, branchOf = method): void {
    const n = method === 'ACK' ? ackOf : this.cseq;
    // A Buffer: RawSipClient turns every line end of a string into CRLF, which would change the body's length.
    this.ua.send(
      this.sipPort,
      Buffer.from([
        `${method} ${this.target} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${this.ua.port};branch=z9hG4bK-adv-${branchOf}-${n}-${this.callId.slice(11, 20)}`,
        'Max-Forwards: 70',
        `From: <sip:src@127.0.0.1>;tag=src-${process.pid}`,
        `To: <sip:srs@127.0.0.1>${this.toTag ? `;tag=${this.toTag}` : ''}`,
        `Call-ID: ${this.callId}`,
        `CSeq: ${n} ${method}`,
        `Contact: <sip:src@127.0.0.1:${this.ua.port}>;+sip.src`,
        ...extra,
        ...(contentType ? [`Content-Type: ${contentType}`] : []),
        `Content-Length: ${Buffer.byteLength(body)}`,
        '',
        body,
      ].join('\r\n')),
    );
  }

  async invite(body: string): Promise<number> {
    this.send('INVITE', `multipart/mixed;boundary=${BOUNDARY}`, body, ['Require: siprec']);
    const res = await this.ua.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 15_000);
    if (statusOf(res) === 200) {
      this.toTag = /\r\nTo:[^\r]*;tag=([^;\r>\s]+)/i.exec(res)![1]!;
      this.target = /\r\nContact:\s*<([^>]+)>/i.exec(res)![1]!;
      this.send('ACK', null, '');
    }
    return statusOf(res);
  }

  /** A re-INVITE: its final response (the one with its CSeq; a retransmitted earlier one is passed over), ACKed. */
  async reinvite(contentType: string | null, body = ''): Promise<string> {
    this.cseq++;
    const n = this.cseq;
    this.send('INVITE', contentType, body);
    for (;;) {
      const res = await this.ua.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 10_000);
      if (!new RegExp(`\r\nCSeq:\\s*${n} INVITE\r\n`, 'i').test(res)) continue;
      // A non-2xx is ACKed in its INVITE's transaction (its branch), a 2xx in a new one (RFC 3261 §17.1.1.3, §13.2.2.4).
      this.send('ACK', null, '', [], n, statusOf(res) < 300 ? 'ACK' : 'INVITE');
      return res;
    }
  }

  /** An in-dialog request; its final response's status. */
  async request(method: string, contentType: string | null, body = ''): Promise<number> {
    return statusOf(await this.exchange(method, contentType, body));
  }

  /** An in-dialog request; its final response as received. */
  async exchange(method: string, contentType: string | null, body = ''): Promise<string> {
    this.cseq++;
    this.send(method, contentType, body);
    return this.ua.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 10_000);
  }
}
