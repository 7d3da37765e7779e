// The `parley` command line. `parley start` runs the server; the other commands
// are tools that read the same config.
import { parseArgs } from 'node:util';
import { ConfigError, configPath, loadConfigFile } from './config/load-config.ts';
import { routeDryRun } from './cli/route-dry-run.ts';
import { runServer } from './main.ts';

const usage = `usage: parley <command> [options]
  start [--config FILE] [--pretty]                 run Parley in the foreground
  route --dry-run FILE [--source ADDR] [--workflow NAME] [--json] [--config FILE]
                                                   show what the rule chain does with a SIP request (FILE or - for stdin)
`;

export async function cli(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'start':
      return runServer(rest);
    case 'route':
      return route(rest);
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

function route(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: {
      'dry-run': { type: 'string' },
      source: { type: 'string' },
      workflow: { type: 'string' },
      json: { type: 'boolean', default: false },
      config: { type: 'string', short: 'c' },
    },
  });
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
