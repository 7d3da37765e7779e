// Whether a process with this pid runs now (signal 0: nothing is sent). EPERM: it runs as
// another user.
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
