// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// Offers as phones, PBXs and SBCs in the field write them, each in a real call over UDP:
// - G.722 with telephone-event/16000 only (its sampling rate; RFC 3551 gives G.722 an 8 kHz
//   RTP clock, but several phones list the event at 16000): it was dropped from the answer,
//   so the phone's RFC 4733 digits were lost; now it is answered and a digit reaches the menu;
// - a re-INVITE offering only codecs Parley lacks: 488 had no Warning; now 305, and the call
//   goes on;
// - what held already: an INVITE with only codecs Parley lacks (488, Warning 305); video (and
//   T.38) m-lines beside audio (answered with port 0, in the offer's order; the audio works);
//   telephone-event at a payload type other than 101; c= at media level only; a=rtcp naming
//   another address.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RawSipClient } from '../helpers/raw-sip-client.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { waitFor } from '../helpers/wait.ts';
import { nextCallEnd } from './helpers.ts';
import { assertNothingLeft } from './leftovers.ts';
import { answerBye, bodyOf, MENU_FIVE_YAML, rawCall, rawParleyPerSuite, statusOf, type RawDialog } from './raw-dialog.ts';

function sdp(lines: readonly string[], session: readonly string[] = ['c=IN IP4 127.0.0.1']): string {
  return ['v=0', 'o=phone 5 1 IN IP4 127.0.0.1', 's=-', ...session, 't=0 0', ...lines].join('\r\n') + '\r\n';
}

describe('offers from the field (real SIP over UDP)', () => {
  const parley = rawParleyPerSuite(MENU_FIVE_YAML);

  function dialled(name: string, offer: string, phone: RtpPeer, run: (c: RawDialog, ua: RawSipClient, answer: string) => Promise<void>): Promise<void> {
    return rawCall(parley(), { name, user: 'ivr', phone }, async (c, ua) => {
      const ok = await c.invite(offer);
      assert.equal(statusOf(ok), 200, ok);
      const answer = bodyOf(ok);
      phone.useRemoteSdp(answer);
      phone.start({ kind: 'tone', freq: 440, amplitude: 8000 });
      await run(c, ua, answer);
      await assertNothingLeft(parley());
    });
  }

  it('G.722 with telephone-event/16000 at 97: the answer keeps it, and a digit sent at 97 reaches the menu', async () => {
    const phone = await new RtpPeer({ codec: 'G722', dtmfPt: 97 }).bind();
    const offer = phone.sdp().replace('telephone-event/8000', 'telephone-event/16000');
    const ended = nextCallEnd(parley());
    await dialled('g722-te16k', offer, phone, async (c, ua, answer) => {
      assert.match(answer, /^a=rtpmap:97 telephone-event\/16000\r?$/m, `telephone-event answered:\n${answer}`);
      await phone.waitForPackets(10, 10_000);
      phone.queueDtmf('5', 120);
      await answerBye(ua, parley().sipPort, c.callId);
      assert.equal((await ended).outcome.flow, 'five', 'the digit reached the menu');
    });
  });

  it('a re-INVITE offering only G.729 and iLBC gets 488 with Warning 305; the call goes on', async () => {
    const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
    const ended = nextCallEnd(parley());
    await dialled('reinvite-305', phone.sdp(), phone, async (c) => {
      c.cseq++;
      c.send('INVITE', sdp([`m=audio ${phone.port} RTP/AVP 18 97`, 'a=rtpmap:18 G729/8000', 'a=rtpmap:97 iLBC/8000', 'a=sendrecv']));
      const res = await c.final();
      c.ackFailure(c.cseq);
      assert.match(res, /^SIP\/2\.0 488 /, res);
      assert.match(res, /^Warning: 305 parley "[^"]+"/m, `Warning 305:\n${res}`);
      const before = phone.received.length;
      await waitFor('RTP after the refused re-INVITE', () => (phone.received.length >= before + 25 ? true : undefined), 10_000);
      c.cseq++;
      c.send('BYE');
      assert.equal(statusOf(await c.final()), 200);
      assert.notEqual((await ended).outcome.flow, 'five', 'the call ended with the BYE');
    });
  });

  it('an INVITE offering only G.729 and iLBC gets 488 with Warning 305', async () => {
    await rawCall(parley(), { name: 'invite-305', user: 'ivr' }, async (c) => {
      const res = await c.invite(sdp(['m=audio 40000 RTP/AVP 18 97', 'a=rtpmap:18 G729/8000', 'a=rtpmap:97 iLBC/8000', 'a=sendrecv']));
      assert.match(res, /^SIP\/2\.0 488 Not Acceptable Here\r?$/m, res);
      assert.match(res, /^Warning: 305 parley "[^"]+"/m, res);
      await assertNothingLeft(parley());
    });
  });

  it('video and T.38 beside audio (telephone-event at 100, c= per m-line, a=rtcp elsewhere): port 0 for them in order, the audio works', async () => {
    const phone = await new RtpPeer({ codec: 'PCMU', dtmfPt: 100, rtcpMux: false }).bind();
    const offer = sdp(
      [
        'm=video 40002 RTP/AVP 96', 'c=IN IP4 127.0.0.1', 'a=rtpmap:96 H264/90000', 'a=sendrecv',
        `m=audio ${phone.port} RTP/AVP 0 100`, 'c=IN IP4 127.0.0.1', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:100 telephone-event/8000', 'a=fmtp:100 0-15',
        'a=ptime:20', `a=rtcp:${phone.port + 1} IN IP4 127.0.0.1`, 'a=sendrecv',
        'm=image 40004 udptl t38', 'c=IN IP4 127.0.0.1',
      ],
      [],
    );
    const ended = nextCallEnd(parley());
    await dialled('video-t38', offer, phone, async (c, ua, answer) => {
      const mlines = answer.split(/\r?\n/).filter((l) => l.startsWith('m='));
      assert.equal(mlines.length, 3, answer);
      assert.match(mlines[0]!, /^m=video 0 RTP\/AVP 96$/);
      assert.match(mlines[1]!, /^m=audio [1-9]\d* RTP\/AVP 0 100$/);
      assert.match(mlines[2]!, /^m=image 0 udptl t38$/);
      await phone.waitForPackets(25, 10_000);
      phone.queueDtmf('5', 120);
      await answerBye(ua, parley().sipPort, c.callId);
      assert.equal((await ended).outcome.flow, 'five', 'a digit at 100 reached the menu');
    });
  });
});
