/**
 * How the CLI prints an operation's outcome: the readable terminal report, or `--json` (the result object with
 * stable field names, documented in the README). Exit status: 0 when no finding is an error, 1 otherwise.
 */
import type { Report } from '../model/report.ts';
import { cliSettings } from '../config.ts';
import { renderReportText } from '../render/terminal.ts';

export function useColor(stream: NodeJS.WriteStream = process.stdout): boolean {
  return stream.isTTY === true && !cliSettings(process.env).noColor;
}

export function printOutcome(
  outcome: { result: { findings: { severity: string }[] }; report: Report },
  json: boolean,
): number {
  if (json) process.stdout.write(`${JSON.stringify(outcome.result, null, 2)}\n`);
  else process.stdout.write(renderReportText(outcome.report, { color: useColor() }));
  return outcome.result.findings.some((f) => f.severity === 'error') ? 1 : 0;
}

/** Progress goes to stderr so `--json` output stays clean. */
export function stepPrinter(quiet: boolean): (step: string) => void {
  return quiet ? () => undefined : (step) => process.stderr.write(`… ${step}\n`);
}
