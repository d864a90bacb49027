/**
 * Report → terminal text: title and headline, findings first (errors, then warnings, then info, each with its
 * evidence line), then sections as aligned tables or indented command output. Pure; colour only when asked.
 */
import { sortFindings, type Finding, type Report, type ReportSection } from '../model/report.ts';

export interface TerminalOptions {
  /** ANSI colours (the CLI turns them on for a TTY unless NO_COLOR is set). */
  color: boolean;
}

const SEVERITY_LABEL: Record<Finding['severity'], string> = { error: 'PROBLEM', warning: 'WARNING', info: 'info' };
const SEVERITY_COLOR: Record<Finding['severity'], string> = { error: '31', warning: '33', info: '36' };

function paint(text: string, code: string, options: TerminalOptions): string {
  return options.color ? `\u001b[${code}m${text}\u001b[0m` : text;
}

/** Columns padded to the widest cell; the last column is not padded (no trailing blanks). */
export function alignTable(columns: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(columns), ...rows.map(line)];
}

/** Consequences are indented under their cause by this much per level. */
const CHILD_INDENT = '    ';

export function formatFinding(f: Finding, options: TerminalOptions, depth = 0): string[] {
  const indent = CHILD_INDENT.repeat(depth);
  const label = paint(SEVERITY_LABEL[f.severity].padEnd(7), SEVERITY_COLOR[f.severity], options);
  const lines = [`${indent}${depth > 0 ? '└ ' : ''}${label}  ${f.message}`];
  const bar = `${indent}${depth > 0 ? '  ' : ''}         ${paint('│', '2', options)} `;
  if (f.evidence) lines.push(...f.evidence.split('\n').map((l) => `${bar}${l}`));
  for (const c of sortFindings(f.children ?? [])) lines.push(...formatFinding(c, options, depth + 1));
  return lines;
}

function formatSection(section: ReportSection, options: TerminalOptions): string[] {
  const title = paint(section.title, '1', options);
  switch (section.kind) {
    case 'text':
      return [title, section.text];
    case 'preformatted':
      return [
        title,
        ...section.text
          .replace(/\n+$/, '')
          .split('\n')
          .map((l) => `  ${l}`),
      ];
    case 'table':
      return [
        title,
        ...(section.rows.length === 0 ? ['  (none)'] : alignTable(section.columns, section.rows).map((l) => `  ${l}`)),
      ];
    case 'findings':
      return [title, ...sortFindings(section.findings).flatMap((f) => formatFinding(f, options))];
  }
}

export function renderReportText(report: Report, options: TerminalOptions = { color: false }): string {
  const out = [paint(report.title, '1', options), report.headline, ''];
  if (report.findings.length > 0) {
    out.push(...sortFindings(report.findings).flatMap((f) => formatFinding(f, options)), '');
  }
  for (const section of report.sections) out.push(...formatSection(section, options), '');
  for (const a of report.attachments) out.push(`attachment: ${a.filename} (${a.title}, ${a.data.length} bytes)`);
  return `${out.join('\n').replace(/\n+$/, '')}\n`;
}
