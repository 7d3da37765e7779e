// Whether a command is on the PATH (tests of optional tools: rtpengine, Kamailio for the bench anchor).
import { execFileSync } from 'node:child_process';

export function installed(cmd: string): boolean {
  try {
    execFileSync('which', [cmd], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
