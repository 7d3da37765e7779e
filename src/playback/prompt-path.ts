// Maps a prompt name to a file inside the prompts folder, refusing anything that
// would leave it: absolute paths, `..` segments, and symlinks pointing outside.
import { access, realpath } from 'node:fs/promises';
import { constants } from 'node:fs';
import { extname, isAbsolute, relative, resolve, sep } from 'node:path';
import { PromptError } from './errors.ts';

/** Tried in this order when a name has no extension. */
export const PROMPT_EXTENSIONS = ['.wav', '.mp3', '.ogg', '.opus', '.flac'] as const;

export async function resolvePromptPath(dir: string, name: string): Promise<string> {
  return (await resolvePrompt(dir, name)).path;
}

/** The prompt's file (`path`, inside the folder), the file it really is (`real`, symlinks followed) and the folder's real path (`realRoot`). */
export async function resolvePrompt(dir: string, name: string): Promise<{ path: string; real: string; root: string; realRoot: string }> {
  if (typeof name !== 'string' || name.length === 0 || name.length > 512 || name.includes('\0')) {
    throw new PromptError('INVALID_NAME', 'prompt name must be a non-empty string without NUL', String(name));
  }
  if (isAbsolute(name) || /^[A-Za-z]:|^[\\/]/.test(name)) {
    throw new PromptError('ESCAPE', `prompt name '${name}' is absolute`, name);
  }
  const root = resolve(dir);
  const full = resolve(root, name);
  if (!inside(root, full)) throw new PromptError('ESCAPE', `prompt name '${name}' leaves the prompts folder`, name);

  const candidates = extname(full) ? [full] : PROMPT_EXTENSIONS.map((e) => full + e);
  for (const c of candidates) {
    try {
      await access(c, constants.R_OK);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new PromptError('UNREADABLE', `prompt '${name}' cannot be read: ${(err as Error).message}`, name, {
        cause: err,
      });
    }
    // A symlink inside the folder may still point outside it.
    const [realRoot, realFile] = await Promise.all([realpath(root), realpath(c)]);
    if (!inside(realRoot, realFile)) {
      throw new PromptError('ESCAPE', `prompt '${name}' resolves outside the prompts folder`, name);
    }
    return { path: c, real: realFile, root, realRoot };
  }
  throw new PromptError('NOT_FOUND', `prompt '${name}' not found in ${root}`, name);
}

function inside(root: string, full: string): boolean {
  const rel = relative(root, full);
  return rel !== '' && !rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel);
}
