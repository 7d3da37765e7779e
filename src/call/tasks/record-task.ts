// record: start, stop, pause, resume, mask or unmask the call's recording.
import type { RecordParams } from '../flow-types.ts';
import type { Task, TaskContext, TaskResult } from '../task.ts';
import { TaskError } from './play-task.ts';

export class RecordTask implements Task {
  readonly name = 'record';

  constructor(private readonly params: RecordParams) {}

  async exec(ctx: TaskContext): Promise<TaskResult> {
    const { action } = this.params;
    if (action === 'start') {
      if (ctx.recording) return {};
      ctx.recording = await ctx.call.startRecording({
        stereo: this.params.stereo ?? true,
        stems: this.params.stems ?? true,
        retentionDays: this.params.retention?.days,
      });
      ctx.log.info({ recording: ctx.recording.id }, 'recording started');
      return {};
    }
    const rec = ctx.recording;
    if (!rec && action === 'stop') {
      // Nothing to stop: a flow reached from several places (a voicemail fallback) may stop "just in case".
      ctx.log.info('record stop: no recording running');
      return {};
    }
    if (!rec) throw new TaskError(`record ${action}: no recording was started`, 500);
    switch (action) {
      case 'stop':
        ctx.recording = null;
        await rec.stop();
        break;
      case 'pause':
        rec.pause();
        break;
      case 'resume':
        rec.resume();
        break;
      case 'mask':
        rec.mask(true);
        break;
      case 'unmask':
        rec.mask(false);
        break;
    }
    return {};
  }

  kill(): void {}
}
