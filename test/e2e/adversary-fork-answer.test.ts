// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// A B leg whose 183 and 200 carry different SDP: a forking proxy's early media came from
// one branch (an announcement server, another phone) and the 200 from another; RFC 3261
// §13.2.1 makes the 2xx's SDP the answer. Parley kept the 183's: after the answer it sent
// the caller's audio to the branch that had only played early media, and the callee heard
// nothing. The media now follows the 200.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { apiYaml } from '../helpers/api-client.ts';
import { RawSipClient } from '../helpers/raw-sip-client.ts';
import { parleyPerSuite } from '../helpers/parley-harness.ts';
import { gatewayYaml } from './helpers.ts';
import { assertNothingLeft } from './leftovers.ts';
import { bodyOf, offerSdp, RawDialog, responseTo, rtpSink, sendRtp, statusOf, until } from './raw-dialog.ts';

function sdpAt(port: number, session: number): string {
  return `v=0\r\no=branch ${session} 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n`;
}

describe('adversary: a B leg answered with other SDP than its early media', () => {
  const parley = parleyPerSuite(
    gatewayYaml('fork', ['answer: { early: true }', 'bridge: { ringTimeout: 10 }']) + apiYaml(join(mkdtempSync(join(tmpdir(), 'adv-fork-')), 'rules.json')),
  );

  it('after the 200, the callee\'s media goes to the 200\'s address, not the 183\'s', async () => {
    const callerUa = await RawSipClient.open();
    const calleeUa = await RawSipClient.open();
    const callerRtp = await rtpSink();
    const early = await rtpSink();
    const answered = await rtpSink();
    let stopRtp = (): void => undefined;
    const c = new RawDialog(callerUa, parley().sipPort, 'fork', 'bob', `sip:bob@127.0.0.1:${calleeUa.port}`);
    try {
      c.send('INVITE', offerSdp(callerRtp.port));
      // The B leg: early media from one branch, the answer from another (another To tag).
      const invite = await calleeUa.nextMatching(/^INVITE /, 15_000);
      const back = Number(/^Via: SIP\/2\.0\/UDP [^:]+:(\d+)/m.exec(invite)![1]);
      calleeUa.send(back, responseTo(invite, '183 Session Progress', 'branch-early', sdpAt(early.port, 1), calleeUa.port));
      // The caller hears the early media once Parley has it (its 183 to the caller carries Parley's answer).
      const progress = await callerUa.nextMatching(/^SIP\/2\.0 18\d /, 15_000);
      const parleyCallerPort = Number(/^m=audio (\d+)/m.exec(bodyOf(progress))![1]);
      stopRtp = sendRtp(callerRtp.socket, parleyCallerPort);
      await new Promise((r) => setTimeout(r, 500));
      calleeUa.send(back, responseTo(invite, '200 OK', 'branch-final', sdpAt(answered.port, 2), calleeUa.port));
      await calleeUa.nextMatching(/^ACK /, 10_000);
      const ok = await c.final(15_000);
      assert.equal(statusOf(ok), 200, ok);
      c.toTag = /\r\nTo:[^\r]*;tag=([^;\r>\s]+)/i.exec(ok)![1];
      c.contact = /\r\nContact:\s*<([^>]+)>/i.exec(ok)![1];
      c.send('ACK', '', 1);

      assert.ok(await until(() => answered.packets() > 10, 10_000), `no RTP at the 200's address (${answered.packets()} packets; ${early.packets()} at the 183's)`);
      await new Promise((r) => setTimeout(r, 300));
      const stale = early.packets();
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(early.packets(), stale, 'RTP still goes to the 183\'s address');

      c.cseq++;
      c.send('BYE');
      const bye = await calleeUa.nextMatching(/^BYE /, 10_000);
      calleeUa.send(back, responseTo(bye, '200 OK', 'branch-final'));
      assert.equal(statusOf(await c.final()), 200);
      stopRtp();
      await assertNothingLeft(parley());
    } finally {
      stopRtp();
      callerUa.close();
      calleeUa.close();
      for (const s of [callerRtp, early, answered]) s.socket.close();
    }
  });
});
