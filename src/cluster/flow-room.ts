// Which conference room an INVITE is headed for, when that is known before the
// call is answered: the flow's steps are followed (through goto) while none of
// them answers or talks to the caller; a conference step reached that way names
// the room. Such an INVITE can still be redirected (302) to the room's owner.
// A room joined after an answer (a PIN menu first) is not known here.
import type { FlowsConfig, StepConfig } from '../call/flow-types.ts';

/** Steps that do not answer the call nor play to it: the walk goes on past them. */
const SILENT_STEPS = new Set(['record']);

export function roomBeforeAnswer(flows: FlowsConfig, flow: string): string | null {
  const seen = new Set<string>();
  let steps: StepConfig[] | undefined = flows[flow];
  seen.add(flow);
  while (steps) {
    let next: string | null = null;
    for (const step of steps) {
      if ('conference' in step) return step.conference.room;
      if ('goto' in step) {
        next = step.goto;
        break;
      }
      const kind = Object.keys(step)[0] ?? '';
      if (!SILENT_STEPS.has(kind)) return null;
    }
    if (next === null || seen.has(next)) return null;
    seen.add(next);
    steps = flows[next];
  }
  return null;
}
