// Recovery reads a recording's id and part back from its WAV file names (file-names.ts) to adopt the
// WAVs no sidecar names (adopt-orphans.ts): every name the Recorder and Stems make reads back to its
// id, even with dots and dashes in room and leg ids; a name that reads two ways goes to the id whose
// mix is there; files of a recording with a sidecar, and names Parley never makes, are not taken.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newRecordingId, recordingFileParts, roomOfRecordingId, safeName, startOfRecordingId } from '../../../src/recording/file-names.ts';
import { orphansOf } from '../../../src/recording/adopt-orphans.ts';

const started = new Date('2026-11-22T07:28:42.517Z');

describe('recording file names read back', () => {
  it('gives the id, the part, the start and the room of every file name a recording makes', () => {
    const room = 'conf.mix-2 room/ü';
    const id = newRecordingId(room, started);
    assert.equal(roomOfRecordingId(id), safeName(room, 48));
    assert.equal(startOfRecordingId(id)?.toISOString(), '2026-11-22T07:28:42.000Z');
    assert.deepEqual(recordingFileParts(`${id}.mix.wav`), [{ id, kind: 'mix' }]);
    assert.deepEqual(recordingFileParts(`${id}.stereo.wav`), [{ id, kind: 'stereo' }]);
    assert.deepEqual(recordingFileParts(`${id}.leg12-${safeName('callee-2.x', 40)}.wav`), [{ id, kind: 'stem', n: 12, leg: 'callee-2.x' }]);
    for (const other of [`${id}.json`, `${id}.mix.wav.ogg`, `${id}.leg1-.wav`, 'notes.wav', `.${id}.mix.wav`]) assert.deepEqual(recordingFileParts(other), [], other);
  });

  it('groups the WAVs no sidecar owns by recording, a name read two ways going to the id with a mix', () => {
    const a = newRecordingId('a', started);
    const b = newRecordingId('b', started);
    // Leg id `y-20261122T072842Z-ab.mix`: the stem also reads as the mix of recording `<a>.leg1-y-20261122T072842Z-ab`.
    const odd = `${a}.leg1-y-20261122T072842Z-ab.mix.wav`;
    assert.equal(recordingFileParts(odd).length, 2);
    const names = [`${a}.mix.wav`, `${a}.stereo.wav`, odd, `${a}.leg2-z.wav`, `${b}.mix.wav`, `${b}.leg1-q.wav`, `${b}.json`, 'notes.wav'];
    const groups = orphansOf(names, (f) => f.startsWith(`${b}.`));
    assert.deepEqual([...groups.keys()], [a], 'only a: b has its sidecar');
    assert.deepEqual(
      groups.get(a)!.map((f) => [f.file, f.part.kind, f.part.leg ?? null]),
      [
        [`${a}.mix.wav`, 'mix', null],
        [`${a}.stereo.wav`, 'stereo', null],
        [odd, 'stem', 'y-20261122T072842Z-ab.mix'],
        [`${a}.leg2-z.wav`, 'stem', 'z'],
      ],
    );
  });
});
