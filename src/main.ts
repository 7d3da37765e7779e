// `parley start`: load the config, start, and stop cleanly on SIGINT/SIGTERM.
// Resolves with the exit code once the process should end.
import { Parley } from './app.ts';
import { ConfigError, configPath, loadConfigFile } from './config/load-config.ts';
import { startFailureText, startHints } from './start-hints.ts';
import { createLogger, endLogger } from './util/logger.ts';

export async function runServer(argv: string[]): Promise<number> {
  let config;
  const file = configPath(argv);
  try {
    config = loadConfigFile(file);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`parley: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const pretty = argv.includes('--pretty') || config.log.pretty;
  // The media threads log on their own: they follow --pretty through the config.
  config = { ...config, log: { ...config.log, pretty } };
  const log = createLogger({ level: config.log.level, pretty });
  log.info({ config: file }, 'starting Parley');
  // A signal during start-up (Node's default would end the process then and there, in the
  // middle of repairing recordings, say) is kept: the stop begins once everything is up.
  let early: NodeJS.Signals | null = null;
  const onEarly = (signal: NodeJS.Signals): void => {
    if (early === null) log.info({ signal }, 'stop requested during start-up: stopping once started');
    early ??= signal;
  };
  process.on('SIGINT', onEarly);
  process.on('SIGTERM', onEarly);
  let app: Parley;
  try {
    app = await Parley.start(config, log);
  } catch (err) {
    log.fatal({ err }, 'start-up failed');
    // The log line carries the stack; this says, last and plainly, what to do (after every
    // log line: with log.pretty they are written by pino-pretty's own thread).
    await endLogger(log);
    process.stderr.write(startFailureText(err, file));
    return 1;
  } finally {
    process.off('SIGINT', onEarly);
    process.off('SIGTERM', onEarly);
  }
  log.info(startHints(app, file), 'Parley is running; Ctrl-C stops it');
  return new Promise<number>((resolve) => {
    const reload = (): void => {
      app.reload(file);
    };
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      log.info({ signal }, 'stopping');
      process.off('SIGHUP', reload);
      // SIGTERM drains (new calls refused, running ones get time to finish); SIGINT
      // (Ctrl-C), or a second signal, ends the calls now.
      const drain = signal === 'SIGTERM' && !stopping;
      stopping = true;
      (drain ? app.drain(config.shutdown.drainTimeoutMs) : app.shutdown()).then(
        () => resolve(0),
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          app.close();
          resolve(1);
        },
      );
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    // POST /admin/drain: the same as SIGTERM.
    app.on('drainrequested', () => {
      if (!stopping) stop('SIGTERM');
    });
    process.on('SIGHUP', reload);
    if (early !== null) stop(early);
  });
}
