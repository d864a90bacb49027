/**
 * Prometheus metrics (prom-client), one registry per process (passed around, never global): commands by type and
 * result, job duration by step, queue depth, SSH errors by node, capture bytes.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface K8snetMetrics {
  registry: Registry;
  commands: Counter<'command' | 'result'>;
  stepSeconds: Histogram<'command' | 'step'>;
  jobSeconds: Histogram<'command' | 'result'>;
  queueDepth: Gauge<'state'>;
  sshErrors: Counter<'node' | 'code'>;
  captureBytes: Counter<'node' | 'interface'>;
}

/** Steps take from milliseconds (a route lookup) to the capture window (up to 30 s by default). */
const STEP_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export function createMetrics(
  options: { defaultMetrics?: boolean; queueDepth?: () => Promise<Record<string, number>> } = {},
): K8snetMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'k8snet_' });
  const queueDepth = options.queueDepth;
  return {
    registry,
    commands: new Counter({
      name: 'k8snet_commands_total',
      help: 'Commands received, by type and result',
      labelNames: ['command', 'result'],
      registers: [registry],
    }),
    stepSeconds: new Histogram({
      name: 'k8snet_job_step_duration_seconds',
      help: 'Time spent in each step of a job',
      labelNames: ['command', 'step'],
      buckets: STEP_BUCKETS,
      registers: [registry],
    }),
    jobSeconds: new Histogram({
      name: 'k8snet_job_duration_seconds',
      help: 'Job duration, by command and result',
      labelNames: ['command', 'result'],
      buckets: STEP_BUCKETS,
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'k8snet_queue_jobs',
      help: 'Jobs in the queue, by state',
      labelNames: ['state'],
      registers: [registry],
      async collect() {
        if (!queueDepth) return;
        for (const [state, count] of Object.entries(await queueDepth())) this.set({ state }, count);
      },
    }),
    sshErrors: new Counter({
      name: 'k8snet_ssh_errors_total',
      help: 'SSH connection and command errors, by node and error code',
      labelNames: ['node', 'code'],
      registers: [registry],
    }),
    captureBytes: new Counter({
      name: 'k8snet_capture_bytes_total',
      help: 'pcap bytes received from node captures',
      labelNames: ['node', 'interface'],
      registers: [registry],
    }),
  };
}
