/**
 * The schedules file (K8SNET_SCHEDULES_FILE): schedules the bot declares at start-up, as a YAML list —
 *
 *   - id: nightly
 *     cron: "0 6 * * *"
 *     tz: Europe/Berlin        # optional, default UTC
 *     channel: C0123ABCD       # a channel ID (the bot must be a member)
 *     sampleSeconds: 3         # optional: sample every node's tunnel device this long and summarize the flows
 *     cluster: prod-eu         # optional: a cluster of K8SNET_CLUSTERS_FILE (default: the default cluster)
 *
 * Applying it is idempotent: an entry already scheduled as written is left alone, a changed one is replaced, and a
 * schedule an earlier version of the file declared but this one no longer does is removed. Schedules added from
 * Slack are left alone unless the file declares the same id. A bad entry stops start-up with a message naming it.
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../config.ts';
import { describeError } from '../errors.ts';
import { DEFAULT_TIME_ZONE, type ScheduleSpec } from './schedule-spec.ts';
import { MAX_SCHEDULES, SCHEDULES_FILE_USER, validateSpec, type ReportSchedules } from './report-schedules.ts';

const VARIABLE = 'K8SNET_SCHEDULES_FILE';
const KEYS = new Set(['id', 'cron', 'tz', 'channel', 'sampleSeconds', 'cluster']);

function entryName(raw: unknown, index: number): string {
  const id = typeof raw === 'object' && raw !== null && 'id' in raw ? (raw as { id: unknown }).id : undefined;
  return typeof id === 'string' && id.length <= 40
    ? `entry ${index + 1} (${JSON.stringify(id)})`
    : `entry ${index + 1}`;
}

/** YAML text → validated schedules; a ConfigError names the file, the entry and the field. Pure. */
export function parseScheduleFile(text: string, source = 'schedules file'): ScheduleSpec[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(VARIABLE, `${source} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return [];
  if (!Array.isArray(doc))
    throw new ConfigError(
      VARIABLE,
      `${source} must be a YAML list of schedules ({ id, cron, tz?, channel, sampleSeconds?, cluster? })`,
    );
  if (doc.length > MAX_SCHEDULES)
    throw new ConfigError(VARIABLE, `${source} declares ${doc.length} schedules; at most ${MAX_SCHEDULES}`);
  const seen = new Set<string>();
  return doc.map((raw: unknown, i) => {
    const where = `${source}, ${entryName(raw, i)}`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
      throw new ConfigError(
        VARIABLE,
        `${where}: must be a mapping with id, cron, channel, and optionally tz, sampleSeconds and cluster`,
      );
    const unknown = Object.keys(raw).filter((k) => !KEYS.has(k));
    if (unknown.length > 0)
      throw new ConfigError(
        VARIABLE,
        `${where}: unknown field ${unknown.map((k) => JSON.stringify(k.slice(0, 40))).join(', ')} (fields: ${[...KEYS].join(', ')})`,
      );
    const r = raw as Record<string, unknown>;
    let spec: ScheduleSpec;
    try {
      spec = validateSpec({
        id: r.id as string,
        cron: r.cron as string,
        tz: (r.tz ?? DEFAULT_TIME_ZONE) as string,
        channel: r.channel as string,
        ...(r.sampleSeconds === undefined ? {} : { sampleSeconds: r.sampleSeconds as number }),
        ...(r.cluster === undefined ? {} : { cluster: r.cluster as string }),
      });
    } catch (err) {
      throw new ConfigError(VARIABLE, `${where}: ${describeError(err)}`);
    }
    if (seen.has(spec.id)) throw new ConfigError(VARIABLE, `${where}: the id ${spec.id} is declared twice`);
    seen.add(spec.id);
    return spec;
  });
}

/** Every schedule's cluster must be one of the clusters file's (`clusters`: their names); stops start-up if not. */
export function checkScheduleClusters(specs: readonly ScheduleSpec[], clusters: readonly string[]): void {
  for (const spec of specs) {
    if (spec.cluster !== undefined && !clusters.includes(spec.cluster))
      throw new ConfigError(
        VARIABLE,
        `schedule ${JSON.stringify(spec.id)}: cluster ${JSON.stringify(spec.cluster)} is not in K8SNET_CLUSTERS_FILE${clusters.length > 0 ? ` (clusters: ${clusters.join(', ')})` : ' (no clusters file is set)'}`,
      );
  }
}

export async function readScheduleFile(path: string): Promise<ScheduleSpec[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(
      VARIABLE,
      `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? describeError(err)}`,
    );
  }
  return parseScheduleFile(text, path);
}

export interface ScheduleFileOutcome {
  created: string[];
  updated: string[];
  unchanged: string[];
  removed: string[];
}

/** Makes Redis hold exactly the file's schedules (and whatever Slack added); running it twice changes nothing. */
export async function applyScheduleFile(
  schedules: ReportSchedules,
  specs: readonly ScheduleSpec[],
  now = new Date(),
): Promise<ScheduleFileOutcome> {
  const outcome: ScheduleFileOutcome = { created: [], updated: [], unchanged: [], removed: [] };
  const existing = new Map((await schedules.list()).map((s) => [s.id, s]));
  for (const spec of specs) {
    const before = existing.get(spec.id);
    const same =
      before &&
      before.createdBy === SCHEDULES_FILE_USER &&
      before.cron === spec.cron &&
      before.tz === spec.tz &&
      before.channel === spec.channel &&
      before.sampleSeconds === spec.sampleSeconds &&
      before.cluster === spec.cluster;
    if (same) {
      outcome.unchanged.push(spec.id);
      continue;
    }
    await schedules.upsert(spec, SCHEDULES_FILE_USER, now.toISOString());
    (before ? outcome.updated : outcome.created).push(spec.id);
  }
  const declared = new Set(specs.map((s) => s.id));
  for (const s of existing.values()) {
    if (s.createdBy === SCHEDULES_FILE_USER && !declared.has(s.id)) {
      await schedules.remove(s.id);
      outcome.removed.push(s.id);
    }
  }
  return outcome;
}
