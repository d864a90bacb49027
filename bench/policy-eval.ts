/**
 * Policy evaluation speed: 1 000 policies against 1 000 pod pairs, k8snet's evaluator (selectors compiled
 * once in normalizePolicies, policies sorted once) vs a naive baseline that re-normalizes (re-parses every
 * selector and CIDR) and re-sorts for every pair, in the same process.
 *
 *   node bench/policy-eval.ts [--policies 1000] [--pairs 1000] [--baseline-pairs 50]
 */
import { parseArgs } from 'node:util';
import { evaluateConnection, normalizePolicies, sortPolicies, type PodEndpoint } from '../src/policy/index.ts';

const { values } = parseArgs({
  options: {
    policies: { type: 'string', default: '1000' },
    pairs: { type: 'string', default: '1000' },
    'baseline-pairs': { type: 'string', default: '50' },
  },
});
const nPolicies = Number(values.policies);
const nPairs = Number(values.pairs);
const nBaseline = Number(values['baseline-pairs']);
const NAMESPACES = 20;

const raw: unknown[] = [];
for (let i = 0; i < nPolicies; i++) {
  const ns = `ns-${i % NAMESPACES}`;
  if (i % 10 === 0) {
    raw.push({
      apiVersion: 'projectcalico.org/v3',
      kind: 'GlobalNetworkPolicy',
      metadata: { name: `gnp-${i}` },
      spec: {
        order: i,
        selector: `app == 'app-${i % 50}' && tier in {'web', 'db'}`,
        types: ['Ingress', 'Egress'],
        ingress: [
          {
            action: 'Allow',
            protocol: 'TCP',
            source: { selector: `app == 'app-${(i + 1) % 50}'` },
            destination: { ports: ['8000:8100'] },
          },
        ],
        egress: [{ action: 'Allow', protocol: 'UDP', destination: { ports: [53] } }],
      },
    });
  } else {
    raw.push({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: `np-${i}`, namespace: ns },
      spec: {
        podSelector: { matchLabels: { app: `app-${i % 50}` } },
        policyTypes: ['Ingress'],
        ingress: [
          {
            from: [
              {
                podSelector: {
                  matchExpressions: [
                    { key: 'app', operator: 'In', values: [`app-${(i + 3) % 50}`, `app-${(i + 7) % 50}`] },
                  ],
                },
                namespaceSelector: { matchLabels: { team: `t-${i % 5}` } },
              },
              { ipBlock: { cidr: '10.0.0.0/8', except: ['10.99.0.0/16'] } },
            ],
            ports: [{ port: 8080 }, { port: 'http' }],
          },
        ],
      },
    });
  }
}
const namespaces = Object.fromEntries(
  Array.from({ length: NAMESPACES }, (_, i) => [`ns-${i}`, { team: `t-${i % 5}` }]),
);
const pod = (i: number): PodEndpoint => ({
  kind: 'pod',
  name: `pod-${i}`,
  namespace: `ns-${i % NAMESPACES}`,
  ip: `10.${(i >> 8) & 255}.${i & 255}.7`,
  labels: { app: `app-${i % 50}`, tier: i % 2 ? 'web' : 'db' },
  serviceAccount: 'default',
  containerPorts: [{ name: 'http', port: 8080, protocol: 'TCP' }],
});
const pairs = Array.from({ length: nPairs }, (_, i) => [pod(i), pod((i * 7919 + 13) % 5000)] as const);

function ours(): { ms: number; allowed: number } {
  const t0 = performance.now();
  const policies = sortPolicies(normalizePolicies(raw).policies);
  let allowed = 0;
  for (const [src, dst] of pairs)
    if (
      evaluateConnection({ src, dst, namespaces, port: 8080, protocol: 'TCP', policies }, { presorted: true })
        .allowed === true
    )
      allowed++;
  return { ms: performance.now() - t0, allowed };
}

function naive(n: number): { ms: number; allowed: number } {
  const t0 = performance.now();
  let allowed = 0;
  for (const [src, dst] of pairs.slice(0, n)) {
    const { policies } = normalizePolicies(raw); // re-parse every selector and CIDR for every pair
    if (evaluateConnection({ src, dst, namespaces, port: 8080, protocol: 'TCP', policies }).allowed === true) allowed++;
  }
  return { ms: performance.now() - t0, allowed };
}

// Warm-up, then best of 3.
ours();
naive(5);
const best = (f: () => { ms: number; allowed: number }) => [f(), f(), f()].sort((a, b) => a.ms - b.ms)[0]!;
const o = best(ours);
const b = best(() => naive(nBaseline));
const oursRate = nPairs / (o.ms / 1000);
const naiveRate = nBaseline / (b.ms / 1000);
const check = naive(Math.min(nBaseline, nPairs));
const oursCheck = pairs.slice(0, Math.min(nBaseline, nPairs)).filter(
  ([src, dst]) =>
    evaluateConnection({
      src,
      dst,
      namespaces,
      port: 8080,
      protocol: 'TCP',
      policies: normalizePolicies(raw).policies,
    }).allowed === true,
).length;
if (check.allowed !== oursCheck) throw new Error('the baseline and the evaluator disagree');
console.log(`${nPolicies} policies, ${nPairs} pod pairs (${o.allowed} allowed)`);
console.log(
  `k8snet (normalize once, then evaluate): ${o.ms.toFixed(0)} ms including normalization → ${oursRate.toFixed(0)} pairs/s`,
);
console.log(
  `naive (re-normalize per pair), ${nBaseline} pairs: ${b.ms.toFixed(0)} ms → ${naiveRate.toFixed(0)} pairs/s`,
);
console.log(`ratio: ${(oursRate / naiveRate).toFixed(1)}×`);
