import { describe, expect, it } from '@jest/globals';
import { createLimiter, mapLimit } from '../../../src/ops/concurrency.ts';

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('concurrency limits', () => {
  it('mapLimit keeps the input order and never has more than `limit` in flight', async () => {
    let inFlight = 0;
    let most = 0;
    const out = await mapLimit([5, 1, 4, 2, 3], 2, async (n) => {
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setTimeout(r, n));
      inFlight--;
      return n * 10;
    });
    expect(out).toEqual([50, 10, 40, 20, 30]);
    expect(most).toBe(2);
  });

  it('createLimiter lets `limit` calls run, queues the rest first come first served, and frees a slot on failure', async () => {
    const run = createLimiter(2);
    const started: number[] = [];
    let inFlight = 0;
    let most = 0;
    const job = (i: number) =>
      run(async () => {
        started.push(i);
        most = Math.max(most, ++inFlight);
        await tick();
        inFlight--;
        if (i === 1) throw new Error('boom');
        return i;
      });
    const results = await Promise.allSettled([0, 1, 2, 3, 4].map(job));
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : 'failed'))).toEqual([0, 'failed', 2, 3, 4]);
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(most).toBe(2);
  });
});
