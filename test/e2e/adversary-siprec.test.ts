// Attacks on Parley as a SIPREC recording server from a recording client (SRC) that
// did not write it, driven by hand over UDP: a session that sends metadata version
// after version. Every file in the recordings folder must be one the sidecar lists
// (hashed, signed, served, deleted by retention with the rest); a version the
// sidecar cannot list any more must not reach the disk.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { ActiveCall } from '../../src/call/call-manager.ts';
import { parleyPerSuite } from '../helpers/parley-harness.ts';
import { RawSipClient } from '../helpers/raw-sip-client.ts';
import { waitFor } from '../helpers/wait.ts';
import { statusOf } from './raw-dialog.ts';
import { sidecarOf, SIPREC_ROUTING } from './siprec-helpers.ts';

const BOUNDARY = 'adv-boundary';

function sdp(rtpPort: number): string {
  return ['v=0', 'o=src 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${rtpPort} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', 'a=label:1', 'a=sendonly'].join('\r\n') + '\r\n';
}

/** Metadata version `n`: the same two participants, a stream id of its own (as SRCs that renumber do). */
function metadata(n: number): string {
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

function multipart(parts: [string, string][]): string {
  return parts.map(([type, body]) => `--${BOUNDARY}\r\nContent-Type: ${type}\r\n\r\n${body}`).join('\r\n') + `\r\n--${BOUNDARY}--\r\n`;
}

/** A hand-driven SRC dialog: INVITE, in-dialog requests with any body, BYE. */
class RawSrc {
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

  private send(method: string, contentType: string | null, body: string, extra: string[] = []): void {
    const n = method === 'ACK' ? 1 : this.cseq;
    // A Buffer: RawSipClient turns every line end of a string into CRLF, which would change the body's length.
    this.ua.send(
      this.sipPort,
      Buffer.from([
        `${method} ${this.target} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${this.ua.port};branch=z9hG4bK-adv-${method}-${n}-${this.callId.slice(11, 20)}`,
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

  /** An in-dialog request; its final response's status. */
  async request(method: string, contentType: string | null, body = ''): Promise<number> {
    this.cseq++;
    this.send(method, contentType, body);
    return statusOf(await this.ua.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 10_000));
  }
}

describe('adversary: a SIPREC client', () => {
  const parley = parleyPerSuite(SIPREC_ROUTING);

  it('metadata version after version (250 UPDATEs): each answered 200, and no metadata file reaches the disk that the sidecar does not list', async () => {
    const p = parley();
    const calls = p.app.calls!;
    const ua = await RawSipClient.open();
    try {
      const src = new RawSrc(ua, p.sipPort);
      const started = new Promise<ActiveCall>((resolve) => calls.once('callstart', resolve));
      const ended = new Promise<void>((resolve) => calls.once('callend', () => resolve()));
      assert.equal(await src.invite(multipart([['application/sdp', sdp(40_000)], ['application/rs-metadata+xml', metadata(1)]])), 200);
      const call = await started;
      await waitFor('the session recording', () => call.call.activeRecording ?? undefined, 10_000);
      const updates = 250;
      for (let n = 2; n <= updates + 1; n++) {
        assert.equal(await src.request('UPDATE', 'application/rs-metadata+xml', metadata(n)), 200, `UPDATE ${n}`);
      }
      assert.equal(await src.request('BYE', null), 200);
      await ended;
      const meta = await waitFor('the final sidecar', () => {
        try {
          const m = sidecarOf(p, src.callId);
          return m.state === 'finalized' ? m : undefined;
        } catch {
          return undefined;
        }
      }, 20_000);
      const listed = new Set((meta.siprec?.metadataVersions ?? []).map((v) => v.file));
      // The recording's id: what its metadata files are named after.
      const id = [...listed][0]!.replace(/\.metadata-\d+\.xml$/, '');
      const onDisk = readdirSync(p.recordingDir).filter((f) => f.startsWith(`${id}.metadata-`));
      const unlisted = onDisk.filter((f) => !listed.has(f));
      assert.deepEqual(unlisted, [], `${unlisted.length} metadata files on disk that the sidecar does not list (of ${onDisk.length})`);
      assert.ok(listed.size >= 100, `the first versions are kept: ${listed.size}`);
      for (const f of listed) assert.ok(onDisk.includes(f), `${f} is listed and on disk`);
      assert.ok(
        meta.siprec!.problems.some((x) => /not kept/.test(x)),
        `the sidecar says versions were not kept: ${JSON.stringify(meta.siprec!.problems)}`,
      );
    } finally {
      ua.close();
    }
  });
});
