/**
 * The upstream NetworkPolicy e2e model: namespaces x, y, z, each with pods a, b, c labelled pod=<name>,
 * namespaces labelled ns=<name> and kubernetes.io/metadata.name=<name>, every pod serving 80 and 81 on TCP,
 * UDP and SCTP with ports named serve-<port>-<proto>.
 * Source: github.com/kubernetes/kubernetes test/e2e/network/netpol/model.go and kubemanager.go.
 */
import {
  evaluateConnection,
  normalizePolicies,
  type ConnectionProtocol,
  type PodEndpoint,
} from '../../../src/policy/index.ts';

export const NAMESPACES = ['x', 'y', 'z'] as const;
export const PODS = ['a', 'b', 'c'] as const;

export const namespaces: Record<string, Record<string, string>> = Object.fromEntries(
  NAMESPACES.map((ns) => [ns, { ns, 'kubernetes.io/metadata.name': ns }]),
);

export function pod(id: string): PodEndpoint {
  const [ns, name] = id.split('/') as [string, string];
  const ip = `10.0.${NAMESPACES.indexOf(ns as 'x')}.${PODS.indexOf(name as 'a') + 10}`;
  const containerPorts = [80, 81].flatMap((port) =>
    (['TCP', 'UDP', 'SCTP'] as const).map((protocol) => ({
      name: `serve-${port}-${protocol.toLowerCase()}`,
      port,
      protocol,
    })),
  );
  return { kind: 'pod', name, namespace: ns, ip, labels: { pod: name }, serviceAccount: 'default', containerPorts };
}

export const ALL_PODS = NAMESPACES.flatMap((ns) => PODS.map((p) => `${ns}/${p}`));

/** The reachability matrix ("from→to" pairs that are allowed), loopback ignored as the e2e tests do. */
export function reachability(rawPolicies: unknown[], port: number, protocol: ConnectionProtocol): Set<string> {
  const { policies, problems } = normalizePolicies(rawPolicies);
  if (problems.some((p) => p.severity === 'error')) throw new Error(JSON.stringify(problems));
  const allowed = new Set<string>();
  for (const from of ALL_PODS) {
    for (const to of ALL_PODS) {
      if (from === to) continue;
      const v = evaluateConnection({ src: pod(from), dst: pod(to), namespaces, port, protocol, policies });
      if (v.allowed === 'unknown') throw new Error(`${from}→${to}: ${v.ingress.reason} / ${v.egress.reason}`);
      if (v.allowed) allowed.add(`${from}→${to}`);
    }
  }
  return allowed;
}

/** Builds the expected matrix from "everything allowed" and a deny predicate, like the e2e Reachability helper. */
export function expectAllExcept(denied: (from: string, to: string) => boolean): Set<string> {
  const out = new Set<string>();
  for (const from of ALL_PODS)
    for (const to of ALL_PODS) if (from !== to && !denied(from, to)) out.add(`${from}→${to}`);
  return out;
}

export const netpol = (name: string, namespace: string, spec: Record<string, unknown>) => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name, namespace },
  spec,
});
