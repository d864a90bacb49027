/**
 * /healthz (the process is alive), /readyz (its dependencies answer: Redis, Slack…) and /metrics, on their own
 * port so probes and scrapes never compete with Slack's requests.
 */
import { createServer, type Server } from 'node:http';
import { K8snetError } from '../errors.ts';
import type { Registry } from 'prom-client';

/** A dependency check: resolves when the dependency answers, rejects (or times out) when it does not. */
export type ReadinessCheck = () => Promise<void>;

/** Probes must answer quickly; a dependency slower than this counts as down. */
export const READINESS_TIMEOUT_MS = 2000;

export interface HealthServer {
  port: number;
  /** The asked-for port was taken and a free one was used instead (see `fallbackToFreePort`). */
  fellBack: boolean;
  close(): Promise<void>;
}

async function runCheck(check: ReadinessCheck): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise(
        (_, reject) =>
          (timer = setTimeout(
            () => reject(new Error(`no answer within ${READINESS_TIMEOUT_MS} ms`)),
            READINESS_TIMEOUT_MS,
          )),
      ),
    ]);
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    clearTimeout(timer);
  }
}

export async function startHealthServer(options: {
  port: number;
  host?: string;
  registry: Registry;
  checks: Record<string, ReadinessCheck>;
  isShuttingDown?: () => boolean;
  /** The port is a default, not asked for: when it is taken, listen on any free port instead of failing. */
  fallbackToFreePort?: boolean;
}): Promise<HealthServer> {
  const server: Server = createServer((req, res) => {
    const url = req.url?.split('?')[0];
    if (url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (url === '/readyz') {
      void (async () => {
        const results = await Promise.all(
          Object.entries(options.checks).map(async ([name, check]) => [name, await runCheck(check)] as const),
        );
        const failed = results.filter(([, e]) => e !== null);
        const shuttingDown = options.isShuttingDown?.() ?? false;
        const ok = failed.length === 0 && !shuttingDown;
        const body = { ready: ok, shuttingDown, checks: Object.fromEntries(results.map(([n, e]) => [n, e ?? 'ok'])) };
        res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`);
      })();
    } else if (url === '/metrics') {
      options.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': options.registry.contentType }).end(text),
        (err: Error) => res.writeHead(500).end(err.message),
      );
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  const listen = (port: number) =>
    new Promise<HealthServer>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, options.host ?? '0.0.0.0', () => {
        server.off('error', reject);
        const address = server.address();
        resolve({
          port: typeof address === 'object' && address ? address.port : port,
          fellBack: port !== options.port,
          close: () => new Promise<void>((r) => server.close(() => r())),
        });
      });
    });
  try {
    return await listen(options.port);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    // A default port taken (another bot or worker on this host): any free port, which the ready log line names.
    if (options.fallbackToFreePort) return listen(0);
    throw new K8snetError(
      'config',
      `K8SNET_HEALTH_PORT: port ${options.port} is already in use on this host (another k8snet bot or worker?); set another, or 0 for any free port`,
      { cause: err },
    );
  }
}
