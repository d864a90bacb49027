/**
 * A ClusterReader that reports every read (which call, its arguments, what came back, how long it took) so a job's
 * evidence bundle can hold the Kubernetes objects its answer rests on. Objects of kind Secret are never passed on
 * (ClusterReader reads none; this is the belt to that braces).
 */
import type { ClusterReader } from '../cluster/types.ts';
import { describeError } from '../errors.ts';

export interface ClusterRead {
  call: keyof ClusterReader;
  /** 1 for the first call made through this recorder, and so on: calls run in parallel and finish in any order. */
  seq: number;
  args: unknown[];
  /** ISO time the call started. */
  at: string;
  durationMs: number;
  result?: unknown;
  error?: string;
}

const isSecret = (o: unknown) => typeof o === 'object' && o !== null && (o as { kind?: unknown }).kind === 'Secret';

/** Drops Secret objects wherever they appear in a result (lists, `objects` arrays). */
function withoutSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.filter((v) => !isSecret(v)).map(withoutSecrets);
  if (typeof value === 'object' && value !== null && !Buffer.isBuffer(value)) {
    if (isSecret(value)) return undefined;
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutSecrets(v)]));
  }
  return value;
}

export function recordingCluster(cluster: ClusterReader, onRead: (read: ClusterRead) => void): ClusterReader {
  let calls = 0;
  const wrap = <K extends keyof ClusterReader>(call: K) =>
    (async (...args: unknown[]) => {
      const seq = ++calls;
      const started = Date.now();
      const at = new Date(started).toISOString();
      try {
        const result: unknown = await (cluster[call] as (...a: unknown[]) => Promise<unknown>).apply(cluster, args);
        onRead({ call, seq, args, at, durationMs: Date.now() - started, result: withoutSecrets(result) });
        return result;
      } catch (err) {
        onRead({ call, seq, args, at, durationMs: Date.now() - started, error: describeError(err) });
        throw err;
      }
    }) as ClusterReader[K];
  return {
    getPod: wrap('getPod'),
    listPods: wrap('listPods'),
    getNode: wrap('getNode'),
    listNodes: wrap('listNodes'),
    getService: wrap('getService'),
    listServices: wrap('listServices'),
    listEndpoints: wrap('listEndpoints'),
    listIpPools: wrap('listIpPools'),
    listNamespaces: wrap('listNamespaces'),
    listPolicyObjects: wrap('listPolicyObjects'),
    listCalicoNodes: wrap('listCalicoNodes'),
    readCalicoConfig: wrap('readCalicoConfig'),
    readKubeProxyConfig: wrap('readKubeProxyConfig'),
  };
}
