/**
 * JSON logs (pino). Every line of a job carries its job id, command and user (child loggers); tokens, keys and
 * passwords are redacted by path, and anything that looks like a Slack token is masked wherever it appears.
 */
import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/** Slack tokens (xoxb-, xoxp-, xapp-, xoxe-…) wherever they appear in a message. */
const SLACK_TOKEN = /\bx(?:ox[abprse]|app)-[A-Za-z0-9-]+/g;

export function redactSecrets(text: string): string {
  return text.replace(SLACK_TOKEN, (t) => `${t.slice(0, 5)}[REDACTED]`);
}

/** Paths pino blanks out on every line. */
export const REDACTED_PATHS = [
  'token',
  'botToken',
  'appToken',
  'signingSecret',
  'password',
  'passphrase',
  'privateKey',
  'authorization',
  '*.token',
  '*.botToken',
  '*.appToken',
  '*.signingSecret',
  '*.password',
  '*.passphrase',
  '*.privateKey',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
];

export function createLogger(
  options: { level?: string; name?: string; destination?: NodeJS.WritableStream } = {},
): Logger {
  const config: LoggerOptions = {
    level: options.level ?? 'info',
    ...(options.name ? { name: options.name } : {}),
    redact: { paths: REDACTED_PATHS, censor: '[REDACTED]' },
    hooks: {
      // Masks tokens that reach a log message by way of an error text or a URL.
      logMethod(args, method) {
        method.apply(
          this,
          args.map((a) => (typeof a === 'string' ? redactSecrets(a) : a)) as Parameters<typeof method>,
        );
      },
    },
    formatters: { level: (label) => ({ level: label }) },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return options.destination ? pino(config, options.destination) : pino(config);
}
