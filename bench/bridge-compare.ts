// `npm run bench:bridge`: two-party bridged and recorded calls without a prompt, Parley
// against the Kamailio + rtpengine anchor in the same run, with the same SIPp callers and
// echoing callees (bench/lib/call-bench.ts). Parley's flow: answer with early media,
// record (stereo and a WAV stem per leg, plus the mix), bridge to the original To; the
// anchor relays the call through Kamailio and records it in rtpengine as pcap
// (userspace, `table = -1`, `record-call=on`). Reported: CPU per call (the servers'
// processes, from /proc) and the highest rate with no failed call and every recording
// with sound both ways. No hog variant unless BENCH_HOG=1; BENCH_NATIVE_IO=0 runs Parley with
// media.nativeIo off (every RTP packet through node:dgram). Writes bench/results/bridge.json.
import { join } from 'node:path';
import { runCallBench } from './lib/call-bench.ts';

await runCallBench({
  name: 'bench:bridge',
  resultFile: 'bridge.json',
  defaultRates: '10,20,30,40,50,60,80,100',
  hogByDefault: false,
  parleyConfig: (p) => `# bench:bridge — Parley's config for this run (written by bench/bridge-compare.ts)
log: { level: ${p.logLevel}, pretty: false }
sip:
  listen: [{ transport: udp, host: 127.0.0.1, port: ${p.sipPort} }]
  control: { host: 127.0.0.1, port: 0, secret: bench }
media: { workers: auto, rtpIp: 127.0.0.1${process.env.BENCH_NATIVE_IO === '0' ? ', nativeIo: false' : ''} }
recording: { dir: ${p.recordings} }
api: { enabled: true, host: 127.0.0.1, port: ${p.apiPort}, token: ${p.token}, rulesStateFile: ${join(p.work, 'rules-state.json')} }
routing:
  rules:
    - name: bench-bridge
      match: { method: INVITE, media: audio }
      actions: [{ app: recorded-bridge }]
flows:
  recorded-bridge:
    - answer: { early: true }
    - record: { action: start, stereo: true, stems: true }
    - bridge: { ringTimeout: 10 }
`,
  method: ({ holdMs, stepSeconds, anchorVersion }) => ({
    nativeIo: process.env.BENCH_NATIVE_IO !== '0',
    flow: 'recorded-bridge: answer (early media, so the caller gets its 200 when the callee answers, as through a proxy) → record (mix, stereo, a WAV stem per leg) → bridge to the original To; no prompt',
    caller: 'SIPp UAC, PCMU, streams a 440 Hz u-law tone (rtp_stream) once answered, holds, sends BYE',
    callee: 'SIPp UAS on loopback, answers at once (180 then 200), echoes RTP (-rtp_echo)',
    holdMs,
    stepSeconds,
    parley: 'its own process (node --import tsx src/cli.ts start), media.workers auto',
    anchor: `${anchorVersion ?? 'not run'}: Kamailio (tm, rr, rtpengine module: rtpengine_offer/answer with record-call=on, rtpengine_delete at BYE) relaying to the To; rtpengine in userspace (table = -1), recording-method = pcap into a temporary folder, delete-delay = 0, log level 4`,
    cpu: "utime+stime from /proc of the server's processes only (Parley: its Node process, all threads, and its child processes; anchor: Kamailio's processes plus rtpengine) from a step's first INVITE until it was idle again, divided by the calls completed",
    rates: 'offeredCps: INVITEs per second SIPp really sent; achievedCps: calls completed per second over the same span; a step counts as its rate only when SIPp offered at least 95 % of it',
    good: 'the rate reached, no failed call, every callee call completed, every answered call left a recording with sound both ways (Parley: every stem; anchor: RTP from both ends in its pcap)',
  }),
});
