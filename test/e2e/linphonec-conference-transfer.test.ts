// A real softphone's blind transfer out of a conference room (`transfers: members`):
// linphonec (liblinphone 5.1) calls the room, then `transfer 1 <uri>`. Parley dials the target
// into the room, tells linphonec (NOTIFY 200), and linphonec hangs its call up; the member
// that stayed and the target hear each other.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { comesToHear } from '../helpers/peer-hearing.ts';
import { freePort } from '../helpers/free-port.ts';
import { startLinphonec } from '../helpers/linphonec.ts';
import { header, RawSipClient } from '../helpers/raw-sip-client.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { waitFor } from '../helpers/wait.ts';
import { comesToHearTone, join } from './conference-members.ts';
import { bodyOf, calleeRequest, flowYaml, rawParleyPerSuite, replyTo, responseTo, statusOf } from './raw-dialog.ts';

const haveLinphonec = spawnSync('sh', ['-c', 'command -v linphonec && command -v sox']).status === 0;

describe('linphonec transfers its place in a conference room', { skip: haveLinphonec ? false : 'linphonec or sox not installed' }, () => {
  const parley = rawParleyPerSuite(flowYaml('conf', '    - answer\n    - conference: { room: lin, transfers: members }\n'));

  it('the target is dialled into the room, linphonec is told and hangs up, the room hears the target', async () => {
    const p = parley();
    const mic = path.join(p.recordingDir, '..', 'mic-600.wav');
    spawnSync('sox', ['-n', '-r', '8000', '-c', '1', '-b', '16', mic, 'synth', '60', 'sine', '600', 'vol', '0.3']);
    const member = await startLinphonec({ user: 'member', host: '127.0.0.1', sipPort: await freePort(), rtpPort: 20_000 + Math.floor(Math.random() * 10_000) * 2, proxy: `sip:127.0.0.1:${p.sipPort}`, micWav: mic });
    const stayer = await join(p, 'lin-stayer', 1000);
    const targetUa = await RawSipClient.open();
    const target = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    try {
      member.command(`call sip:lin@127.0.0.1:${p.sipPort}`);
      await waitFor('linphonec in the room', async () => (await p.app.conferences!.get('lin'))?.roster.size === 2, 20_000);
      const before = await comesToHearTone(stayer, 600);
      assert.ok(before.ok, `the room hears linphonec: 600 Hz at ${before.amp.toFixed(3)}`);
      member.command(`transfer 1 sip:carol@127.0.0.1:${targetUa.port}`);
      const invite = await targetUa.nextMatching(/^INVITE /, 20_000);
      assert.match(header(invite, 'Referred-By'), /sip:member@127\.0\.0\.1/, 'the REFER\'s Referred-By is passed on');
      replyTo(targetUa, invite, responseTo(invite, '200 OK', 'carol1', target.sdp(), targetUa.port));
      await targetUa.nextMatching(/^ACK /, 10_000, header(invite, 'Call-ID'));
      target.useRemoteSdp(bodyOf(invite));
      target.start({ kind: 'tone', freq: 1400, amplitude: 8000 });
      // liblinphone is told (NOTIFY 200) and hangs its transferred call up.
      await member.waitFor(/has been transfered[\s\S]*Call 1 with sip:lin@127\.0\.0\.1(:\d+)? ended/, 15_000);
      const conf = await p.app.conferences!.get('lin');
      await waitFor('linphonec gone, the target in', () => conf!.roster.size === 2 && conf!.roster.visible.some((e) => /^sip:carol@/.test(e.uri)) && !conf!.roster.visible.some((e) => /member/.test(e.uri)), 10_000);
      const stayerHears = await comesToHearTone(stayer, 1400);
      assert.ok(stayerHears.ok, `the room hears the target: 1400 Hz at ${stayerHears.amp.toFixed(3)}`);
      const targetHears = await comesToHear(target, 1000, 0);
      assert.ok(targetHears.ok, `the target hears the room: ${targetHears.detail}`);
      stayer.d.cseq++;
      stayer.d.send('BYE');
      assert.equal(statusOf(await stayer.d.finalTo(`${stayer.d.cseq} BYE`)), 200);
      targetUa.send(p.sipPort, calleeRequest(invite, 'carol1', 'BYE', 1, targetUa.port));
      assert.equal(statusOf(await targetUa.nextMatching(/^SIP\/2\.0 /, 10_000, header(invite, 'Call-ID'))), 200);
      await waitFor('the room closed', async () => (await p.app.conferences!.get('lin')) === undefined, 10_000);
    } finally {
      await member.stop();
      stayer.ua.close();
      await stayer.phone.close();
      targetUa.close();
      await target.close();
    }
  });
});
