/**
 * What every operation (trace, nodeport, svc, pod, routes, pcap, report) looks like from the outside:
 * it takes a parsed command and reports progress by step name, and returns its structured result (the `--json`
 * contract) together with the neutral Report that renderers turn into Slack messages or terminal text.
 */
import type { Finding, Report } from '../model/report.ts';

export interface OperationContext {
  /** Called when the operation enters a step ("resolving pods", "capturing on k8s-node1/vxlan.calico"). */
  onStep(step: string): void;
  /** Aborted when the job is cancelled or times out; operations stop their node commands and captures. */
  signal: AbortSignal;
}

export interface OperationOutcome<Result extends { findings: Finding[] } = { findings: Finding[] }> {
  result: Result;
  report: Report;
}
