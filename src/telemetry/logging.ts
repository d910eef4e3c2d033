import winston from 'winston';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export type Logger = winston.Logger;

/**
 * JSON lines on stdout. Every line carries `time`, `level`, `message` and `service`; callers add
 * structured fields (endpoint, request_id, trace_id ...); `fields` go on every line (in a cluster,
 * the process's `pid` and `worker`). Bodies and secrets are never logged.
 */
export function createLogger(level: LogLevel, service = 'sluice', fields: Record<string, unknown> = {}): Logger {
  return winston.createLogger({
    level,
    defaultMeta: { service, ...fields },
    format: winston.format.combine(
      winston.format.timestamp({ alias: 'time' }),
      winston.format((info) => {
        // `time` is the documented field; winston's `timestamp` would duplicate it.
        delete info.timestamp;
        return info;
      })(),
      winston.format.json(),
    ),
    transports: [new winston.transports.Console()],
  });
}

/**
 * Whether `logger` writes lines of `level` now (a reload may change its level). winston's own
 * isLevelEnabled also walks the transports, allocating, on a check the request path makes for
 * every request; Sluice's transports have no level of their own.
 */
export function logsAt(logger: Logger, level: LogLevel): boolean {
  const levels = logger.levels;
  return (levels[level] ?? Infinity) <= (levels[logger.level] ?? -Infinity);
}
