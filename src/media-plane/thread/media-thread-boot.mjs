// A media thread's entry point. Node 20 does not apply the parent's `--import tsx`
// hooks to a worker's entry module, so this plain module registers tsx in the
// worker first, then loads the TypeScript entry (media-thread.ts).
import { register } from 'tsx/esm/api';

register();
await import('./media-thread.ts');
