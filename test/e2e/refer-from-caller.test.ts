// parley-tests: beside (judges no real-time audio: raw SIP, RTP counted as packets; run beside other test files, scripts/run-tests.sh)
// A phone's blind transfer: the caller sends REFER (Refer-To: another phone) in its call.
// Parley does not carry out transfers its peers ask for. It answered 200 (drachtio-srf's
// default with no 'refer' listener), so the phone took the transfer as accepted, waited for
// NOTIFYs that never came and hung up. Now: 403 with a Warning saying why, and the call
// goes on (RTP both ways, the flow runs to its end, a later BYE is answered).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RawSipClient } from '../helpers/raw-sip-client.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { waitFor } from '../helpers/wait.ts';
import { nextCallEnd } from './helpers.ts';
import { assertNothingLeft } from './leftovers.ts';
import { bodyOf, flowYaml, holdYaml, RawDialog, rawCall, rawParleyPerSuite, replyTo, responseTo, statusOf } from './raw-dialog.ts';

describe('REFER from the caller (a phone\'s blind transfer)', () => {
  const parley = rawParleyPerSuite(holdYaml(30_000));

  it('is refused with 403 and a Warning; the call and its media go on, and the caller\'s BYE ends it', async () => {
    const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
    const ended = nextCallEnd(parley());
    await rawCall(parley(), { name: 'refer', phone }, async (c, ua) => {
      const ok = await c.invite(phone.sdp());
      assert.equal(statusOf(ok), 200, ok);
      phone.useRemoteSdp(bodyOf(ok));
      phone.start({ kind: 'tone', freq: 440, amplitude: 8000 });
      await phone.waitForPackets(10, 10_000);

      c.cseq++;
      const refer = c.req('REFER').replace('\r\nContent-Length:', `\r\nRefer-To: <sip:carol@127.0.0.1:5999>\r\nReferred-By: <sip:adv@127.0.0.1>\r\nContent-Length:`);
      ua.send(parley().sipPort, refer);
      const res = await c.finalTo(`${c.cseq} REFER`);
      assert.match(res, /^SIP\/2\.0 403 /, `REFER refused:\n${res}`);
      assert.match(res, /^Warning: 399 parley "[^"]*REFER[^"]*"/m, 'the Warning says why');

      // The call goes on: still listed, and Parley keeps sending RTP.
      const before = phone.received.length;
      await waitFor('RTP after the refused REFER', () => (phone.received.length >= before + 25 ? true : undefined), 10_000);
      assert.equal(parley().app.calls!.active.size, 1, 'the call is still up');

      c.cseq++;
      c.send('BYE');
      assert.equal(statusOf(await c.finalTo(`${c.cseq} BYE`)), 200);
      const { outcome } = await ended;
      assert.equal(outcome.reason, 'call-ended', 'the caller hung up');
      await assertNothingLeft(parley());
    });
  });
});

// A bridge under `transfers: both` carries out the caller's REFER once the callee is connected.
// One that comes while the callee still rings cannot be carried out yet: there is no established
// call to hand on. It was answered 403 with "call transfer (REFER) is not supported here", which
// is not true of this bridge, and 403 says not to try again (RFC 3261 §21.4.4). Now 491 (try
// again later: what the bridge answers a REFER while it is not connected or already transferring)
// with a Warning saying the call is not connected yet.
describe('REFER from the caller while the bridge still rings the callee (transfers: both)', () => {
  const parley = rawParleyPerSuite(flowYaml('ring', '    - answer\n    - bridge: { ringTimeout: 30, transfers: both }\n'));

  it('is answered 491 with a Warning that the call is not connected yet; the ringing goes on until the caller hangs up', async () => {
    const calleeUa = await RawSipClient.open();
    const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
    try {
      const ended = nextCallEnd(parley());
      await rawCall(parley(), { name: 'refer-ringing', user: 'bob', to: `sip:bob@127.0.0.1:${calleeUa.port}`, phone }, async (c: RawDialog, ua) => {
        const ok = await c.invite(phone.sdp());
        assert.equal(statusOf(ok), 200, ok);
        // The bridge rings the callee (its INVITE here, answered 180 and left ringing).
        const invite = await calleeUa.nextMatching(/^INVITE /, 15_000);
        replyTo(calleeUa, invite, responseTo(invite, '180 Ringing', 'ringing-bob'));

        c.cseq++;
        const refer = c.req('REFER').replace('\r\nContent-Length:', `\r\nRefer-To: <sip:carol@127.0.0.1:5999>\r\nReferred-By: <sip:adv@127.0.0.1>\r\nContent-Length:`);
        ua.send(parley().sipPort, refer);
        const res = await c.finalTo(`${c.cseq} REFER`);
        assert.match(res, /^SIP\/2\.0 491 /, `REFER refused for now:\n${res}`);
        assert.match(res, /^Warning: 399 parley "[^"]*not connected yet[^"]*"/m, 'the Warning says what is true');
        assert.doesNotMatch(res, /not supported/);

        // The caller hangs up: the callee still ringing gets its CANCEL (answered 200 and 487).
        c.cseq++;
        c.send('BYE');
        assert.equal(statusOf(await c.finalTo(`${c.cseq} BYE`)), 200);
        const cancel = await calleeUa.nextMatching(/^CANCEL /, 15_000);
        replyTo(calleeUa, cancel, responseTo(cancel, '200 OK', 'ringing-bob'));
        replyTo(calleeUa, invite, responseTo(invite, '487 Request Terminated', 'ringing-bob'));
        await calleeUa.nextMatching(/^ACK /, 15_000);
        await ended;
        await assertNothingLeft(parley());
      });
    } finally {
      calleeUa.close();
    }
  });
});
