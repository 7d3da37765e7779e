// A real linphonec with Parley as its outbound proxy calls another phone (baresip) through
// the record-notice gateway, as the README's quick start says. linphonec writes the callee's
// port in the Request-URI only (`INVITE sip:bob@H:P`, `To: sip:bob@H`), so the original To
// names port 5060 of the same host: Parley itself. The B leg used to go there, come back
// marked, loop (482) and the caller was refused; now it goes to the Request-URI.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { medianToneShare, readWavFile } from '../helpers/audio-analysis.ts';
import { freePort } from '../helpers/free-port.ts';
import { startLinphonec } from '../helpers/linphonec.ts';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';
import { finalSidecars } from '../helpers/sidecars.ts';
import { waitFor } from '../helpers/wait.ts';

const yaml = `
routing:
  rules:
    - name: gateway
      match: { method: INVITE, media: audio }
      actions: [{ app: record-notice }]
flows:
  record-notice:
    - answer: { early: true }
    - record: { action: start, stereo: true, stems: true }
    - play: { prompt: record-notice, notice: true }
    - bridge: { whisper: { prompt: record-notice }, ringTimeout: 15 }
`;

const haveLinphonec = spawnSync('sh', ['-c', 'command -v linphonec && command -v baresip']).status === 0;

/** A loopback address whose port 5060 is free over UDP and TCP (linphonec's To names no port). */
async function hostWith5060Free(): Promise<string> {
  for (let i = 0; i < 50; i++) {
    const host = `127.0.${1 + Math.floor(Math.random() * 250)}.${2 + Math.floor(Math.random() * 250)}`;
    const udp = createSocket('udp4');
    const tcp = createServer();
    try {
      udp.bind(5060, host);
      await once(udp, 'listening');
      tcp.listen(5060, host);
      await once(tcp, 'listening');
      return host;
    } catch {
      // taken: try another address
    } finally {
      udp.close();
      tcp.close();
    }
  }
  throw new Error('no loopback address with port 5060 free');
}

/** baresip answering at once, a 1 kHz sine as its microphone. */
async function baresipCallee(host: string, port: number): Promise<{ output(): string; stop(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'baresip-callee-'));
  await writeFile(
    path.join(dir, 'config'),
    ['module_path /usr/lib/baresip/modules', `sip_listen ${host}:${port}`, 'module g711.so', 'module ausine.so', 'module alsa.so', 'module account.so', 'audio_source ausine,1000', 'ausrc_srate 48000', 'ausrc_channels 2', 'audio_player alsa,null', ''].join('\n'),
  );
  await writeFile(path.join(dir, 'accounts'), `<sip:bob@${host}:${port}>;regint=0;answermode=auto\n`);
  const child = spawn('baresip', ['-f', dir, '-n', host, '-s'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitFor('baresip ready', () => (out.includes('baresip is ready') ? true : undefined), 10_000);
  return {
    output: () => out,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

describe('linphonec calls baresip through the record-notice gateway', { skip: haveLinphonec ? false : 'linphonec or baresip not installed' }, () => {
  let parley: RunningParley;
  let host: string;
  let mic: string;

  before(async () => {
    host = await hostWith5060Free();
    // media.rtpIp6 as shipped: linphonec with IPv6 on offers IPv6 media on a dual-stack machine.
    parley = await startParley(yaml, { sipHost: host, sipPort: 5060, media: "rtpIp6: '::1'" });
    mic = path.join(parley.recordingDir, '..', 'mic-600.wav');
    spawnSync('sox', ['-n', '-r', '8000', '-c', '1', '-b', '16', mic, 'synth', '30', 'sine', '600', 'vol', '0.3']);
  });
  after(async () => {
    await parley?.stop();
  });

  it('the B leg reaches the callee at the Request-URI; the recording holds both phones', async () => {
    const bobPort = await freePort();
    const bob = await baresipCallee(host, bobPort);
    const phone = await startLinphonec({ user: 'carol', host, sipPort: await freePort(), rtpPort: 20_000 + Math.floor(Math.random() * 10_000) * 2, proxy: `sip:${host}:5060`, micWav: mic, ipv6: true });
    try {
      const bobUri = `sip:bob@${host}:${bobPort}`;
      phone.command(`call ${bobUri}`);
      await phone.waitFor(/connected\./, 20_000);
      await waitFor('baresip answered', () => (/Call established/.test(bob.output()) ? true : undefined), 10_000);
      await new Promise((r) => setTimeout(r, 3000));
      phone.command('terminate');
      await phone.waitFor(/ended/, 10_000);
      const [sidecar] = await waitFor('recording finalized', () => (finalSidecars(parley.recordingDir).length ? finalSidecars(parley.recordingDir) : undefined), 10_000);
      const uris = (sidecar.legs as Array<{ uri: string }>).map((l) => l.uri);
      assert.ok(uris.includes(bobUri), `the callee is in the recording: ${uris.join(', ')}`);
      const invite = /^INVITE (\S+) SIP\/2\.0/m.exec(await phone.sipLog());
      assert.equal(invite?.[1], bobUri, 'linphonec put the port in the Request-URI');
      // On a dual-stack machine linphonec offers IPv6 media; the answer then is IPv6 too.
      const offered = /^c=IN (IP[46]) /m.exec(await phone.sipLog())?.[1];
      const answered = /^SIP\/2\.0 200 [^]*?^c=IN (IP[46]) /m.exec(await phone.sipLog())?.[1];
      assert.equal(answered, offered, `Parley answered linphonec's ${offered} offer in the same family`);
      // Both phones are heard in their stems: linphonec's 600 Hz, baresip's 1 kHz.
      const legs = sidecar.legs as Array<{ uri: string; stems: Array<{ file: string }> }>;
      for (const [uriPart, hz] of [['carol', 600], ['bob', 1000]] as const) {
        const leg = legs.find((l) => l.uri.includes(uriPart));
        assert.ok(leg, `a leg for ${uriPart}: ${uris.join(', ')}`);
        const wav = readWavFile(path.join(parley.recordingDir, leg.stems[0]!.file));
        const share = medianToneShare(wav.samples, hz, wav.sampleRate);
        assert.ok(share > 0.5, `${uriPart}'s ${hz} Hz is in its stem (${share.toFixed(3)}; offered ${offered})`);
      }
    } finally {
      await phone.stop();
      await bob.stop();
    }
  });

  it('linphonec with SDES-SRTP offering only AES_CM_128_HMAC_SHA1_32 (libsrtp): answered with that suite, both phones in their stems', async () => {
    const bobPort = await freePort();
    const bob = await baresipCallee(host, bobPort);
    const phone = await startLinphonec({ user: 'erin', host, sipPort: await freePort(), rtpPort: 20_000 + Math.floor(Math.random() * 10_000) * 2, proxy: `sip:${host}:5060`, micWav: mic, srtpSuites: 'AES_CM_128_HMAC_SHA1_32' });
    try {
      phone.command(`call sip:bob@${host}:${bobPort}`);
      await phone.waitFor(/connected\./, 20_000);
      await waitFor('baresip answered', () => (/Call established/.test(bob.output()) ? true : undefined), 10_000);
      await new Promise((r) => setTimeout(r, 3000));
      // Nothing linphonec sent (SRTP, SRTCP) failed authentication.
      await parley.app.media!.nextStats();
      const active = [...parley.app.calls!.active.values()].find((c) => c.call.room.legIds.includes('caller'));
      const st = active?.call.room.leg('caller')?.endpoint?.stats;
      assert.ok(st && st.packetsIn > 100, `linphonec's SRTP was taken: ${JSON.stringify(st)}`);
      assert.equal(st.srtpFailures, 0, 'no SRTP or SRTCP packet of linphonec failed authentication');
      // linphonec's SRTCP (with a 32-bit tag, as liblinphone sends it under this suite) was read, and it read ours.
      assert.ok(st.rtcpIn > 0, `linphonec's SRTCP was taken: ${JSON.stringify(st)}`);
      phone.command('terminate');
      await phone.waitFor(/ended/, 10_000);
      const log = await phone.sipLog();
      const offer = /^INVITE sip:[^]*?(?=^SIP\/2\.0 )/m.exec(log)?.[0] ?? '';
      assert.deepEqual([...offer.matchAll(/^a=crypto:\d+ (\S+)/gm)].map((m) => m[1]), ['AES_CM_128_HMAC_SHA1_32'], 'linphonec offered only _32');
      assert.match(log, /^SIP\/2\.0 200 [^]*?^m=audio \d+ RTP\/SAVP [^]*?^a=crypto:\d+ AES_CM_128_HMAC_SHA1_32 inline:/m, 'Parley answered with _32');
      const sidecar = await waitFor('recording finalized', () => finalSidecars(parley.recordingDir).find((m) => m.legs.some((l: { uri: string }) => l.uri.includes('erin'))), 10_000);
      const legs = sidecar.legs as Array<{ uri: string; stems: Array<{ file: string }> }>;
      for (const [uriPart, hz] of [['erin', 600], ['bob', 1000]] as const) {
        const leg = legs.find((l) => l.uri.includes(uriPart));
        assert.ok(leg, `a leg for ${uriPart}`);
        const wav = readWavFile(path.join(parley.recordingDir, leg.stems[0]!.file));
        const share = medianToneShare(wav.samples, hz, wav.sampleRate);
        assert.ok(share > 0.5, `${uriPart}'s ${hz} Hz is in its stem (${share.toFixed(3)})`);
      }
    } finally {
      await phone.stop();
      await bob.stop();
    }
  });

  it("linphonec's pause is passed on to baresip with a re-INVITE (its direction), resume too; the recording marks the hold", async () => {
    const bobPort = await freePort();
    const bob = await baresipCallee(host, bobPort);
    const phone = await startLinphonec({ user: 'dave', host, sipPort: await freePort(), rtpPort: 20_000 + Math.floor(Math.random() * 10_000) * 2, proxy: `sip:${host}:5060`, micWav: mic });
    try {
      phone.command(`call sip:bob@${host}:${bobPort}`);
      await phone.waitFor(/connected\./, 20_000);
      await waitFor('baresip answered', () => (/Call established/.test(bob.output()) ? true : undefined), 10_000);
      // The notice and the whisper play first; the hold comes once the two are connected: the
      // callee's leg, muted from its INVITE until the whisper is over, is heard (b2b-bridge.ts).
      await waitFor('the whisper over, the two connected', () => (calleeHeard(parley, 'dave') ? true : undefined), 15_000);
      phone.command('pause');
      await waitFor('baresip gets the hold re-INVITE', () => (reinvites(bob.output()).length >= 1 ? true : undefined), 10_000);
      // Its hold re-INVITE answered (a resume before that would cross it).
      await phone.waitFor(/is now paused\./, 10_000);
      phone.command('resume');
      await waitFor('baresip gets the resume re-INVITE', () => (reinvites(bob.output()).length >= 2 ? true : undefined), 10_000);
      // Its resume re-INVITE answered: the media streams are set up again (a second time).
      await phone.waitFor(/Media streams established[^]*Media streams established/, 10_000);
      phone.command('terminate');
      await phone.waitFor(/ended/, 10_000);
      const toBob = reinvites(bob.output());
      assert.ok(['sendonly', 'inactive'].includes(toBob[0]!), `baresip was offered the hold: ${toBob.join(', ')}`);
      assert.equal(toBob[1], 'sendrecv', `then the resume: ${toBob.join(', ')}`);
      const sidecar = await waitFor('recording finalized', () => finalSidecars(parley.recordingDir).find((m) => m.legs.some((l: { uri: string }) => l.uri.includes('dave'))), 10_000);
      // The hold Parley read from linphonec's offer is the one baresip was offered.
      const caller = sidecar.legs.find((l: { id: string }) => l.id === 'caller');
      assert.deepEqual(caller.holds.map((h: { direction: string; end: unknown }) => [h.direction, h.end !== null]), [[toBob[0], true]], JSON.stringify(caller.holds));
    } finally {
      await phone.stop();
      await bob.stop();
    }
  });
});

/** Whether the callee's leg of `user`'s call is heard (unmuted): the bridge connected the two, past any whisper. */
function calleeHeard(parley: RunningParley, user: string): boolean {
  const active = [...parley.app.calls!.active.values()].find((a) => a.call.from.uri.includes(user));
  return active?.call.room.leg('callee')?.mixerParticipant?.muted === false;
}

/** The directions of the re-INVITEs baresip received (its SIP trace, -s): every INVITE after the first. */
function reinvites(trace: string): string[] {
  const invites = trace.split(/(?=^INVITE sip:)/m).filter((b) => b.startsWith('INVITE sip:'));
  return invites.slice(1).map((b) => /^a=(sendrecv|sendonly|recvonly|inactive)\s*$/m.exec(b.split(/\n(?=\S+ sip:|SIP\/2\.0 )/)[0]!)?.[1] ?? 'sendrecv');
}
