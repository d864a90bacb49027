/**
 * `lab up`'s last step: POSTs the topology's networkPolicies documents to the lab API server, the way
 * `kubectl create -f` would (fieldValidation=Strict), so they pass the same validation and land in the same store
 * and policies.json as anything written later. The caller passes the server's URL, CA and token.
 */
import { request } from 'node:https';
import { K8snetError } from '../errors.ts';
import type { TopologyPolicyDocument } from './topology.ts';

export interface LabApiEndpoint {
  url: string;
  caPem: string;
  token: string;
}

/** Per request; the lab API server answers on loopback in milliseconds. */
const APPLY_TIMEOUT_MS = 10_000;

const PLURALS: Record<string, string> = {
  NetworkPolicy: 'networkpolicies',
  GlobalNetworkPolicy: 'globalnetworkpolicies',
  Tier: 'tiers',
};

/** The collection URL path a document is created under. */
export function collectionPath(object: TopologyPolicyDocument['object']): string {
  const plural = PLURALS[object.kind];
  if (!plural) throw new K8snetError('lab', `no resource for kind ${object.kind}`);
  const scope =
    object.kind === 'NetworkPolicy' ? `/namespaces/${encodeURIComponent(object.metadata.namespace ?? 'default')}` : '';
  return `/apis/${object.apiVersion}${scope}/${plural}`;
}

function post(endpoint: LabApiEndpoint, path: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${endpoint.url}${path}?fieldManager=k8snet-lab-up&fieldValidation=Strict`,
      {
        method: 'POST',
        ca: endpoint.caPem,
        timeout: APPLY_TIMEOUT_MS,
        headers: {
          authorization: `Bearer ${endpoint.token}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer in ${APPLY_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Creates every document in order; the first refusal stops with the server's message and the file it came from. */
export async function applyPolicyDocuments(
  endpoint: LabApiEndpoint,
  documents: readonly TopologyPolicyDocument[],
): Promise<void> {
  for (const doc of documents) {
    const res = await post(endpoint, collectionPath(doc.object), JSON.stringify(doc.object));
    if (res.status !== 201) {
      let message = res.body;
      try {
        message = (JSON.parse(res.body) as { message?: string }).message ?? res.body;
      } catch {
        // not a Status: keep the raw body
      }
      throw new K8snetError(
        'lab',
        `the lab API server refused ${doc.object.kind} ${doc.object.metadata.name} from ${doc.source}: ${message}`,
      );
    }
  }
}
