/**
 * The worker's Slack Web API client. Rate-limited calls (429) are waited out for Retry-After and retried by the SDK
 * instead of failing the job; the same request is sent again only after Slack refused it, so nothing doubles.
 */
import { LogLevel, WebClient } from '@slack/web-api';
import type { SlackSettings } from '../config.ts';

export function createSlackClient(settings: Pick<SlackSettings, 'botToken' | 'apiUrl'>, retries = 10): WebClient {
  return new WebClient(settings.botToken, {
    ...(settings.apiUrl ? { slackApiUrl: settings.apiUrl } : {}),
    rejectRateLimitedCalls: false,
    retryConfig: { retries, factor: 2, minTimeout: 200, maxTimeout: 60_000 },
    logLevel: LogLevel.ERROR,
  });
}

/** A readiness check that calls auth.test at most once per `ttlMs` (probes come every few seconds). */
export function slackReachable(client: WebClient, ttlMs = 30_000): () => Promise<void> {
  let checkedAt = 0;
  return async () => {
    if (Date.now() - checkedAt < ttlMs) return;
    await client.auth.test();
    checkedAt = Date.now();
  };
}
