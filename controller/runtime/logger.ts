import { pino, type Logger, type LoggerOptions } from 'pino';

/**
 * The root logger. Children carry bound context (controller, name, reconcileID);
 * errors go under `err`; anything that may hold a credential is redacted by path.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const options: LoggerOptions = {
    level,
    base: { component: 'forestall' },
    redact: {
      paths: [
        '*.headers.authorization',
        '*.headers.Authorization',
        '*.token',
        '*.password',
        '*.secret',
        'config.token',
        'req.headers.authorization',
      ],
      censor: '[REDACTED]',
    },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(options, destination as never) : pino(options);
}

export type { Logger };
