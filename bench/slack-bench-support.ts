/** What the Slack benches share: where the CLI is, the stand-in's credentials, Redis, and a median. */
import { fileURLToPath } from 'node:url';

export { freePort } from '../src/demo/wait.ts';

/** The CLI the image runs (`k8snet bot`, `k8snet worker`). */
export const K8SNET = fileURLToPath(new URL('../bin/k8snet.js', import.meta.url));
export const BOT_TOKEN = 'xoxb-bench-token';
export const SIGNING_SECRET = 'bench-signing-secret';
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}
