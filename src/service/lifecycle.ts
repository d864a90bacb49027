/**
 * What the bot and the worker processes share: the logger, metrics and health server, and a shutdown on SIGTERM or
 * SIGINT that runs each closer once, in order, then exits.
 */
import type { Logger } from '../observability/logger.ts';
import { describeError } from '../errors.ts';

export interface Shutdown {
  readonly requested: boolean;
  /** Resolves once every closer ran (the process then exits). */
  done: Promise<void>;
}

export function onTermination(
  log: Logger,
  closers: (() => Promise<unknown>)[],
  exit: (code: number) => void = (code) => process.exit(code),
): Shutdown {
  let requested = false;
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  const stop = (signal: NodeJS.Signals) => {
    if (requested) return;
    requested = true;
    log.info({ signal }, 'shutting down');
    void (async () => {
      let code = 0;
      for (const close of closers) {
        try {
          await close();
        } catch (err) {
          code = 1;
          log.error({ err: describeError(err) }, 'error while shutting down');
        }
      }
      log.info('stopped');
      resolveDone();
      exit(code);
    })();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return {
    get requested() {
      return requested;
    },
    done,
  };
}
