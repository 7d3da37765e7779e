// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// A peer that sends the ACK of a 200 and its next offerless re-INVITE back to back (a PBX
// reconnecting media in a loop): drachtio-srf tells the app of an ACK a turn later than of
// a re-INVITE, so the re-INVITE overtook the ACK before it, and each answer was applied to
// the next offer, one step late, until an ACK came alone (or after a 491) and found no
// offer pending: the call ended with 488. Now each ACK's answer goes to its own 200's
// offer: 20 rounds back to back, a 491 for a re-INVITE while a 200 is un-ACKed (it never
// reaches the app: the offers' versions run on by one), and both sides still hear each other.
// Through a real drachtio-server that 491 comes from the app, after the late ACK had its turn.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { tempApiYaml } from '../helpers/api-client.ts';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';
import { comesToHear } from '../helpers/peer-hearing.ts';
import { DRACHTIO_BIN, spawnRealDrachtio, type RealDrachtioServer } from '../helpers/real-drachtio.ts';
import { waitFor } from '../helpers/wait.ts';
import { bodyOf, BRIDGE_YAML, rawCalleeCall, rawParleyPerSuite, statusOf } from './raw-dialog.ts';

const CALLER_HZ = 1000;
const CALLEE_HZ = 600;
const ROUNDS = 20;

/** The session version of an SDP's o= line. */
function version(sdp: string): number {
  return Number(/^o=\S+ \S+ (\d+) /m.exec(sdp)?.[1] ?? NaN);
}

const TITLE = '20 rounds and a 491 between: each answer goes to its own offer, the call goes on, both sides hear each other';

describe('offerless re-INVITEs with their ACKs back to back', () => {
  const parley = rawParleyPerSuite(BRIDGE_YAML);
  it(TITLE, () => backToBack(parley()));
});

// The same through a real drachtio-server (sip.server: remote), when PARLEY_DRACHTIO_BIN names one:
// it hands the app a re-INVITE that comes before the ACK of the last 200 (the app answers 491).
describe('offerless re-INVITEs back to back, through a real drachtio-server', { skip: !DRACHTIO_BIN && 'needs PARLEY_DRACHTIO_BIN' }, () => {
  let server: RealDrachtioServer | undefined;
  let running: RunningParley | undefined;
  before(async () => {
    server = await spawnRealDrachtio();
    running = await startParley(BRIDGE_YAML + tempApiYaml('field-'), { remote: { controlPort: server.controlPort, secret: server.secret } });
  });
  after(async () => {
    await running?.stop();
    await server?.close();
  });
  // The caller sends to the server's SIP port.
  it(TITLE, () => backToBack({ ...running!, sipPort: server!.sipPort }));
});

async function backToBack(parley: RunningParley): Promise<void> {
  await rawCalleeCall(parley, { name: 'back-to-back', scenario: 'callee.xml', calleeHz: CALLEE_HZ }, async (c, phone, callee) => {
    /** The final response to INVITE `n` (others, such as a late retransmission, are skipped). */
    const finalFor = (n: number): Promise<string> => c.finalTo(`${n} INVITE`, 30_000);
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
    assert.equal(parley.app.calls!.active.size, 1, 'the call goes on');
  });
}
