// Dual-stack calls end to end: SIPp callers and callees over IPv4 and IPv6 SIP,
// each with a Node RTP peer on the address its SDP names, through Parley's
// answer → record → bridge flow. A caller whose SDP is IPv6 is answered with
// c=IN IP6 and Parley's RTCP reaches it; a bridge between an IPv4 party and an
// IPv6 one carries audio both ways and both are in the recording. Without
// media.rtpIp6 an IPv6 offer gets 488 with a Warning that says why.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { apiYaml } from '../helpers/api-client.ts';
import { medianToneShare, readWavFile } from '../helpers/audio-analysis.ts';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { finalSidecars } from '../helpers/sidecars.ts';
import { startSipp, type SippRun } from '../helpers/sipp.ts';
import { waitFor } from '../helpers/wait.ts';
import { gatewayYaml, nextCallEnd, received, SCENARIOS, sippOk } from './helpers.ts';
import { assertNothingLeft } from './leftovers.ts';

const V4_HZ = 440;
const V6_HZ = 1000;
const flows = gatewayYaml('dual-stack', ['answer: {}', 'record: { action: start }', 'bridge: { ringTimeout: 10 }']);
/** The flows, and the API (assertNothingLeft reads it). */
const yaml = (): string => flows + apiYaml(join(mkdtempSync(join(tmpdir(), 'ipv6-media-')), 'rules.json'));

type Family = 'IP4' | 'IP6';
const loopback = (f: Family): string => (f === 'IP6' ? '::1' : '127.0.0.1');

/**
 * A SIPp party (caller or callee) in `family` for both SIP and media, with a Node RTP peer sending `hz`;
 * a caller hangs up `holdMs` after the answer (6 s: long enough for Parley's first RTCP report).
 */
async function party(role: 'caller' | 'callee', family: Family, hz: number, opts: { parley?: RunningParley; to?: string; attr?: string; delayed?: boolean; holdMs?: number } = {}) {
  const ip = loopback(family);
  const rtp = await new RtpPeer({ codec: 'PCMU', latch: true, ip }).bind();
  rtp.start({ kind: 'tone', freq: hz, amplitude: 8000 });
  const s = await startSipp({
    scenario: `${SCENARIOS}/${role === 'callee' ? 'callee-media.xml' : opts.delayed ? 'caller-delayed-media.xml' : 'caller-media.xml'}`,
    transport: 'udp',
    localIp: ip,
    remote: role === 'caller' ? (family === 'IP6' ? `[::1]:${opts.parley!.sipPort}` : `127.0.0.1:${opts.parley!.sipPort}`) : undefined,
    calls: 1,
    timeoutS: 30,
    extra: [
      ...(opts.to ? ['-key', 'to_uri', opts.to] : []),
      '-key', 'addrtype', family,
      '-key', 'conn_ip', ip,
      '-key', 'rtpport', String(rtp.port),
      '-key', 'attr', opts.attr ?? 'a=sendrecv',
      '-d', String(opts.holdMs ?? 6000),
      '-trace_msg',
    ],
  });
  return { role, family, hz, rtp, port: s.port, done: s.done };
}

type Party = Awaited<ReturnType<typeof party>>;

/** Both SIPp runs pass and the call has ended; their runs. */
async function finished(caller: Party, callee: Party, ended: Promise<unknown>): Promise<{ callerRun: SippRun; calleeRun: SippRun }> {
  const callerRun = await caller.done;
  sippOk(callerRun, 'caller');
  const calleeRun = await callee.done;
  sippOk(calleeRun, 'callee');
  await ended;
  return { callerRun, calleeRun };
}

/** Each party heard the other's tone over the bridged part. */
function assertBothHear(caller: Party, callee: Party): void {
  for (const [who, from] of [[caller, callee], [callee, caller]] as const) {
    const share = tailShare(who.rtp.decoded(), from.hz);
    assert.ok(share > 0.6, `the ${who.family === 'IP6' ? 'IPv6' : 'IPv4'} ${who.role} hears the ${from.family === 'IP6' ? 'IPv6' : 'IPv4'} ${from.role} (${share.toFixed(3)})`);
  }
}

/** The first received message with a line that matches (its start line, as the tests use it). */
function messageOf(messages: string[], line: RegExp): string {
  return messages.find((x) => line.test(x)) ?? '';
}

/** The share of `hz` in a decoded 8 kHz stream, over its last 2 s (the bridged part). */
function tailShare(pcm: Int16Array, hz: number): number {
  return medianToneShare(pcm.subarray(Math.max(0, pcm.length - 16000)), hz, 8000);
}

/** The caller's and the callee's stems of the recording that appeared after `seen` sidecars. */
async function stems(parley: RunningParley, seen: number): Promise<{ caller: Int16Array; other: Int16Array; rate: number }> {
  const metas = await waitFor('the recording is closed', () => {
    const all = finalSidecars(parley.recordingDir);
    return all.length > seen ? all : undefined;
  });
  const meta = metas.sort((a, b) => String(a.startedAt).localeCompare(String(b.startedAt))).at(-1)!;
  const legs = meta.legs as Array<{ role: string; stems: Array<{ file: string }> }>;
  const read = (role: string) => readWavFile(join(parley.recordingDir, legs.find((l) => l.role === role)!.stems[0]!.file));
  const c = read('caller');
  return { caller: c.samples, other: read('other').samples, rate: c.sampleRate };
}

/** The shipped parley.yaml's media.rtpIp6: these calls run with it (a phone on the machine offering IPv6 media). */
const SHIPPED_RTP_IP6 = (parse(readFileSync('parley.yaml', 'utf8')) as { media: { rtpIp6?: string | null } }).media.rtpIp6;

describe('dual-stack calls (media.rtpIp6 as shipped: ::1; SIPp over IPv4 and IPv6)', () => {
  let parley: RunningParley;
  before(async () => {
    assert.equal(SHIPPED_RTP_IP6, '::1', 'the shipped config answers IPv6 offers from ::1');
    parley = await startParley(yaml(), { udp6: true, media: `rtpIp6: '${SHIPPED_RTP_IP6}'` });
  });
  after(async () => {
    await parley?.stop();
  });

  it('an IPv6 caller (IPv6 INVITE) is answered with c=IN IP6, gets Parley\'s RTCP over IPv6, and is bridged to an IPv4 callee: both hear each other, both are recorded', async () => {
    const rtcp = dgram.createSocket('udp6');
    const rtcpFrom: { address: string; port: number }[] = [];
    rtcp.on('message', (_m, r) => rtcpFrom.push({ address: r.address, port: r.port }));
    rtcp.bind(0, '::1');
    await once(rtcp, 'listening');
    const callee = await party('callee', 'IP4', V4_HZ);
    const ended = nextCallEnd(parley);
    const caller = await party('caller', 'IP6', V6_HZ, { parley, to: `sip:bob@127.0.0.1:${callee.port}`, attr: `a=rtcp:${rtcp.address().port}` });
    try {
      const { callerRun, calleeRun } = await finished(caller, callee, ended);
      const ok = messageOf(received(callerRun), /^SIP\/2\.0 200 /m);
      assert.match(ok, /^c=IN IP6 ::1\r?$/m, 'the answer to the IPv6 caller is IPv6');
      const port = Number(/^m=audio (\d+) /m.exec(ok)![1]);
      assert.match(ok, new RegExp(`^a=rtcp:${port + 1}\\r?$`, 'm'), 'RTCP on the next port (the caller did not offer rtcp-mux)');
      const invite = messageOf(received(calleeRun), /^INVITE /m);
      assert.match(invite, /^c=IN IP4 127\.0\.0\.1\r?$/m, 'the IPv4 callee is offered IPv4');
      assert.ok(rtcpFrom.length >= 1, 'Parley\'s RTCP reached the IPv6 caller\'s a=rtcp port');
      assert.deepEqual(rtcpFrom[0], { address: '::1', port: port + 1 });
      assertBothHear(caller, callee);
      const rec = await stems(parley, 0);
      assert.ok(medianToneShare(rec.caller, V6_HZ, rec.rate) > 0.6, `the tone sent over IPv6 is in the caller's stem (${medianToneShare(rec.caller, V6_HZ, rec.rate).toFixed(3)})`);
      assert.ok(medianToneShare(rec.caller, V4_HZ, rec.rate) < 0.05, 'and the callee is not');
      assert.ok(medianToneShare(rec.other, V4_HZ, rec.rate) > 0.6, `the callee's stem holds the callee (${medianToneShare(rec.other, V4_HZ, rec.rate).toFixed(3)})`);
      await assertNothingLeft(parley);
    } finally {
      rtcp.close();
      await Promise.all([caller.rtp.close(), callee.rtp.close()]);
    }
  });

  it('an IPv4 caller bridged to an IPv6 SIP target: the B leg offers c=IN IP6, audio flows both ways and is recorded', async () => {
    const seen = finalSidecars(parley.recordingDir).length;
    const callee = await party('callee', 'IP6', V6_HZ);
    const ended = nextCallEnd(parley);
    // No RTCP checked here: 4 s leave the 2 s of bridged audio assertBothHear reads, and a margin.
    const caller = await party('caller', 'IP4', V4_HZ, { parley, to: `sip:bob@[::1]:${callee.port}`, holdMs: 4000 });
    try {
      const { callerRun, calleeRun } = await finished(caller, callee, ended);
      assert.match(messageOf(received(callerRun), /^SIP\/2\.0 200 /m), /^c=IN IP4 127\.0\.0\.1\r?$/m, 'the IPv4 caller is answered in IPv4');
      const invite = messageOf(received(calleeRun), /^INVITE /m);
      assert.match(invite, /^INVITE sip:bob@\[::1\]:\d+ SIP\/2\.0/m, 'the B leg went over IPv6 SIP');
      assert.match(invite, /^c=IN IP6 ::1\r?$/m, 'and offers IPv6 media');
      assert.match(invite, /^a=rtcp-mux\r?$/m);
      assertBothHear(caller, callee);
      const rec = await stems(parley, seen);
      assert.ok(medianToneShare(rec.other, V6_HZ, rec.rate) > 0.6, `the IPv6 callee's tone is in its stem (${medianToneShare(rec.other, V6_HZ, rec.rate).toFixed(3)})`);
      assert.ok(medianToneShare(rec.caller, V4_HZ, rec.rate) > 0.6, 'the caller\'s stem holds the caller');
      await assertNothingLeft(parley);
    } finally {
      await Promise.all([caller.rtp.close(), callee.rtp.close()]);
    }
  });

  it('an IPv6 caller without SDP (delayed offer, IPv6 INVITE) gets Parley\'s offer in IPv6 and is heard by an IPv4 callee', async () => {
    const callee = await party('callee', 'IP4', V4_HZ);
    const ended = nextCallEnd(parley);
    const caller = await party('caller', 'IP6', V6_HZ, { parley, to: `sip:bob@127.0.0.1:${callee.port}`, delayed: true, holdMs: 4000 });
    try {
      const { callerRun } = await finished(caller, callee, ended);
      assert.match(messageOf(received(callerRun), /^SIP\/2\.0 200 /m), /^c=IN IP6 ::1\r?$/m, 'the offer to a caller that came over IPv6 is IPv6');
      assertBothHear(caller, callee);
      await assertNothingLeft(parley);
    } finally {
      await Promise.all([caller.rtp.close(), callee.rtp.close()]);
    }
  });
});

describe('no IPv6 media configured (media.rtpIp6: null)', () => {
  let parley: RunningParley;
  before(async () => {
    parley = await startParley(yaml());
  });
  after(async () => {
    await parley?.stop();
  });

  it('an IPv6 offer gets 488 with Warning 301 saying IPv6 media is not configured, and nothing is left', async () => {
    const rtp = await new RtpPeer({ codec: 'PCMU', ip: '::1' }).bind();
    try {
      const s = await startSipp({
        scenario: `${SCENARIOS}/caller-offer-expect-488.xml`,
        transport: 'udp',
        remote: `127.0.0.1:${parley.sipPort}`,
        calls: 1,
        timeoutS: 30,
        extra: ['-key', 'to_uri', 'sip:bob@127.0.0.1:9', '-key', 'addrtype', 'IP6', '-key', 'conn_ip', '::1', '-key', 'rtpport', String(rtp.port), '-key', 'proto', 'RTP/AVP', '-key', 'attr', 'a=sendrecv', '-trace_msg'],
      });
      const run = await s.done;
      sippOk(run, 'caller');
      const final = received(run).find((m) => /^SIP\/2\.0 488 /m.test(m)) ?? '';
      assert.match(final, /^Warning: 301 parley "IPv6 media is not supported here: no IPv6 media address is configured"/m);
      await assertNothingLeft(parley);
    } finally {
      await rtp.close();
    }
  });
});
