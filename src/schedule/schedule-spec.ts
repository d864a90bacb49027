/**
 * What a scheduled report is — an id, a cron pattern, a time zone, the channel it posts into — and the checks every
 * one of those passes before it reaches Redis or Slack, whether it came from `/k8snet schedule add` or from the
 * schedules file. Pure.
 */
import { CronExpressionParser } from 'cron-parser';
import { InvalidInputError } from '../errors.ts';
import { validateDnsLabel, validateIntegerInRange } from '../validate.ts';

export interface ScheduleSpec {
  /** Short and readable: `nightly`, `report-3`. Also the BullMQ job scheduler id and the report memory's key. */
  id: string;
  /** 5 fields (minute …) or 6 (second minute …), as cron-parser and BullMQ read them. */
  cron: string;
  /** IANA time zone the pattern is read in. */
  tz: string;
  /** Slack channel ID the reports are posted into. */
  channel: string;
  /** Seconds to sample every node's tunnel device for, summarizing the flows seen; absent: no sample. */
  sampleSeconds?: number;
  /**
   * The cluster of the clusters file it reports on (its ticks go to that cluster's queue); absent: the default
   * cluster, as for every schedule made before there were clusters.
   */
  cluster?: string;
}

/** A tunnel sample is a glance, not a capture session: a few seconds (tcpdump runs on every node at once). */
export const MAX_SAMPLE_SECONDS = 30;

export const DEFAULT_TIME_ZONE = 'UTC';
/** Ids: a lower-case letter, then letters, digits and dashes; 32 characters fit a list line and a Redis key. */
const SCHEDULE_ID = /^[a-z][a-z0-9-]{0,31}$/;
/** One cron field: digits, names (JAN, MON), `*`, `?`, ranges, steps, lists, and L W # of cron-parser. */
const CRON_FIELD = /^[A-Za-z0-9*?,/#-]{1,64}$/;
/** A conversation ID (Slack's form): public (C), private or group (G), direct message (D). */
const CHANNEL_ID = /^[CGD][A-Z0-9]{1,20}$/;

const shown = (value: unknown) => JSON.stringify(String(value).slice(0, 40));

export function validateScheduleId(value: unknown, field = 'ID'): string {
  if (typeof value !== 'string' || !SCHEDULE_ID.test(value))
    throw new InvalidInputError(
      field,
      `${shown(value)} is not a schedule id (a lower-case letter, then up to 31 letters, digits or dashes)`,
    );
  return value;
}

/** A 5- or 6-field cron pattern that cron-parser reads; returned with single spaces between the fields. */
export function validateCron(value: unknown, field = 'CRON'): string {
  if (typeof value !== 'string')
    throw new InvalidInputError(field, 'a cron pattern is required, in quotes: "0 9 * * 1-5"');
  const fields = value.trim().split(/\s+/);
  if (fields.length !== 5 && fields.length !== 6)
    throw new InvalidInputError(
      field,
      `${shown(value)} has ${fields.length} field${fields.length === 1 ? '' : 's'}; a cron pattern has 5 (minute hour day month weekday) or 6 (with seconds first), in quotes`,
    );
  const bad = fields.find((f) => !CRON_FIELD.test(f));
  if (bad !== undefined) throw new InvalidInputError(field, `${shown(bad)} is not a cron field`);
  const pattern = fields.join(' ');
  try {
    CronExpressionParser.parse(pattern, { tz: DEFAULT_TIME_ZONE });
  } catch (err) {
    throw new InvalidInputError(field, `${shown(pattern)} is not a valid cron pattern: ${(err as Error).message}`);
  }
  return pattern;
}

/** An IANA zone name the runtime knows (Europe/Berlin, America/New_York, UTC). */
export function validateTimeZone(value: unknown, field = '--tz'): string {
  if (typeof value !== 'string' || !/^[A-Za-z][A-Za-z0-9_+-]{0,30}(?:\/[A-Za-z0-9_+-]{1,30}){0,2}$/.test(value))
    throw new InvalidInputError(field, `${shown(value)} is not a time zone name (Area/City, e.g. Europe/Berlin)`);
  if (value === 'UTC' || value === 'Etc/UTC') return value;
  if (!Intl.supportedValuesOf('timeZone').includes(value)) {
    try {
      // Links such as Asia/Calcutta are valid but not in the canonical list.
      new Intl.DateTimeFormat('en', { timeZone: value });
    } catch {
      throw new InvalidInputError(
        field,
        `${shown(value)} is not a time zone this server knows (Area/City, e.g. Europe/Berlin)`,
      );
    }
  }
  return value;
}

export function validateSampleSeconds(value: unknown, field = '--sample'): number {
  return validateIntegerInRange(field, value, 1, MAX_SAMPLE_SECONDS);
}

/** A cluster's name as the clusters file has it (a DNS label: it is part of a queue name). */
export function validateScheduleCluster(value: unknown, field = '--cluster'): string {
  return validateDnsLabel(field, value);
}

export function validateChannelId(value: unknown, field = 'channel'): string {
  if (typeof value !== 'string' || !CHANNEL_ID.test(value))
    throw new InvalidInputError(field, `${shown(value)} is not a Slack channel ID (C…, G…)`);
  return value;
}

/** How many occurrences the interval check looks at; every pattern repeats its shortest gap within a day. */
const INTERVAL_SAMPLES = 2000;
const DAY_MS = 24 * 3600 * 1000;

/**
 * The shortest time between two runs of a pattern, in seconds, found by walking its occurrences over a little more
 * than a day from `from` (or the first INTERVAL_SAMPLES of them). Null: it fires at most once in that window.
 */
export function shortestIntervalSeconds(
  cron: string,
  tz: string,
  from = new Date(Date.UTC(2026, 0, 5)),
): number | null {
  const expression = CronExpressionParser.parse(cron, { tz, currentDate: from });
  const end = from.getTime() + DAY_MS + 3600 * 1000;
  let previous: number | null = null;
  let shortest: number | null = null;
  for (let i = 0; i < INTERVAL_SAMPLES && expression.hasNext(); i++) {
    const at = expression.next().getTime();
    if (previous !== null) shortest = Math.min(shortest ?? Infinity, at - previous);
    if (at > end) break;
    previous = at;
  }
  return shortest === null ? null : shortest / 1000;
}

/** Refuses a pattern that fires more often than every `minSeconds`. */
export function checkMinimumInterval(cron: string, tz: string, minSeconds: number, field = 'CRON'): void {
  const shortest = shortestIntervalSeconds(cron, tz);
  if (shortest !== null && shortest < minSeconds) {
    throw new InvalidInputError(
      field,
      `"${cron}" fires every ${shortest} s at times; a scheduled report may fire at most every ${minSeconds} s`,
    );
  }
}

/** The next time a pattern fires after `now`, or null. */
export function nextRun(cron: string, tz: string, now = new Date()): Date | null {
  const expression = CronExpressionParser.parse(cron, { tz, currentDate: now });
  return expression.hasNext() ? expression.next().toDate() : null;
}
