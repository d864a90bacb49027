/**
 * Scheduled reports' settings, read from the environment the way src/config.ts reads every other section (an Env
 * passed in, never process.env; a bad value stops the process with the variable's name).
 */
import { ConfigError, type Env } from '../config.ts';
import { validateIntegerInRange } from '../validate.ts';

export interface ScheduleSettings {
  /** A schedule added from Slack may fire at most this often (the schedules file is trusted). */
  minIntervalSeconds: number;
  /** YAML file of schedules the bot declares at start-up; undefined: none. */
  file: string | undefined;
}

/** Once a minute: what cron can express without seconds, and plenty for a cluster-wide report. */
export const DEFAULT_MIN_INTERVAL_SECONDS = 60;

export function scheduleSettings(env: Env): ScheduleSettings {
  const name = 'K8SNET_SCHEDULE_MIN_INTERVAL_SECONDS';
  const raw = env[name]?.trim();
  let minIntervalSeconds = DEFAULT_MIN_INTERVAL_SECONDS;
  if (raw) {
    try {
      minIntervalSeconds = validateIntegerInRange(name, raw, 1, 7 * 24 * 3600);
    } catch (err) {
      throw new ConfigError(name, (err as Error).message.replace(`${name}: `, ''));
    }
  }
  const file = env.K8SNET_SCHEDULES_FILE?.trim();
  return { minIntervalSeconds, file: file ? file : undefined };
}
