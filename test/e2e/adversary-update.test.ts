// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// UPDATE with an SDP offer in a confirmed dialog (RFC 3311 §5.2, as SBCs and phones send
// after a NAT or address change). drachtio-srf answers it, when the app does not, with the
// dialog's first SDP whatever the offer said: an offer of codecs Parley cannot take got
// 200, and a peer that moved its media kept being sent to its old address. An UPDATE offer
// is now negotiated like a re-INVITE's: 488 when it cannot be taken, else the answer, and
// the media follows it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RawSipClient } from '../helpers/raw-sip-client.ts';
import { parleyPerSuite } from '../helpers/parley-harness.ts';
import { gatewayYaml } from './helpers.ts';
import { rtpSink, until } from './raw-dialog.ts';

function sdp(port: number, pt = 0, version = 1): string {
  const map = pt === 0 ? 'a=rtpmap:0 PCMU/8000\r\n' : `a=rtpmap:${pt} FOO/8000\r\n`;
  return `v=0\r\no=- 1 ${version} IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${port} RTP/AVP ${pt}\r\n${map}a=sendrecv\r\n`;
}

describe('adversary: UPDATE with an SDP offer in a confirmed dialog', () => {
  const parley = parleyPerSuite(gatewayYaml('hold-line', ['answer', 'play: { tone: beep }', 'collect: { into: x, maxDigits: 1, timeout: 60 }']));

  it('an offer it cannot take gets 488; a new address gets an answer and the media moves there', async () => {
    const sipPort = parley().sipPort;
    const ua = await RawSipClient.open();
    const first = await rtpSink();
    const moved = await rtpSink();
    const callId = `adv-update-${process.pid}@127.0.0.1`;
    let cseq = 1;
    let toTag = '';
    let contact = `sip:hold@127.0.0.1:${sipPort}`;
    const req = (method: string, body = '', n = cseq): string =>
      [
        `${method} ${contact} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${ua.port};branch=z9hG4bK-upd-${process.pid}-${method}-${n}`,
        'Max-Forwards: 70',
        `From: <sip:adv@127.0.0.1>;tag=adv-${process.pid}`,
        `To: <sip:hold@127.0.0.1>${toTag ? `;tag=${toTag}` : ''}`,
        `Call-ID: ${callId}`,
        `CSeq: ${n} ${method}`,
        `Contact: <sip:adv@127.0.0.1:${ua.port}>`,
        ...(body ? ['Content-Type: application/sdp'] : []),
        `Content-Length: ${Buffer.byteLength(body)}`,
        '',
        body,
      ].join('\r\n');
    try {
      ua.send(sipPort, req('INVITE', sdp(first.port)));
      const ok = await ua.nextMatching(/^SIP\/2\.0 200 /, 15_000);
      toTag = /\r\nTo:[^\r]*;tag=([^;\r>\s]+)/i.exec(ok)![1];
      contact = /\r\nContact:\s*<([^>]+)>/i.exec(ok)![1];
      const parleyPort = /m=audio (\d+)/.exec(ok)![1];
      ua.send(sipPort, req('ACK', '', 1));
      assert.ok(await until(() => first.packets() > 0, 10_000), 'no RTP at the first address');

      cseq++;
      ua.send(sipPort, req('UPDATE', sdp(first.port, 99, 2)));
      const refused = await ua.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 10_000);
      assert.match(refused.split('\r\n')[0], /^SIP\/2\.0 488 /, `an offer of only an unknown codec was answered:\n${refused}`);

      cseq++;
      ua.send(sipPort, req('UPDATE', sdp(moved.port, 0, 3)));
      const answer = await ua.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 10_000);
      assert.match(answer.split('\r\n')[0], /^SIP\/2\.0 200 /);
      assert.equal(/m=audio (\d+)/.exec(answer)?.[1], parleyPort, 'the answer keeps Parley\'s port');
      const before = first.packets();
      assert.ok(await until(() => moved.packets() > 10, 10_000), `no RTP at the new address (${moved.packets()} packets)`);
      await new Promise((r) => setTimeout(r, 300));
      const stale = first.packets();
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(first.packets(), stale, `RTP still goes to the old address (${stale - before} packets after the UPDATE)`);

      cseq++;
      ua.send(sipPort, req('BYE'));
      await ua.nextMatching(/^SIP\/2\.0 200 /, 10_000);
    } finally {
      ua.close();
      first.socket.close();
      moved.socket.close();
    }
  });
});
