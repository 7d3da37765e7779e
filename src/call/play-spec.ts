// Maps a flow's play spec (`tone: dtmf:123`) onto the playback library's.
import type { PlaySpec as LibrarySpec } from '../playback/prompt-library.ts';
import type { PlaySpec } from './ports.ts';

export function toLibrarySpec(spec: PlaySpec): LibrarySpec {
  if (spec.prompt !== undefined) return { prompt: spec.prompt };
  if (spec.text !== undefined) return { text: spec.text };
  const tone = spec.tone ?? 'beep';
  if (tone === 'beep') return { tone: { kind: 'beep' } };
  if (tone === 'ringback') return { tone: { kind: 'ringback' } };
  if (tone.startsWith('dtmf:')) return { tone: { kind: 'dtmf', digits: tone.slice(5) } };
  if (tone.startsWith('silence:')) return { tone: { kind: 'silence', durationMs: Number(tone.slice(8)) } };
  throw new Error(`unknown tone '${tone}'`);
}

/** What a prompt is called in logs and metadata. */
export function describeSpec(spec: PlaySpec): string {
  return spec.prompt ?? (spec.text !== undefined ? `text:${spec.text.slice(0, 40)}` : `tone:${spec.tone ?? ''}`);
}
