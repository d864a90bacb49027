/**
 * What connection tracking says about a path: how full a node's table is (trace, svc, nodeport), and for a test
 * connection to a Service address, its entry on the node that translates it — the DNAT to an endpoint, a DNAT whose
 * endpoint never answered, no translation at all, or no entry. Pure.
 */
import type { Finding } from '../model/report.ts';
import { dnatTarget, type ConntrackEntry } from '../parse/conntrack.ts';
import { joinHostPort } from '../net/host-port.ts';

/**
 * nf_conntrack_count at this share of nf_conntrack_max is a warning: the node-exporter mixin's
 * NodeHighNumberConntrackEntriesUsed alert fires at 75%; at 100% the kernel drops new connections ("table full").
 */
export const CONNTRACK_WARN_RATIO = 0.75;

/** The most entries quoted as evidence: the test connection's and the ones next to it, not a node's whole table. */
export const CONNTRACK_EVIDENCE_LINES = 3;

export function conntrackTableFindings(node: string, table: { count: number; max: number } | null): Finding[] {
  if (!table || table.max <= 0) return [];
  const { count, max } = table;
  const evidence = `net.netfilter.nf_conntrack_count = ${count}, net.netfilter.nf_conntrack_max = ${max}`;
  if (count >= max)
    return [
      {
        severity: 'error',
        code: 'conntrack_full',
        message: `${node}'s connection tracking table is full (${count} of ${max}): the kernel drops new connections`,
        evidence,
      },
    ];
  if (count >= max * CONNTRACK_WARN_RATIO)
    return [
      {
        severity: 'warning',
        code: 'conntrack_near_full',
        message: `${node}'s connection tracking table is ${Math.round((100 * count) / max)}% full (${count} of ${max}): new connections are dropped once it is full`,
        evidence,
      },
    ];
  return [];
}

/** One node's `conntrack -L` for the test connection's destination, read right after it. */
export interface ConntrackReading {
  /** The command as run, quoted in the evidence. */
  command: string;
  entries: ConntrackEntry[];
  /** conntrack could not be run (not installed, not permitted); entries are then []. */
  error: string | null;
}

export interface TestConnectionConntrack {
  node: string;
  /** Where the test connection went: the ClusterIP or the node's address, and the port. */
  destination: { ip: string; port: number };
  /** The test connection's source address, when known: other clients' entries to the same address are left out. */
  source: string | null;
  /** The endpoints (`ip:port`, joinHostPort's spelling) the Service should DNAT to. */
  endpoints: ReadonlySet<string>;
  reading: ConntrackReading;
}

/**
 * The entry that is the test connection: from its source where known, the one with the most time left (the
 * newest of entries in the same state; an earlier test's TIME_WAIT has less).
 */
function testEntry(t: TestConnectionConntrack): ConntrackEntry[] {
  const fromSource = t.source === null ? [] : t.reading.entries.filter((e) => e.original.src === t.source);
  const entries = fromSource.length > 0 ? fromSource : t.reading.entries;
  return [...entries].sort((a, b) => b.timeout - a.timeout);
}

/** The finding the test connection's conntrack entry makes, codes `conntrack_*` (none when conntrack could not be read). */
export function testConnectionConntrackFinding(t: TestConnectionConntrack): Finding | null {
  const target = joinHostPort(t.destination.ip, t.destination.port);
  if (t.reading.error !== null)
    return {
      severity: 'info',
      code: 'conntrack_unread',
      message: `the test connection's conntrack entry on ${t.node} could not be read: ${t.reading.error}`,
      evidence: t.reading.command,
    };
  const entries = testEntry(t);
  const evidence = [
    `${t.reading.command} on ${t.node}:`,
    ...(entries.length === 0
      ? ['0 flow entries have been shown.']
      : entries.slice(0, CONNTRACK_EVIDENCE_LINES).map((e) => e.raw)),
  ].join('\n');
  const entry = entries[0];
  if (!entry)
    return {
      severity: 'warning',
      code: 'conntrack_no_entry',
      message: `the test connection to ${target} left no conntrack entry on ${t.node}: its packets never reached ${t.node}'s netfilter, or were dropped or rejected there before the entry was kept`,
      evidence,
    };
  const dnat = dnatTarget(entry);
  if (dnat === null)
    return {
      severity: 'error',
      code: 'conntrack_not_translated',
      message: `on ${t.node} the test connection to ${target} was not translated: conntrack shows no DNAT, so no kube-proxy rule caught it`,
      evidence,
    };
  const to = dnat.port === null ? dnat.ip : joinHostPort(dnat.ip, dnat.port);
  const state = entry.state ? `${entry.state}${entry.unreplied ? ', [UNREPLIED]' : ''}` : '[UNREPLIED]';
  if (!t.endpoints.has(to))
    return {
      severity: 'warning',
      code: 'conntrack_dnat_stale',
      message: `on ${t.node} the test connection to ${target} was sent to ${to}, which is not a ready endpoint of the Service`,
      evidence,
    };
  if (entry.unreplied)
    return {
      severity: 'error',
      code: 'conntrack_dnat_unreplied',
      message: `on ${t.node} the test connection to ${target} was translated to endpoint ${to}, which never answered (${state}): the endpoint, or the path from ${t.node} to it, drops the connection`,
      evidence,
    };
  return {
    severity: 'info',
    code: 'conntrack_dnat',
    message: `on ${t.node} the test connection to ${target} was translated to endpoint ${to}, which answered${entry.state ? ` (${entry.state})` : ''}`,
    evidence,
  };
}
