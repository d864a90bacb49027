/**
 * A Redis of our own (random port on 127.0.0.1, AOF on, data in a temporary directory): `k8snet demo` uses one when
 * the machine runs none, and tests restart one to prove queued jobs survive a Redis restart. Never touches the
 * machine's Redis.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, until } from './wait.ts';

export interface PrivateRedis {
  url: string;
  /** SHUTDOWN (AOF flushed) and start again on the same port and data directory. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Whether a Redis answers PING at `url` (one try, no reconnects). */
export async function redisAnswers(url: string): Promise<boolean> {
  const probe = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1000,
  });
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'k8snet-redis-'));
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess;
  const start = async () => {
    child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--save',
        '',
        '--maxmemory-policy',
        'noeviction',
      ],
      { stdio: 'ignore' },
    );
    await until(() => redisAnswers(url), 10_000, `redis-server on ${port}`);
  };
  const stopServer = async () => {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM'); // redis-server saves the AOF and exits on SIGTERM
    await exited;
  };
  await start();
  return {
    url,
    async restart() {
      await stopServer();
      await start();
    },
    async stop() {
      await stopServer();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
