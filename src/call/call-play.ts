// A prompt played on a call (CallPort.play): to the caller alone or into the call's room. A
// notice is marked in the call's recording; played to the caller alone it is also written
// into the recording (the room's prompts are in the mix already).
import type { MediaLeg } from '../media-plane/media-leg.ts';
import type { MediaRoom } from '../media-plane/media-room.ts';
import type { Logger } from '../util/logger.ts';
import type { CallDeps } from './call-deps.ts';
import type { CallRecording } from './call-recording.ts';
import { describeSpec, toLibrarySpec } from './play-spec.ts';
import type { PlayHandle, PlaySpec } from './ports.ts';
import { promptRate } from './prompt-rate.ts';

export interface PlayOn {
  deps: CallDeps;
  room: MediaRoom;
  leg: MediaLeg;
  log: Logger;
}

export function playOnCall(call: PlayOn, recording: CallRecording | null, spec: PlaySpec, options: { target: 'caller' | 'room'; notice?: boolean }): PlayHandle {
  let player;
  try {
    player = call.deps.prompts.createPlayer(toLibrarySpec(spec), {
      sampleRate: promptRate(call.room, call.deps.settings),
      repeat: spec.repeat ?? 1,
      log: call.log,
    });
  } catch (err) {
    return { finished: Promise.resolve({ reason: 'error', error: err as Error }), stop: () => undefined };
  }
  const notice = options.notice ? recording : null;
  if (options.target === 'room') {
    // A room prompt is in the mix already: only the sidecar mark is needed.
    notice?.notice(describeSpec(spec));
    call.room.play(player);
  } else {
    call.leg.play(notice ? notice.tapNotice(player, call.leg.id, describeSpec(spec)) : player);
  }
  call.log.debug({ prompt: describeSpec(spec), target: options.target }, 'playing');
  return {
    finished: player.done.then((r) => (r.error ? { reason: r.reason, error: r.error } : { reason: r.reason })),
    stop: () => player.stop(),
  };
}
