/**
 * The neutral message model every operation result is turned into (the Botkube shape): renderers for Slack,
 * the terminal and files take a Report and apply their own size budgets. Operations never format for a platform.
 */
export type Severity = 'error' | 'warning' | 'info';

/** A plain-language diagnosis with the line of evidence it rests on (a route line, a rule, a capture count). */
export interface Finding {
  severity: Severity;
  /** Stable machine-readable code, e.g. `no_route_to_block`, `tunnel_down`. */
  code: string;
  message: string;
  evidence: string;
  /**
   * Findings that follow from this one (the generic "SYN sent, no SYN-ACK" under the drop that caused it; a node's
   * "no KUBE-NODEPORTS rule" under "the Service has no endpoints"). Renderers show them under their cause; the
   * headline counts causes only. Absent when nothing follows.
   */
  children?: Finding[];
}

export type ReportSection =
  /** Free text (a sentence or two). */
  | { kind: 'text'; title: string; text: string }
  /** Command output kept as-is, shown monospace: route tables, netns dumps, iptables chains. */
  | { kind: 'preformatted'; title: string; text: string }
  /** An aligned table: every row has one cell per column. */
  | { kind: 'table'; title: string; columns: string[]; rows: string[][] }
  | { kind: 'findings'; title: string; findings: Finding[] };

/** A file to attach (the raw pcap, a long dump): bytes, never posted inline. */
export interface ReportAttachment {
  filename: string;
  title: string;
  contentType: string;
  data: Buffer;
}

export interface Report {
  /** What was asked, e.g. "trace default/pod-src → default/pod-dest". */
  title: string;
  /** One line: "2 problems found" / "path looks healthy". */
  headline: string;
  findings: Finding[];
  sections: ReportSection[];
  attachments: ReportAttachment[];
}

const SEVERITY_ORDER: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

/** Errors first, then warnings, then info; stable within a severity. */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  return [...findings].sort((a, b) => SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity]);
}

/** Every finding, causes first and each followed by what follows from it (for exit statuses and code lists). */
export function flattenFindings(findings: readonly Finding[]): Finding[] {
  return findings.flatMap((f) => [f, ...flattenFindings(f.children ?? [])]);
}

/**
 * Moves each finding that `follows(cause, candidate)` says follows from a cause under that cause (the first cause
 * that claims it), and returns the remaining top level. A finding is never moved under itself or under one of its own
 * consequences; causes are tried in the order given.
 */
export function nestConsequences(
  findings: readonly Finding[],
  follows: (cause: Finding, candidate: Finding) => boolean,
): Finding[] {
  const moved = new Set<Finding>();
  const children = new Map<Finding, Finding[]>();
  for (const cause of findings) {
    if (moved.has(cause)) continue;
    for (const candidate of findings) {
      if (candidate === cause || moved.has(candidate) || children.has(candidate)) continue;
      if (!follows(cause, candidate)) continue;
      moved.add(candidate);
      children.set(cause, [...(children.get(cause) ?? []), candidate]);
    }
  }
  return findings
    .filter((f) => !moved.has(f))
    .map((f) => (children.has(f) ? { ...f, children: sortFindings([...(f.children ?? []), ...children.get(f)!]) } : f));
}

/** "all good" unless some finding is an error or warning; counts causes (top-level findings), not what follows from them. */
export function headlineFor(findings: readonly Finding[]): string {
  const errors = findings.filter((f) => f.severity === 'error').length;
  const warnings = findings.filter((f) => f.severity === 'warning').length;
  if (errors === 0 && warnings === 0) return 'no problems found';
  const parts = [];
  if (errors > 0) parts.push(`${errors} problem${errors === 1 ? '' : 's'}`);
  if (warnings > 0) parts.push(`${warnings} warning${warnings === 1 ? '' : 's'}`);
  return parts.join(', ');
}
