import { describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import { createLogger, redactSecrets } from '../../../src/observability/logger.ts';
import { createMetrics } from '../../../src/observability/metrics.ts';
import { startHealthServer } from '../../../src/observability/health-server.ts';

function capture(): { lines: () => Record<string, unknown>[]; stream: Writable } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('logs', () => {
  it('writes JSON with the job context on every line and never a token or key', () => {
    const out = capture();
    const log = createLogger({ destination: out.stream }).child({ jobId: '42', command: 'trace', user: 'U123' });
    log.info({ botToken: 'xoxb-1-2-secret', ssh: { privateKey: '-----BEGIN' } }, 'posting with xoxb-1234-abcd failed');
    const [line] = out.lines();
    expect(line).toMatchObject({
      level: 'info',
      jobId: '42',
      command: 'trace',
      user: 'U123',
      botToken: '[REDACTED]',
      ssh: { privateKey: '[REDACTED]' },
    });
    expect(JSON.stringify(line)).not.toMatch(/secret|BEGIN|xoxb-1234/);
    expect(redactSecrets('token=xapp-1-A0-123 here')).toBe('token=xapp-[REDACTED] here');
  });
});

describe('health and metrics endpoints', () => {
  it('says ready only while every dependency answers, and serves the metrics', async () => {
    let redisUp = true;
    const metrics = createMetrics({ defaultMetrics: false, queueDepth: async () => ({ waiting: 3, active: 1 }) });
    metrics.commands.inc({ command: 'trace', result: 'done' });
    const server = await startHealthServer({
      port: 0,
      host: '127.0.0.1',
      registry: metrics.registry,
      checks: {
        redis: async () => {
          if (!redisUp) throw new Error('ECONNREFUSED');
        },
      },
    });
    const base = `http://127.0.0.1:${server.port}`;
    try {
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      redisUp = false;
      const down = await fetch(`${base}/readyz`);
      expect(down.status).toBe(503);
      expect(await down.json()).toEqual({ ready: false, shuttingDown: false, checks: { redis: 'ECONNREFUSED' } });
      const text = await (await fetch(`${base}/metrics`)).text();
      expect(text).toContain('k8snet_commands_total{command="trace",result="done"} 1');
      expect(text).toContain('k8snet_queue_jobs{state="waiting"} 3');
    } finally {
      await server.close();
    }
  });
});

describe('a health port already taken on this host', () => {
  it('fails with the variable to set when the port was asked for, and takes a free one when it was only the default', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const first = await startHealthServer({ port: 0, host: '127.0.0.1', registry: metrics.registry, checks: {} });
    try {
      await expect(
        startHealthServer({ port: first.port, host: '127.0.0.1', registry: metrics.registry, checks: {} }),
      ).rejects.toThrow(
        `K8SNET_HEALTH_PORT: port ${first.port} is already in use on this host (another k8snet bot or worker?); set another, or 0 for any free port`,
      );
      const second = await startHealthServer({
        port: first.port,
        host: '127.0.0.1',
        registry: metrics.registry,
        checks: {},
        fallbackToFreePort: true,
      });
      expect(second.fellBack).toBe(true);
      expect(second.port).not.toBe(first.port);
      expect((await fetch(`http://127.0.0.1:${second.port}/healthz`)).status).toBe(200);
      await second.close();
    } finally {
      await first.close();
    }
  });
});
