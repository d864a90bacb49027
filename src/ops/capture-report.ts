/**
 * Capture summaries as report sections and findings, shared by trace, nodeport, svc and pcap: a flow table with
 * the outer tunnel endpoints beside the inner pod addresses, and the first packets as tcpdump-style lines.
 * Headers only: payload bytes never reach a report.
 */
import type { CaptureSummary, FlowSummary } from '../pcap/index.ts';
import type { Finding, ReportSection } from '../model/report.ts';

/** Rows in a flow table before the rest is summed up in one line (the JSON keeps every flow). */
export const MAX_FLOW_ROWS = 25;
/** Sample lines shown per capture point. */
export const MAX_SAMPLE_LINES = 12;

function endpoint(ip: string, port: number | null): string {
  if (port === null) return ip;
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

export function flowLabel(f: Pick<FlowSummary, 'src' | 'dst' | 'sport' | 'dport' | 'proto'>): string {
  return `${endpoint(f.src, f.sport)} → ${endpoint(f.dst, f.dport)} ${f.proto}`;
}

export function tunnelLabel(f: Pick<FlowSummary, 'tunnel'>): string {
  if (!f.tunnel) return '-';
  return `${f.tunnel.type.toUpperCase()}${f.tunnel.vni === null ? '' : ` vni ${f.tunnel.vni}`} ${f.tunnel.outerSrc} → ${f.tunnel.outerDst}`;
}

function flowState(f: FlowSummary): string {
  if (f.proto !== 'tcp') return '';
  const parts = [f.handshake === 'complete' ? 'handshake ok' : f.handshake === 'none' ? 'mid-stream' : f.handshake];
  if (f.resets > 0) parts.push(`${f.resets} RST`);
  if (f.retransmissions > 0) parts.push(`${f.retransmissions} retrans`);
  return parts.join(', ');
}

export const FLOW_COLUMNS = ['FLOW (inner)', 'OUTER (tunnel)', 'PKTS', 'BYTES', 'TCP'];

export function flowRows(flows: readonly FlowSummary[], limit = MAX_FLOW_ROWS): string[][] {
  const rows = flows
    .slice(0, limit)
    .map((f) => [flowLabel(f), tunnelLabel(f), String(f.packets), String(f.bytes), flowState(f)]);
  if (flows.length > limit) {
    const rest = flows.slice(limit);
    rows.push([
      `… ${rest.length} more flows`,
      '',
      String(rest.reduce((n, f) => n + f.packets, 0)),
      String(rest.reduce((n, f) => n + f.bytes, 0)),
      '',
    ]);
  }
  return rows;
}

/** Several capture points side by side: the same flow as each point saw it (inner addresses, outer tunnel, TCP). */
export function capturePointsTable(
  title: string,
  points: readonly { label: string; summary: CaptureSummary | null; error: string | null }[],
  flowsPerPoint = 3,
): ReportSection {
  const rows: string[][] = [];
  for (const p of points) {
    if (!p.summary) {
      rows.push([p.label, '-', `capture failed: ${p.error ?? 'unknown'}`, '', '', '']);
      continue;
    }
    if (p.summary.flows.length === 0) rows.push([p.label, String(p.summary.packets), 'no IP flows', '', '', '']);
    for (const f of p.summary.flows.slice(0, flowsPerPoint))
      rows.push([p.label, String(p.summary.packets), flowLabel(f), tunnelLabel(f), String(f.packets), flowState(f)]);
  }
  return {
    kind: 'table',
    title,
    columns: ['POINT', 'PACKETS', 'FLOW (inner)', 'OUTER (tunnel)', 'FLOW PKTS', 'TCP'],
    rows,
  };
}

export function sampleSection(title: string, summary: CaptureSummary, lines = MAX_SAMPLE_LINES): ReportSection | null {
  if (summary.sample.length === 0) return null;
  return {
    kind: 'preformatted',
    title,
    text: summary.sample
      .slice(0, lines)
      .map((s) => `${s.time.slice(11)} ${s.line}`)
      .join('\n'),
  };
}

export function captureSections(title: string, summary: CaptureSummary): ReportSection[] {
  const sections: ReportSection[] = [
    {
      kind: 'table',
      title: `${title}: ${summary.packets} packets, ${summary.flows.length} flows`,
      columns: FLOW_COLUMNS,
      rows: flowRows(summary.flows),
    },
  ];
  if (summary.sample.length > 0) {
    sections.push({
      kind: 'preformatted',
      title: `${title}: first packets`,
      text: summary.sample
        .slice(0, MAX_SAMPLE_LINES)
        .map((s) => `${s.time} ${s.line}`)
        .join('\n'),
    });
  }
  return sections;
}

/** What a capture file says by itself (no knowledge of the cluster). */
export function captureFindings(summary: CaptureSummary): Finding[] {
  const out: Finding[] = summary.errors.map((e) => ({
    severity: 'error' as const,
    code: 'capture_unreadable',
    message: `the capture could not be read to the end; the summary covers the ${summary.packets} packets before the problem`,
    evidence: e,
  }));
  for (const f of summary.flows.filter((x) => x.proto === 'tcp')) {
    if (f.handshake === 'syn-only' && f.resets === 0)
      out.push({
        severity: 'warning',
        code: 'no_syn_ack',
        message: `${flowLabel(f)}: SYN without SYN-ACK`,
        evidence: `flags seen: ${f.tcpFlags.join(' ')}`,
      });
    else if (f.resets > 0 && f.handshake !== 'complete')
      out.push({
        severity: 'warning',
        code: 'connection_refused',
        message: `${flowLabel(f)}: connection reset before the handshake completed`,
        evidence: `flags seen: ${f.tcpFlags.join(' ')}`,
      });
    if (f.retransmissions > 0)
      out.push({
        severity: 'warning',
        code: 'retransmissions',
        message: `${flowLabel(f)}: ${f.retransmissions} retransmissions`,
        evidence: `${f.packets} packets`,
      });
  }
  const tunnels = new Set(summary.flows.filter((f) => f.tunnel).map((f) => tunnelLabel(f)));
  if (tunnels.size > 0)
    out.push({
      severity: 'info',
      code: 'encapsulated',
      message: `${summary.flows.filter((f) => f.tunnel).length} flows travel inside a tunnel`,
      evidence: [...tunnels].slice(0, 5).join('\n'),
    });
  if (summary.badUdpChecksums > 0) {
    out.push({
      severity: 'warning',
      code: 'bad_udp_checksums',
      message: `${summary.badUdpChecksums} packets carry a UDP datagram with a bad checksum: a receiver drops them (captured on the sending host, checksum offload leaves them unfinished and this is expected)`,
      evidence: `${summary.badUdpChecksums} bad UDP checksums (whole datagrams checked against the IP pseudo-header)`,
    });
  }
  if (summary.badIpChecksums > 0) {
    out.push({
      severity: 'warning',
      code: 'bad_ip_checksums',
      message: `${summary.badIpChecksums} packets have an IPv4 header with a bad checksum: routers and receivers drop them`,
      evidence: `${summary.badIpChecksums} bad IPv4 header checksums`,
    });
  }
  if (summary.malformedPackets > 0)
    out.push({
      severity: 'warning',
      code: 'malformed_packets',
      message: `${summary.malformedPackets} packets had a header that could not be decoded`,
      evidence: summary.warnings.slice(0, 3).join('\n'),
    });
  return out;
}
