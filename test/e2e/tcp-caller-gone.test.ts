// parley-tests: beside
// A caller over TCP whose connection is gone before its call is answered (it closed it after
// the 183; nothing listens on its port any more): when the callee answers, Parley's 200 to the
// caller cannot be sent (the new connection is refused), so the call ends at once (RFC 3261
// §17.2.4: a transport error is reported to the transaction user): the callee gets a BYE and
// nothing of the call is left. Before, the failure was only logged and the callee sat in dead
// air until timer H (64*T1) gave up on the ACK.
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { header, RawSipClient } from '../helpers/raw-sip-client.ts';
import { assertNothingLeft } from './leftovers.ts';
import { flowYaml, offerSdp, okTo, rawParleyPerSuite, replyTo, responseTo } from './raw-dialog.ts';


describe('a TCP caller gone before the answer', () => {
  // The harness's T1 is 100 ms: timer H would give up on the ACK after 6.4 s.
  const parley = rawParleyPerSuite(flowYaml('gw', '    - answer: { early: true }\n    - bridge: { ringTimeout: 20 }\n'));

  it("the 200 that cannot be sent ends the call at once: the callee gets a BYE, nothing is left", async () => {
    const p = parley();
    const calleeUa = await RawSipClient.open();
    const socket = net.connect(p.sipPort, '127.0.0.1');
    try {
      await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
      const port = socket.localPort!;
      const callId = `tcp-gone-${process.pid}@127.0.0.1`;
      const body = offerSdp(40960);
      socket.write(
        [
          `INVITE sip:bob@127.0.0.1:${p.sipPort};transport=tcp SIP/2.0`,
          `Via: SIP/2.0/TCP 127.0.0.1:${port};branch=z9hG4bK-tcpgone-1`,
          'Max-Forwards: 70',
          `From: <sip:alice@127.0.0.1>;tag=alice-${process.pid}`,
          `To: <sip:bob@127.0.0.1:${calleeUa.port}>`,
          `Call-ID: ${callId}`,
          'CSeq: 1 INVITE',
          `Contact: <sip:alice@127.0.0.1:${port};transport=tcp>`,
          'Content-Type: application/sdp',
          `Content-Length: ${Buffer.byteLength(body)}`,
          '',
          body,
        ].join('\r\n'),
      );
      let got = '';
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no 183 over TCP: ${got.slice(0, 200)}`)), 10_000);
        socket.on('data', (b) => {
          got += b.toString();
          if (/^SIP\/2\.0 183 /m.test(got)) {
            clearTimeout(t);
            resolve();
          }
        });
      });
      // The caller goes: its connection closes and nothing listens on its port.
      socket.destroy();
      const invite = await calleeUa.nextMatching(/^INVITE /, 10_000);
      replyTo(calleeUa, invite, responseTo(invite, '200 OK', 'bob1', offerSdp(40950), calleeUa.port));
      await calleeUa.nextMatching(/^ACK /, 10_000, header(invite, 'Call-ID'));
      const acked = Date.now();
      const bye = await calleeUa.nextMatching(/^BYE /, 10_000, header(invite, 'Call-ID'));
      replyTo(calleeUa, bye, okTo(bye));
      const ms = Date.now() - acked;
      assert.ok(ms < 3_000, `the callee is hung up ${ms} ms after its answer (timer H: 6,400)`);
      await assertNothingLeft(p);
    } finally {
      socket.destroy();
      calleeUa.close();
    }
  });
});
