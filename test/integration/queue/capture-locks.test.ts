import { afterAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisCaptureLocks } from '../../../src/queue/capture-locks.ts';
import { REDIS_URL } from '../../support/slack-pipeline.ts';

const redis = new Redis(REDIS_URL);
const prefix = `k8snet-test-${randomBytes(4).toString('hex')}`;

afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

describe('capture locks in Redis (one capture at a time per node interface, across workers)', () => {
  it('makes a second capture on the same interface wait until the first releases it; other interfaces are free', async () => {
    const workerA = new RedisCaptureLocks(redis, prefix, 5000);
    const workerB = new RedisCaptureLocks(redis, prefix, 5000);
    const releaseA = await workerA.acquire('k8s-node1//eth0', 10_000);
    const other = await workerB.acquire('k8s-node1//vxlan.calico', 10_000);
    const started = Date.now();
    const waiting = workerB.acquire('k8s-node1//eth0', 10_000);
    setTimeout(() => void releaseA(), 400);
    const releaseB = await waiting;
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    await releaseB();
    await other();
    expect(await redis.keys(`${prefix}:*`)).toEqual([]);
  });

  it('gives up with a retryable error naming the busy interface when it stays busy', async () => {
    const locks = new RedisCaptureLocks(redis, prefix, 300);
    const release = await locks.acquire('k8s-node2//eth0', 10_000);
    await expect(locks.acquire('k8s-node2//eth0', 10_000)).rejects.toMatchObject({
      code: 'timeout',
      retryable: true,
      message: expect.stringContaining('k8s-node2/eth0 is busy with another capture'),
    });
    await release();
  });

  it("locks per cluster: another cluster's capture on a node and interface of the same name does not wait", async () => {
    const alpha = new RedisCaptureLocks(redis, prefix, 300, 'alpha');
    const beta = new RedisCaptureLocks(redis, prefix, 300, 'beta');
    const releaseAlpha = await alpha.acquire('k8s-node4//eth0', 10_000);
    const started = Date.now();
    const releaseBeta = await beta.acquire('k8s-node4//eth0', 10_000);
    expect(Date.now() - started).toBeLessThan(300);
    // Within one cluster the lock still holds.
    await expect(
      new RedisCaptureLocks(redis, prefix, 300, 'alpha').acquire('k8s-node4//eth0', 10_000),
    ).rejects.toMatchObject({ retryable: true });
    expect(alpha.keyOf('k8s-node4//eth0')).not.toBe(beta.keyOf('k8s-node4//eth0'));
    await releaseAlpha();
    await releaseBeta();
  });

  it('expires by itself when its holder died, and a stale holder cannot release a lock someone else now holds', async () => {
    const locks = new RedisCaptureLocks(redis, prefix, 2000);
    const staleRelease = await locks.acquire('k8s-node3//eth0', 200);
    const release = await locks.acquire('k8s-node3//eth0', 10_000); // waits out the 200 ms TTL
    await staleRelease();
    expect(await redis.exists(locks.keyOf('k8s-node3//eth0'))).toBe(1);
    await release();
    expect(await redis.exists(locks.keyOf('k8s-node3//eth0'))).toBe(0);
  });
});
