import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { SsrcDiscovery, type DiscoverableLeg } from '../../../src/media-plane/ssrc-discovery.ts';
import { silentLogger } from '../../../src/util/logger.ts';

/** A fake leg whose transport counters the test drives. */
class FakeLeg implements DiscoverableLeg {
  isClosed = false;
  unrouted = 0;
  routed = 0;
  got: [number, number | undefined][] = [];
  recreated: number[] = [];
  producers = new Set<number>();
  constructor(readonly pts: number[] = [0, 101]) {}
  acceptsPt(pt: number): boolean {
    return this.pts.includes(pt);
  }
  readonly discoveryTarget = {
    lastUnrouted: 0,
    lastGrowthAt: -Infinity,
    traffic: async () => ({ unrouted: this.unrouted, routed: this.routed }),
    hasProducerFor: (ssrc: number) => this.producers.has(ssrc),
    noStreamFor: async (ssrc: number) => {
      this.recreated.push(ssrc);
    },
  };
  async discoveredSsrc(ssrc: number, pt?: number): Promise<void> {
    this.got.push([ssrc, pt]);
    this.producers.add(ssrc);
  }
}

const warn = (pid: number, ssrc: number, pt: number): string =>
  `[pid:${pid}] RTC::Transport::ReceiveRtpPacket() | no suitable Producer for received RTP packet [ssrc:${ssrc}, payloadType:${pt}]`;

async function settle(): Promise<void> {
  mock.timers.tick(30);
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

describe('SSRC discovery', () => {
  // Discovery batches warnings with setTimeout: the tests run its passes by hand (settle()).
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());

  it('gives a new SSRC (and the payload type it started with) to the leg whose unrouted bytes grew', async () => {
    const d = new SsrcDiscovery(silentLogger());
    const a = new FakeLeg();
    const b = new FakeLeg();
    d.track(7, a);
    d.track(7, b);
    b.unrouted = 172;
    assert.equal(d.onWarn(warn(7, 1234, 101)), true);
    d.onWarn(warn(7, 1234, 101));
    await settle();
    assert.deepEqual(a.got, []);
    assert.deepEqual(b.got, [[1234, 101]]);
  });

  it('ignores other workers and other messages', async () => {
    const d = new SsrcDiscovery(silentLogger());
    const a = new FakeLeg();
    a.unrouted = 100;
    d.track(7, a);
    d.onWarn(warn(8, 1, 0));
    assert.equal(d.onWarn('[pid:7] RTC::Producer::MangleRtpPacket() | unknown payload type [payloadType:13]'), false);
    await settle();
    assert.deepEqual(a.got, []);
  });

  it('many streams starting in call order all find their leg in the first pass, within the pair budget', async () => {
    const d = new SsrcDiscovery(silentLogger());
    const legs = Array.from({ length: 20 }, () => new FakeLeg());
    legs.forEach((l) => {
      d.track(7, l);
      l.unrouted = 172;
    });
    legs.forEach((_, i) => d.onWarn(warn(7, 5000 + i, 0)));
    await settle();
    legs.forEach((l, i) => assert.ok(l.got.some(([s, pt]) => s === 5000 + i && pt === 0), `leg ${i}`));
    const total = legs.reduce((n, l) => n + l.got.length, 0);
    assert.ok(total <= 64, `${total} producers in one pass (budget 64)`);
  });

  it('streams that start out of call order each find their leg within a few passes', async () => {
    const d = new SsrcDiscovery(silentLogger());
    const legs = Array.from({ length: 40 }, () => new FakeLeg());
    legs.forEach((l) => d.track(7, l));
    // Leg i's peer sends SSRC 9000 + i, but the streams start in reverse order.
    const mine = (i: number): boolean => legs[i]!.got.some(([s]) => s === 9000 + i);
    let passes = 0;
    while (!legs.every((_, i) => mine(i)) && passes < 20) {
      passes++;
      legs.forEach((l, i) => {
        if (!mine(i)) l.unrouted += 172; // still unrouted: its SSRC has no producer here yet
      });
      for (let i = legs.length - 1; i >= 0; i--) if (!mine(i)) d.onWarn(warn(7, 9000 + i, 0));
      await settle();
    }
    assert.ok(legs.every((_, i) => mine(i)), 'every stream found its leg');
    // 40 SSRCs × 40 legs with 64 pairs a pass: at most 40·40/64 = 25 passes in the worst case.
    assert.ok(passes <= 25, `${passes} passes`);
  });

  it('a burst of new calls reusing the SSRCs of calls that ended finds its legs in the first pass again', async () => {
    const burst = async (d: SsrcDiscovery): Promise<FakeLeg[]> => {
      const legs = Array.from({ length: 20 }, () => new FakeLeg());
      legs.forEach((l) => {
        d.track(7, l);
        l.unrouted = 172;
      });
      legs.forEach((_, i) => d.onWarn(warn(7, 5000 + i, 0)));
      await settle();
      legs.forEach((l) => {
        l.isClosed = true;
        d.untrack(7, l);
      });
      return legs;
    };
    // A memory of 1 ms: by the second burst the first one's attempts are stale.
    const d = new SsrcDiscovery(silentLogger(), 1);
    await burst(d);
    const t = performance.now();
    while (performance.now() - t < 3) {
      // real time passes (the discovery's memory runs on performance.now)
    }
    const second = await burst(d);
    second.forEach((l, i) => assert.ok(l.got.some(([s]) => s === 5000 + i), `leg ${i}`));
    // With a long memory too: the legs an SSRC was tried on are gone, the new ones are untried.
    const long = new SsrcDiscovery(silentLogger(), 60_000);
    await burst(long);
    const again = await burst(long);
    again.forEach((l, i) => assert.ok(l.got.some(([s]) => s === 5000 + i), `leg ${i} (long memory)`));
  });

  it('when counters lag, tries the legs that negotiated that payload type', async () => {
    const d = new SsrcDiscovery(silentLogger());
    const pcmu = new FakeLeg([0, 101]);
    const opus = new FakeLeg([111, 110]);
    d.track(7, pcmu);
    d.track(7, opus);
    d.onWarn(warn(7, 42, 101));
    await settle();
    assert.deepEqual(pcmu.got, [[42, 101]]);
    assert.deepEqual(opus.got, []);
  });

  it('a producer without a stream for its SSRC is recreated by the leg that owns it', () => {
    const d = new SsrcDiscovery(silentLogger());
    const a = new FakeLeg();
    const b = new FakeLeg();
    b.producers.add(99);
    d.track(7, a);
    d.track(7, b);
    assert.equal(d.onWarn('[pid:7] RTC::Producer::ReceiveRtpPacket() | no stream found for received packet [ssrc:99]'), true);
    assert.deepEqual(a.recreated, []);
    assert.deepEqual(b.recreated, [99]);
  });
});
