// The `parley` command line. `parley start` runs the server; the other commands
// are tools that read the same config.
import { parseArgs } from 'node:util';
import { ConfigError, configPath, loadConfigFile } from './config/load-config.ts';
import { callsCommand, CliError, recordingsCommand, roomsCommand } from './cli/api-commands.ts';
import { routeDryRun } from './cli/route-dry-run.ts';
import type { ParleyConfig } from './config/schema.ts';

// The server (main.ts) and the heavier commands are imported when they run: `parley calls`
// or `parley rooms` does not load mediasoup, fastify and the S3 client, about 1 s of a
// command's start through tsx.

const usage = `usage: parley [--config FILE] <command> [options]
  start [--config FILE] [--pretty]                 run Parley in the foreground
  route --dry-run FILE [--source ADDR] [--workflow NAME] [--json] [--config FILE]
                                                   show what the rule chain does with a SIP request (FILE or - for stdin)
  calls [show ID | hangup ID] [--json]             calls in progress (through the control API: api.* in the config)
  rooms [--json]                                   conference rooms and their rosters
  recordings [--limit N] [--json]                  every recording, newest first (--limit N: the newest N, and how many more)
  recordings show ID | download ID FILE [--out PATH] [--json]
                                                   a recording's metadata and files
  recordings encode ID [--format ogg|mp3]          encode a finished recording's WAV files offline (progress bar)
  recordings verify ID | --all [--deep] [--public-key FILE] [--json]
                                                   check files, signatures and the audit log offline; exit 1 on any failure
  recordings decrypt ID FILE --out PATH [--partial] an encrypted recording's file as a WAV (local, or from recording.store)
  recordings rotate-key (--old-key-file F | --old-key-env V)
                                                   re-wrap every data key with the configured master key
  prompts build [--config FILE]                    transcode and speak every prompt into the cache (progress bar)
`;

/** `--config FILE` (`-c`, `--config=FILE`) may come before the command too: moved after it. */
function globalOptionsLast(argv: string[]): string[] {
  let i = 0;
  while (i < argv.length) {
    const a = argv[i]!;
    if (a === '--config' || a === '-c') i += 2;
    else if (a.startsWith('--config=')) i += 1;
    else break;
  }
  if (i === 0 || i >= argv.length) return argv;
  return [argv[i]!, ...argv.slice(i + 1), ...argv.slice(0, i)];
}

export async function cli(args: string[]): Promise<number> {
  const argv = globalOptionsLast(args);
  // The AWS SDK warns on stderr, on every command that loads it, that its releases after
  // January 2027 need Node 22: the SDK's own switch turns off that one warning (not
  // others) for the command-line tools; the server (`start`) keeps it, and a value set
  // by the user is kept.
  if (argv[0] !== 'start') process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  try {
    return await dispatch(argv);
  } catch (err) {
    // parseArgs refusing an option or a value (ERR_PARSE_ARGS_*): one line and the usage, not a stack trace.
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) {
      process.stderr.write(`parley ${argv[0] ?? ''}: ${(err as Error).message.split('\n')[0]}\n${usage}`);
      return 2;
    }
    throw err;
  }
}

async function dispatch(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'start':
      parseArgs({ args: rest, options: { config: { type: 'string', short: 'c' }, pretty: { type: 'boolean' } } });
      return (await import('./main.ts')).runServer(rest);
    case 'route':
      return route(rest);
    case 'calls':
    case 'rooms':
    case 'recordings':
      if (command === 'recordings' && (rest[0] === 'rotate-key' || rest[0] === 'decrypt')) return recordingKeys(rest);
      return rest[0] === 'verify' ? verify(rest.slice(1)) : apiCommand(command, rest);
    case 'prompts':
      return prompts(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(usage);
      return command === undefined ? 1 : 0;
    default:
      process.stderr.write(`parley: unknown command '${command}'\n${usage}`);
      return 1;
  }
}

const routeUsage = `usage: parley route --dry-run FILE [--source ADDR] [--workflow NAME] [--json] [--config FILE]
  show what the rule chain does with a SIP request read from FILE (- for stdin)
`;

function route(argv: string[]): number {
  if (argv.some((a) => a === '--help' || a === '-h')) {
    process.stdout.write(routeUsage);
    return 0;
  }
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        'dry-run': { type: 'string' },
        source: { type: 'string' },
        workflow: { type: 'string' },
        json: { type: 'boolean', default: false },
        config: { type: 'string', short: 'c' },
      },
    }));
  } catch (err) {
    // An unknown option or one missing its value: a usage message, not a stack trace.
    process.stderr.write(`parley route: ${(err as Error).message}\n${routeUsage}`);
    return 2;
  }
  const file = values['dry-run'];
  if (!file) {
    process.stderr.write('parley route: --dry-run FILE is required (routing live requests is what `parley start` does)\n');
    return 1;
  }
  try {
    const config = loadConfigFile(configPath(values.config ? ['--config', values.config] : []));
    process.stdout.write(routeDryRun(config, { file, source: values.source, workflow: values.workflow, json: values.json }) + '\n');
    return 0;
  } catch (err) {
    process.stderr.write(`parley route: ${err instanceof ConfigError ? err.message : (err as Error).message}\n`);
    return 2;
  }
}

async function apiCommand(command: 'calls' | 'rooms' | 'recordings', argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      out: { type: 'string', short: 'o' },
      format: { type: 'string' },
      limit: { type: 'string' },
      config: { type: 'string', short: 'c' },
    },
  });
  try {
    const config = loadConfigFile(configPath(values.config ? ['--config', values.config] : []));
    const text =
      command === 'calls'
        ? await callsCommand(config, positionals, values.json)
        : command === 'rooms'
          ? await roomsCommand(config, values.json)
          : await recordingsCommand(config, positionals, values.json, values.out, values.format, values.limit);
    process.stdout.write(text + '\n');
    return 0;
  } catch (err) {
    process.stderr.write(`parley ${command}: ${(err as Error).message}\n`);
    return err instanceof ConfigError ? 2 : err instanceof CliError ? err.code : 1;
  }
}

async function verify(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      all: { type: 'boolean', default: false },
      deep: { type: 'boolean', default: false },
      'public-key': { type: 'string' },
      json: { type: 'boolean', default: false },
      config: { type: 'string', short: 'c' },
    },
  });
  try {
    const config = loadConfigFile(configPath(values.config ? ['--config', values.config] : []));
    const { verifyRecordings } = await import('./cli/recordings-verify.ts');
    const r = await verifyRecordings(config, { id: positionals[0], all: values.all, publicKey: values['public-key'], deep: values.deep });
    process.stdout.write((values.json ? JSON.stringify(r.json, null, 2) : r.text) + '\n');
    return r.ok ? 0 : 1;
  } catch (err) {
    process.stderr.write(`parley recordings verify: ${(err as Error).message}\n`);
    return err instanceof ConfigError ? 2 : err instanceof CliError ? err.code : 1;
  }
}

async function recordingKeys(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'old-key-file': { type: 'string' },
      'old-key-env': { type: 'string' },
      out: { type: 'string', short: 'o' },
      partial: { type: 'boolean', default: false },
      config: { type: 'string', short: 'c' },
    },
  });
  try {
    const config = loadConfigFile(configPath(values.config ? ['--config', values.config] : []));
    const [sub, id, file] = positionals;
    const { decryptCommand, rotateKeyCommand } = await import('./cli/recordings-keys.ts');
    const text =
      sub === 'rotate-key'
        ? await rotateKeyCommand(config, values['old-key-file'], values['old-key-env'])
        : await decryptCommand(config, id, file, values.out, values.partial);
    process.stdout.write(text + '\n');
    return 0;
  } catch (err) {
    process.stderr.write(`parley recordings: ${(err as Error).message}\n`);
    return err instanceof ConfigError ? 2 : err instanceof CliError ? err.code : 1;
  }
}

async function prompts(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { config: { type: 'string', short: 'c' } } });
  if (positionals[0] !== 'build') {
    process.stderr.write('usage: parley prompts build [--config FILE]\n');
    return 1;
  }
  let config: ParleyConfig;
  try {
    config = loadConfigFile(configPath(values.config ? ['--config', values.config] : []));
  } catch (err) {
    process.stderr.write(`parley prompts: ${(err as Error).message}\n`);
    return 2;
  }
  const { buildPrompts } = await import('./cli/prompts-build.ts');
  const r = await buildPrompts(config);
  process.stdout.write(`${r.built + r.fromCache} prompts ready (${r.fromCache} were cached already), ${r.failed.length} failed\n`);
  for (const f of r.failed) process.stderr.write(`  ${f.label}: ${f.error}\n`);
  return r.failed.length > 0 ? 1 : 0;
}

cli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Let pino flush, then leave even if a stray handle remains.
    setTimeout(() => process.exit(code), 100).unref();
  },
  (err: unknown) => {
    process.stderr.write(`parley: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
