// The codecs the mixer speaks, behind one small interface each way.
export type CodecName = 'PCMU' | 'PCMA' | 'G722' | 'opus';

export interface CodecInfo {
  name: CodecName;
  /** RTP clock rate as written in SDP (G.722 says 8000 for historical reasons, RFC 3551 §4.5.2). */
  rtpClock: number;
  /** Channels as written in SDP (opus/48000/2, RFC 7587). */
  sdpChannels: number;
  /** Static payload type, or null for a dynamic one. */
  staticPt: number | null;
}

export const CODECS: Record<CodecName, CodecInfo> = {
  PCMU: { name: 'PCMU', rtpClock: 8000, sdpChannels: 1, staticPt: 0 },
  PCMA: { name: 'PCMA', rtpClock: 8000, sdpChannels: 1, staticPt: 8 },
  G722: { name: 'G722', rtpClock: 8000, sdpChannels: 1, staticPt: 9 },
  opus: { name: 'opus', rtpClock: 48000, sdpChannels: 2, staticPt: null },
};

export function codecByName(name: string): CodecInfo | undefined {
  const lower = name.toLowerCase();
  for (const c of Object.values(CODECS)) if (c.name.toLowerCase() === lower) return c;
  return undefined;
}

/** Decodes one RTP payload into PCM at `rate`. */
export interface AudioDecoder {
  /** PCM rate of the decoder's output. */
  readonly rate: number;
  /** Decodes into out (sized for 20 ms at `rate`); returns samples written. */
  decode(payload: Uint8Array, out: Int16Array): number;
  /** Fills out with a concealment frame for a lost packet; returns samples written. */
  conceal(out: Int16Array): number;
  close(): void;
}

export interface AudioEncoder {
  readonly rate: number;
  /** Encodes 20 ms of PCM at `rate` into out; returns bytes written. */
  encode(pcm: Int16Array, out: Uint8Array): number;
  close(): void;
}
