// A peer that sends the ACK of a 200 and its next offerless re-INVITE back to back (a PBX
// reconnecting media in a loop): drachtio-srf tells the app of an ACK a turn later than of
// a re-INVITE, so the re-INVITE overtook the ACK before it, and each answer was applied to
// the next offer, one step late, until an ACK came alone (or after a 491) and found no
// offer pending: the call ended with 488. Now each ACK's answer goes to its own 200's
// offer: 20 rounds back to back, a 491 for a re-INVITE while a 200 is un-ACKed (it never
// reaches the app: the offers' versions run on by one), and both sides still hear each other.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { apiYaml } from '../helpers/api-client.ts';
import { parleyPerSuite, startParley, type RunningParley } from '../helpers/parley-harness.ts';
import { heardAfter, toneAndLevel } from '../helpers/peer-hearing.ts';
import { RawSipClient } from '../helpers/raw-sip-client.ts';
import { DRACHTIO_BIN, spawnRealDrachtio, type RealDrachtioServer } from '../helpers/real-drachtio.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { waitFor } from '../helpers/wait.ts';
import { nextCallEnd, sippOk, startCallee } from './helpers.ts';
import { assertNothingLeft } from './leftovers.ts';
import { bodyOf, RawDialog, statusOf } from './raw-dialog.ts';

const CALLER_HZ = 1000;
const CALLEE_HZ = 600;
const ROUNDS = 20;

/** Whether `peer` comes to hear `hz` in the packets after index `from` (each second judged in turn, up to `seconds`). */
async function comesToHear(peer: RtpPeer, hz: number, from: number, seconds = 8): Promise<{ ok: boolean; detail: string }> {
  let last = { ok: false, detail: 'nothing heard' };
  for (let at = from, i = 0; i < seconds && !last.ok; i++, at += 50) {
    const t = toneAndLevel(await heardAfter(peer, at), hz);
    last = { ok: t.share > 0.6 && t.rms > 0.02, detail: `${hz} Hz share ${t.share.toFixed(2)}, rms ${t.rms.toFixed(3)} of full scale` };
  }
  return last;
}

/** The session version of an SDP's o= line. */
function version(sdp: string): number {
  return Number(/^o=\S+ \S+ (\d+) /m.exec(sdp)?.[1] ?? NaN);
}

const YAML =
  `
routing:
  rules: [{ name: gw, match: { method: INVITE, media: audio }, actions: [{ app: b2b }] }]
flows:
  b2b:
    - answer
    - bridge: { ringTimeout: 10 }
` + apiYaml(join(mkdtempSync(join(tmpdir(), 'reinvite-b2b-')), 'rules.json'));

const TITLE = '20 rounds and a 491 between: each answer goes to its own offer, the call goes on, both sides hear each other';

describe('offerless re-INVITEs with their ACKs back to back', () => {
  const parley = parleyPerSuite(YAML);
  it(TITLE, () => backToBack(parley, () => parley().sipPort));
});

// The same through a real drachtio-server (sip.server: remote), when PARLEY_DRACHTIO_BIN names one:
// it tells the app of an ACK and of a re-INVITE in its own order, and answers glare itself or not.
describe('offerless re-INVITEs back to back, through a real drachtio-server', { skip: !DRACHTIO_BIN && 'needs PARLEY_DRACHTIO_BIN' }, () => {
  let server: RealDrachtioServer | undefined;
  let running: RunningParley | undefined;
  before(async () => {
    server = await spawnRealDrachtio();
    running = await startParley(YAML, { remote: { controlPort: server.controlPort, secret: server.secret } });
  });
  after(async () => {
    await running?.stop();
    await server?.close();
  });
  it(TITLE, () => backToBack(() => running!, () => server!.sipPort));
});

async function backToBack(parley: () => RunningParley, sipPort: () => number): Promise<void> {
  const callee = await startCallee('callee.xml', CALLEE_HZ);
  const ua = await RawSipClient.open();
  const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
  const c = new RawDialog(ua, sipPort(), 'back-to-back', 'bob', `sip:bob@127.0.0.1:${callee.port}`);
  const ended = nextCallEnd(parley());
  /** The final response to INVITE `n` (others, such as a late retransmission, are skipped). */
  const finalFor = async (n: number): Promise<string> => {
    for (;;) {
      const m = await c.final(30_000);
      if (new RegExp(`^CSeq:\\s*${n} INVITE`, 'mi').test(m)) return m;
    }
  };
  try {
    const ok = await c.invite(phone.sdp());
    assert.equal(statusOf(ok), 200, ok);
    phone.useRemoteSdp(bodyOf(ok));
    phone.start({ kind: 'tone', freq: CALLER_HZ, amplitude: 8000 });
    await waitFor('the callee answered', () => callee.rtp.received.length > 0, 15_000);

    const versions: number[] = [];
    c.cseq++;
    c.send('INVITE');
    let pending = await finalFor(c.cseq);
    for (let i = 0; i < ROUNDS; i++) {
      assert.equal(statusOf(pending), 200, `round ${i}: ${pending}`);
      versions.push(version(bodyOf(pending)));
      if (i === ROUNDS / 2) {
        // A re-INVITE while the 200 is un-ACKed: 491 (RFC 3261 §14.2), and it goes no further.
        c.cseq++;
        c.send('INVITE');
        const glare = await finalFor(c.cseq);
        assert.equal(statusOf(glare), 491, glare);
        c.ackFailure(c.cseq);
      }
      // The ACK with the answer for the last 200, and at once the next offerless re-INVITE.
      c.send('ACK', phone.sdp(), Number(/^CSeq:\s*(\d+)/m.exec(pending)![1]));
      c.cseq++;
      c.send('INVITE');
      pending = await finalFor(c.cseq);
    }
    assert.equal(statusOf(pending), 200, pending);
    versions.push(version(bodyOf(pending)));
    // The last ACK comes alone: its answer must find its own offer.
    c.send('ACK', phone.sdp(), c.cseq);
    for (let i = 1; i < versions.length; i++) assert.equal(versions[i], versions[i - 1]! + 1, `one offer per answered re-INVITE (o= versions ${versions.join(' ')})`);

    const calleeFrom = callee.rtp.received.length;
    const phoneFrom = phone.received.length;
    const a = await comesToHear(phone, CALLEE_HZ, phoneFrom);
    assert.ok(a.ok, `the caller still hears the callee: ${a.detail}`);
    const b = await comesToHear(callee.rtp, CALLER_HZ, calleeFrom);
    assert.ok(b.ok, `the callee still hears the caller: ${b.detail}`);
    assert.equal(parley().app.calls!.active.size, 1, 'the call goes on');

    c.cseq++;
    c.send('BYE');
    assert.equal(statusOf(await c.final()), 200);
    sippOk(await callee.done, 'callee');
    await ended;
    await assertNothingLeft(parley());
  } finally {
    callee.kill();
    ua.close();
    await phone.close();
    await callee.rtp.close();
  }
}
