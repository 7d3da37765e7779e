// A phone's blind transfer: the caller sends REFER (Refer-To: another phone) in its call.
// Parley does not carry out transfers its peers ask for. It answered 200 (drachtio-srf's
// default with no 'refer' listener), so the phone took the transfer as accepted, waited for
// NOTIFYs that never came and hung up. Now: 403 with a Warning saying why, and the call
// goes on (RTP both ways, the flow runs to its end, a later BYE is answered).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { waitFor } from '../helpers/wait.ts';
import { nextCallEnd } from './helpers.ts';
import { assertNothingLeft } from './leftovers.ts';
import { bodyOf, holdYaml, rawCall, rawParleyPerSuite, statusOf } from './raw-dialog.ts';

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
      const res = await c.final();
      assert.match(res, /^SIP\/2\.0 403 /, `REFER refused:\n${res}`);
      assert.match(res, /^Warning: 399 parley "[^"]*REFER[^"]*"/m, 'the Warning says why');

      // The call goes on: still listed, and Parley keeps sending RTP.
      const before = phone.received.length;
      await waitFor('RTP after the refused REFER', () => (phone.received.length >= before + 25 ? true : undefined), 10_000);
      assert.equal(parley().app.calls!.active.size, 1, 'the call is still up');

      c.cseq++;
      c.send('BYE');
      assert.equal(statusOf(await c.final()), 200);
      const { outcome } = await ended;
      assert.equal(outcome.reason, 'call-ended', 'the caller hung up');
      await assertNothingLeft(parley());
    });
  });
});
