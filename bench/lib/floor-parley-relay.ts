// A child process for bench:floor (bench/forward-floor.ts): Parley's media plane as a
// two-party relay, with nothing above it (no SIP, no recording): a MediaEngine with the
// default media settings (media threads, one per core; mediasoup workers idle: no
// browser), and per call a room with the caller's leg (from its offer) and the callee's
// (Parley's offer, the callee's answer). Two legs and nothing playing: the room forwards
// leg to leg (SSRC, sequence and timestamp rewritten), as a record-notice gateway's call
// does after its notice.
import { defaultConfig } from '../../src/config/schema.ts';
import { MediaEngine } from '../../src/media-plane/media-engine.ts';
import { createLogger } from '../../src/util/logger.ts';
import { pcmuSdp as sdp } from './pcmu-sdp.ts';

interface Setup {
  calls: number;
  callerPort: number;
  calleePort: number;
  portMin: number;
  /** 0: media.nativeIo off (the parley-dgram relay). */
  nativeIo?: number;
}


const portOf = (s: string): number => Number(/^m=audio (\d+)/m.exec(s)?.[1] ?? NaN);

const log = createLogger({ level: 'warn', pretty: false });

process.once('message', async (m: Setup) => {
  const threads = process.env.FLOOR_THREADS ? Number(process.env.FLOOR_THREADS) : defaultConfig.media.threads;
  // The parley-dgram relay: the same with media.nativeIo off (every packet through node:dgram).
  const nativeIo = m.nativeIo !== 0;
  const engine = await MediaEngine.create({ ...defaultConfig.media, threads, nativeIo, rtpPortRange: { min: m.portMin, max: m.portMin + 4 * m.calls + 100 } }, log);
  const ports: number[] = [];
  for (let i = 0; i < m.calls; i++) {
    const room = await engine.createRoom(`floor-${i}`);
    const { answer } = await room.createLeg(sdp(m.callerPort, i), { id: `caller-${i}` });
    const { leg, offer } = await room.createOutgoingLeg({ id: `callee-${i}` });
    await leg.applyAnswer(sdp(m.calleePort, 1000 + i));
    if (!Number.isFinite(portOf(offer))) throw new Error('no port in Parley\'s offer');
    ports.push(portOf(answer));
  }
  process.send!({ ports, threads: engine.threadCount });
  process.once('message', () => {
    engine.close();
    setTimeout(() => process.exit(0), 200);
  });
});
