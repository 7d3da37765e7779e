// A PBX's 3pcc transfer (RFC 3725 flow I) sends a re-INVITE without SDP to reconnect a
// bridged call's media to a new phone. Parley's offer in the 200 listed only the codec in
// use, so a new phone that could not take it had no choice. It is now a full offer (RFC
// 3264 §8, RFC 6337 §5.3: every codec the room takes, the current one first, and
// telephone-event), and when the answer in the ACK picks another codec (PCMA for PCMU
// here; G.722 on an SRTP leg, whose offer keeps the current key) Parley switches the leg
// to it and transcodes: both sides hear each other's tone in their own codec, and the
// recording goes on with the new phone in it.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { purity, readWavFile } from '../helpers/audio-analysis.ts';
import { comesToHear } from '../helpers/peer-hearing.ts';
import { RawSipClient } from '../helpers/raw-sip-client.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { finalSidecars } from '../helpers/sidecars.ts';
import { waitFor } from '../helpers/wait.ts';
import { nextCallEnd, sippOk, startCallee } from './helpers.ts';
import { assertNothingLeft } from './leftovers.ts';
import { bodyOf, RawDialog, rawParleyPerSuite, RECORDED_BRIDGE_YAML, statusOf } from './raw-dialog.ts';

const CALLER_HZ = 1000;
const CALLEE_HZ = 600;
const NEW_PHONE_HZ = 1400;

describe('offerless re-INVITE in a bridged call: a full offer, and the codec the answer picks', () => {
  const parley = rawParleyPerSuite(RECORDED_BRIDGE_YAML);

  /** The call, the transfer to a new phone taking `newCodec` (and SRTP when `srtp`), and what each side hears. */
  async function transfer(newCodec: 'PCMA' | 'G722', srtp: boolean): Promise<void> {
    const suite = srtp ? ('AES_CM_128_HMAC_SHA1_80' as const) : undefined;
    const callee = await startCallee('callee.xml', CALLEE_HZ);
    const ua = await RawSipClient.open();
    const phone = await new RtpPeer({ codec: 'PCMU', srtp: suite }).bind();
    const newPhone = await new RtpPeer({ codec: newCodec, srtp: suite }).bind();
    const c = new RawDialog(ua, parley().sipPort, `codec-${newCodec}-${srtp}`, 'bob', `sip:bob@127.0.0.1:${callee.port}`);
    const ended = nextCallEnd(parley());
    try {
      const ok = await c.invite(phone.sdp());
      assert.equal(statusOf(ok), 200, ok);
      const answer = bodyOf(ok);
      phone.useRemoteSdp(answer);
      phone.start({ kind: 'tone', freq: CALLER_HZ, amplitude: 8000 });
      // The bridge is up: each side hears the other (PCMU both ways).
      await waitFor('the callee answered', () => callee.rtp.received.length > 0, 15_000);
      const before = await comesToHear(phone, CALLEE_HZ, 0);
      assert.ok(before.ok, `the caller hears the callee before the transfer: ${before.detail}`);
      const heard = await comesToHear(callee.rtp, CALLER_HZ, 0);
      assert.ok(heard.ok, `the callee hears the caller before the transfer: ${heard.detail}`);

      // The PBX's transfer: a re-INVITE without SDP.
      c.cseq++;
      c.send('INVITE');
      const reoffer = await c.final();
      assert.equal(statusOf(reoffer), 200, reoffer);
      const offer = bodyOf(reoffer);
      const m = /^m=audio (\d+) (RTP\/S?AVP) ([\d ]+)\r?$/m.exec(offer);
      assert.ok(m, `no audio offer in the 200:\n${offer}`);
      for (const codec of ['PCMU/8000', 'PCMA/8000', 'G722/8000', 'telephone-event/8000']) {
        assert.match(offer, new RegExp(`^a=rtpmap:\\d+ ${codec}\\r?$`, 'm'), `the offer lacks ${codec} (not a full offer):\n${offer}`);
      }
      assert.equal(m[3]!.split(' ')[0], '0', 'the codec in use comes first');
      assert.match(offer, /^a=sendrecv\r?$/m);
      if (srtp) {
        assert.equal(m[2], 'RTP/SAVP');
        const key = (sdp: string): string | undefined => /^a=crypto:\d+ AES_CM_128_HMAC_SHA1_80 inline:(\S+)/m.exec(sdp)?.[1];
        assert.ok(key(offer), `no crypto in the offer:\n${offer}`);
        assert.equal(key(offer), key(answer), 'the offer keeps the current key');
      } else assert.equal(m[2], 'RTP/AVP');

      // The new phone behind the PBX takes `newCodec` only: the PBX's ACK carries its answer.
      phone.stopSending();
      newPhone.useRemoteSdp(offer);
      newPhone.start({ kind: 'tone', freq: NEW_PHONE_HZ, amplitude: 8000 });
      const calleeFrom = callee.rtp.received.length;
      c.send('ACK', newPhone.sdp(), c.cseq);

      await waitFor('RTP at the new phone', () => newPhone.received.length > 0, 10_000);
      const a = await comesToHear(newPhone, CALLEE_HZ, 0);
      const pts = new Set(newPhone.received.map((p) => p.payloadType));
      const pt = newCodec === 'PCMA' ? 8 : 9;
      assert.deepEqual([...pts].filter((x) => x !== 101), [pt], `the new phone gets ${newCodec} (payload types ${[...pts].join(', ')})`);
      assert.ok(a.ok, `the new phone hears the callee in ${newCodec}: ${a.detail}`);
      // What the callee hears after the switch: the new phone's tone, transcoded to PCMU.
      const b = await comesToHear(callee.rtp, NEW_PHONE_HZ, calleeFrom);
      assert.ok(b.ok, `the callee hears the new phone (${newCodec} → PCMU): ${b.detail}`);
      assert.equal(parley().app.calls!.active.size, 1, 'the call goes on');

      c.cseq++;
      c.send('BYE');
      assert.equal(statusOf(await c.final()), 200);
      sippOk(await callee.done, 'callee');
      const { active } = await ended;
      await assertNothingLeft(parley());
      const meta = await waitFor('the closed recording', () => finalSidecars(parley().recordingDir).find((x) => x.legs?.some((l: { callId?: string }) => l.callId === active.call.callId)), 10_000);
      const mix = readWavFile(join(parley().recordingDir, meta.mix.file));
      const w = mix.sampleRate / 2;
      const at = mix.samples.length - 2 * w;
      const p = purity(mix.samples, mix.sampleRate, NEW_PHONE_HZ, at, w);
      assert.ok(p > 0.1, `the recording's mix holds the new phone after the transfer (${NEW_PHONE_HZ} Hz purity ${p.toFixed(2)})`);
    } finally {
      callee.kill();
      ua.close();
      await phone.close();
      await newPhone.close();
      await callee.rtp.close();
    }
  }

  it('PCMU → PCMA: the 200 offers every codec; after the ACK both sides hear each other, transcoded, and the recording goes on', async () => {
    await transfer('PCMA', false);
  });

  it('SRTP, PCMU → G.722: the offer keeps the current key; the new phone is heard and hears in G.722', async () => {
    await transfer('G722', true);
  });
});
