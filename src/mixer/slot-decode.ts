// A jitter buffer's slot into PCM, for the live tick (MixerParticipant.pullInput) and a
// leaving leg's tail (leg-tails.ts) alike: a packet, an Opus bundle (a stream split onto the
// 20 ms grid), or LOST: rebuilt from the next packet's Opus in-band FEC when that packet is
// already here (InputPipeline.recover), else concealed.
import type { InputPipeline } from './codecs/codec-pipeline.ts';
import { LOST, type JitterBuffer, type JitterSlot } from './jitter-buffer.ts';
import { OPUS_BUNDLE_PT } from './opus-packet-splitter.ts';

/** Decodes `slot` into `out` at the room rate; true when it was a lost packet rebuilt from FEC. */
export function decodeSlot(pipe: InputPipeline, jitter: JitterBuffer, slot: JitterSlot | typeof LOST, out: Int16Array): boolean {
  if (slot === LOST) {
    const next = jitter.peekNext();
    if (next !== null && next.payloadType !== OPUS_BUNDLE_PT) return pipe.recover(next.payload, out);
    pipe.decode(null, out);
  } else if (slot.payloadType === OPUS_BUNDLE_PT) pipe.decodeBundle(slot.payload, out);
  else pipe.decode(slot.payload, out);
  return false;
}
