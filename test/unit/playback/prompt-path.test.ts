import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { PromptError } from '../../../src/playback/errors.ts';
import { resolvePromptPath } from '../../../src/playback/prompt-path.ts';

describe('resolvePromptPath', () => {
  let root: string;
  let dir: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'parley-prompt-path-'));
    dir = join(root, 'prompts');
    mkdirSync(join(dir, 'sub'), { recursive: true });
    writeFileSync(join(dir, 'hello.mp3'), 'x');
    writeFileSync(join(dir, 'hello.wav'), 'x');
    writeFileSync(join(dir, 'sub', 'deep.ogg'), 'x');
    writeFileSync(join(root, 'secret.wav'), 'x');
    symlinkSync(join(root, 'secret.wav'), join(dir, 'link.wav'));
  });

  const code = async (name: string): Promise<string> => {
    try {
      await resolvePromptPath(dir, name);
      return 'ok';
    } catch (err) {
      assert.ok(err instanceof PromptError, String(err));
      return err.code;
    }
  };

  it('finds a name with or without extension, .wav first, in subfolders', async () => {
    assert.equal(await resolvePromptPath(dir, 'hello'), join(dir, 'hello.wav'));
    assert.equal(await resolvePromptPath(dir, 'hello.mp3'), join(dir, 'hello.mp3'));
    assert.equal(await resolvePromptPath(dir, 'sub/deep'), join(dir, 'sub', 'deep.ogg'));
    assert.equal(await resolvePromptPath(dir, 'sub/../hello.mp3'), join(dir, 'hello.mp3'));
  });

  it('refuses names that escape the folder, by .., absolute path or symlink', async () => {
    assert.equal(await code('../secret'), 'ESCAPE');
    assert.equal(await code('sub/../../secret.wav'), 'ESCAPE');
    assert.equal(await code(join(root, 'secret.wav')), 'ESCAPE');
    assert.equal(await code('/etc/passwd'), 'ESCAPE');
    assert.equal(await code('link'), 'ESCAPE');
    assert.equal(await code('.'), 'ESCAPE');
  });

  it('reports missing and malformed names with their own codes', async () => {
    assert.equal(await code('nope'), 'NOT_FOUND');
    assert.equal(await code('sub/nope.wav'), 'NOT_FOUND');
    assert.equal(await code(''), 'INVALID_NAME');
    assert.equal(await code('a\0b'), 'INVALID_NAME');
  });
});
