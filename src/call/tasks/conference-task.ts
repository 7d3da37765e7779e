// conference: join a room by name; the step lasts until the leg leaves it. The
// roster is checked before the call is answered, so a refused join (a URI already
// in the room) is a final response (486), not an answered call hung up.
import type { ConferenceParams } from '../flow-types.ts';
import type { Task, TaskContext, TaskResult } from '../task.ts';

export class ConferenceTask implements Task {
  readonly name = 'conference';

  constructor(private readonly params: ConferenceParams) {}

  async exec(ctx: TaskContext): Promise<TaskResult> {
    if (ctx.call.ended) return { stop: true };
    const { left } = await ctx.call.joinConference({ identity: 'normal', ...this.params });
    // Kicked, or its room closed, right behind the join and before the answer: the caller is
    // refused (480; 404 for a closed room, as a join to it while its legs are made is), not
    // answered and hung up on. (`left` already settled wins the race.)
    const early = await Promise.race([left, Promise.resolve(null)]);
    if (early !== null && !ctx.call.answered) {
      ctx.log.info({ room: this.params.room, why: early }, 'left the conference before the answer');
      if (!ctx.call.ended) ctx.call.hangup(early === 'leg room-closed' ? 404 : 480);
      return { stop: true };
    }
    if (!ctx.call.answered) await ctx.call.answer();
    const why = await left;
    ctx.log.info({ room: this.params.room, why }, 'left the conference');
    // Kicked (DELETE /rooms/:name/legs/:leg) or the room closed with the call still up:
    // the flow stops here, so the caller gets a BYE instead of a dialog without media.
    if (!ctx.call.ended) ctx.call.hangup();
    return { stop: true };
  }

  kill(): void {}
}
