/**
 * An app inside a pod that listens only on 127.0.0.1 (or ::1) answers `kubectl exec … curl localhost` and nothing
 * else: connections to the pod IP are refused. Its own finding, because "nothing listens" would send the reader to the
 * wrong place. Pure; trace and pod diagnoses call it.
 */
import type { Finding } from '../model/report.ts';
import { isLoopbackAddress, isWildcardAddress, listenerText, type Listener } from '../parse/listeners.ts';

/**
 * A finding when `port` is held inside the pod only on loopback addresses; null when something listens on a wildcard
 * or a pod address, or nothing listens at all (that is `no_listener`'s to say), or listeners were not read.
 */
export function loopbackOnlyListener(
  listeners: readonly Listener[] | null,
  port: number | null,
  where = 'the pod',
): Finding | null {
  if (listeners === null || port === null) return null;
  const onPort = listeners.filter((l) => l.port === port);
  if (onPort.length === 0 || !onPort.every((l) => isLoopbackAddress(l.address) && !isWildcardAddress(l.address)))
    return null;
  return {
    severity: 'error',
    code: 'listener_loopback_only',
    message: `the app inside ${where} listens on TCP port ${port} only on ${[...new Set(onPort.map((l) => l.address))].join(' and ')}: connections to the pod IP are refused; bind it to 0.0.0.0 (or ::)`,
    evidence: `listening: ${onPort.map(listenerText).join(', ')}`,
  };
}
