// `npm run bench:calls`: the record-notice gateway end to end under load, against the
// Kamailio + rtpengine anchor in the same run. A SIPp caller (UAC) calls Parley; Parley
// answers with early media, starts recording (mix, stereo, a stem per leg), plays a short
// notice, bridges back-to-back to the original To, a SIPp callee (UAS) that answers at
// once and echoes RTP (-rtp_echo); the caller streams a 440 Hz u-law tone, holds, then
// hangs up. The anchor gets the same callers and callees: Kamailio relays to the To,
// rtpengine (userspace) carries and records the media as pcap.
//
// Each server runs as its own process, so its CPU is read from /proc apart from SIPp's.
// The call rate is ramped (BENCH_RATES), Parley and the anchor taking turns at each rate,
// each stopping at its first step that is not clean; then the same with a process
// spinning on every core (BENCH_HOG=0 leaves that out). Per step: offered and achieved
// rates, failures, setup times from wall-clock logs in both SIPp scenarios, concurrent
// calls, CPU per call, and the recordings: every answered call must leave a finalized
// recording with sound in every stem (Parley) or RTP from both ends in its pcap (anchor).
// Writes bench/results/calls.json (see bench/lib/call-bench.ts for the settings).
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runCallBench } from './lib/call-bench.ts';

/** The notice (and whisper) prompt: the first this many ms of prompts/record-notice.wav. */
const NOTICE_MS = Number(process.env.BENCH_NOTICE_MS ?? 300);
const root = resolve(new URL('..', import.meta.url).pathname);

await runCallBench({
  name: 'bench:calls',
  resultFile: 'calls.json',
  defaultRates: '10,20,30,40,50,60,70,80',
  hogByDefault: true,
  prepare(work) {
    mkdirSync(join(work, 'prompts'));
    execFileSync('sox', [join(root, 'prompts/record-notice.wav'), join(work, 'prompts/bench-notice.wav'), 'trim', '0', String(NOTICE_MS / 1000)]);
  },
  parleyConfig: (p) => `# bench:calls — Parley's config for this run (written by bench/call-setup.ts)
log: { level: ${p.logLevel}, pretty: false }
sip:
  listen: [{ transport: udp, host: 127.0.0.1, port: ${p.sipPort} }]
  control: { host: 127.0.0.1, port: 0, secret: bench }
media: { workers: auto, rtpIp: 127.0.0.1 }
prompts: { dir: ${join(p.work, 'prompts')}, cacheDir: ${join(p.work, 'cache')} }
recording: { dir: ${p.recordings} }
api: { enabled: true, host: 127.0.0.1, port: ${p.apiPort}, token: ${p.token}, rulesStateFile: ${join(p.work, 'rules-state.json')} }
routing:
  rules:
    - name: bench-gateway
      match: { method: INVITE, media: audio }
      actions: [{ app: record-notice }]
flows:
  record-notice:
    - answer: { early: true }
    - record: { action: start, stereo: true, stems: true }
    - play: { prompt: bench-notice, notice: true }
    - bridge: { whisper: { prompt: bench-notice }, ringTimeout: 10 }
`,
  method: ({ holdMs, stepSeconds, anchorVersion }) => ({
    flow: 'record-notice: answer (early media) → record (mix, stereo, stems) → play notice → bridge to the original To (whisper the notice to the callee)',
    notice: `the first ${NOTICE_MS} ms of prompts/record-notice.wav, as notice and as whisper`,
    caller: 'SIPp UAC, PCMU, streams a 440 Hz u-law tone (rtp_stream) once answered, holds, sends BYE',
    callee: 'SIPp UAS on loopback, answers at once (180 then 200), echoes RTP (-rtp_echo)',
    holdMs,
    stepSeconds,
    parley: "its own process (node --import tsx src/cli.ts start), media.workers auto, control API read every second (GET /metrics?name=parley_calls_active&name=parley_legs: only those two gauges; its CPU counts as Parley's)",
    anchor: `${anchorVersion ?? 'not run'}: Kamailio (tm, rr, rtpengine module: rtpengine_offer/answer with record-call=on, rtpengine_delete at BYE) relaying to the To; rtpengine in userspace (table = -1), recording-method = pcap into a temporary folder, delete-delay = 0, log level 4; the same SIPp callers and callees`,
    hog: 'variants parleyHog and anchorHog: a separate Node process with one thread spinning per core at nice 0 for the whole step (its CPU is not counted; hogPercentOfOneCore says how much it got)',
    setupTimes: 'wall clock (gettimeofday) logged by both SIPp processes: INVITE sent → 183 received (Parley answered with early media; the anchor sends none), → the B leg INVITE received by the callee, → 200 received',
    cpu: "utime+stime from /proc of the server's processes only (Parley: its Node process, all threads, and its child processes; anchor: Kamailio's main process and its children plus rtpengine) from a step's first INVITE until it was idle again, divided by the calls completed",
    rates: 'offeredCps: INVITEs per second SIPp really sent (first to last INVITE); achievedCps: calls completed per second over that span. A step counts as its rate only when SIPp offered at least 95 % of it.',
    good: 'the rate reached, no failed call at the caller, every callee call completed, every answered call left a recording with sound both ways (Parley: finalized, every listed file on disk, sound over the last second of every stem; anchor: its pcap holds at least 25 RTP packets (half a second) from each of two sources)',
  }),
});
