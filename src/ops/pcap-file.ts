/**
 * `pcap FILE`: summarize an existing capture (streamed from disk: memory stays flat whatever its size).
 * The result is the pcap JSON contract; a truncated or malformed file is reported in `errors` and findings.
 */
import { basename } from 'node:path';
import { stat } from 'node:fs/promises';
import { K8snetError } from '../errors.ts';
import { summarizeCaptureFile, summaryToJson, type CaptureSummary } from '../pcap/index.ts';
import { headlineFor, sortFindings, type Finding } from '../model/report.ts';
import { captureFindings, captureSections } from './capture-report.ts';
import type { OperationContext, OperationOutcome } from './types.ts';

export type PcapFileResult = ReturnType<typeof summaryToJson> & { file: string; findings: Finding[] };

export async function summarizePcapFile(
  path: string,
  ctx: OperationContext,
): Promise<OperationOutcome<PcapFileResult> & { summary: CaptureSummary }> {
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new K8snetError('invalid_input', `${path} is not a file`);
  } catch (err) {
    if (err instanceof K8snetError) throw err;
    throw new K8snetError('invalid_input', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, {
      cause: err,
    });
  }
  ctx.onStep(`reading ${basename(path)}`);
  const summary = await summarizeCaptureFile(path, { signal: ctx.signal });
  const findings = sortFindings(captureFindings(summary));
  return {
    summary,
    result: { file: path, ...summaryToJson(summary), findings },
    report: {
      title: `pcap ${basename(path)}`,
      headline: `${summary.packets} packets, ${summary.flows.length} flows — ${headlineFor(findings)}`,
      findings,
      sections: [
        {
          kind: 'text',
          title: 'Capture',
          text: `${summary.format}, link type ${summary.linkTypes.join(', ') || 'unknown'}, ${summary.packets} packets, ${summary.bytes} bytes, ${summary.firstSeen ?? '-'} → ${summary.lastSeen ?? '-'}`,
        },
        ...captureSections(basename(path), summary),
      ],
      attachments: [],
    },
  };
}
