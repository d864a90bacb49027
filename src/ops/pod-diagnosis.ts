/**
 * Judges one pod's network plumbing: its sandbox network namespace (found how), the addresses and routes inside
 * it, and the host side (cali interface and /32 route). Pure; pod.ts gathers the facts.
 */
import type { Finding } from '../model/report.ts';
import { CALICO_POD_GATEWAY } from '../calico/naming.ts';
import type { LinkFacts, RouteLine } from './trace-facts.ts';
import type { Listener } from '../parse/listeners.ts';
import { loopbackOnlyListener } from './loopback-listener.ts';

export interface PodNetnsFacts {
  podLabel: string;
  podIP: string | null;
  node: string;
  caliInterface: string;
  /** Network namespace name or path, and how it was found (crictl, docker, scan); null when not found. */
  netns: string | null;
  foundBy: 'crictl' | 'docker' | 'scan' | null;
  /** IPv4 addresses inside the netns as interface → CIDRs. */
  addresses: Record<string, string[]> | null;
  routesInPod: RouteLine[] | null;
  hostLinks: LinkFacts[] | null;
  hostRoute: RouteLine | null;
  hostNetwork: boolean;
  /** TCP listeners inside the netns (null: not read), and the TCP ports the containers declare. */
  listeners: Listener[] | null;
  containerPorts: number[];
}

const err = (code: string, message: string, evidence = ''): Finding => ({ severity: 'error', code, message, evidence });
const info = (code: string, message: string, evidence = ''): Finding => ({ severity: 'info', code, message, evidence });

export function diagnosePod(f: PodNetnsFacts): Finding[] {
  if (f.hostNetwork)
    return [
      info(
        'host_network',
        `${f.podLabel} uses ${f.node}'s own network namespace (hostNetwork)`,
        'spec.hostNetwork: true',
      ),
    ];
  const out: Finding[] = [];
  if (f.netns === null) {
    out.push(
      err(
        'netns_not_found',
        `could not find ${f.podLabel}'s network namespace on ${f.node} (no crictl/docker sandbox, and no namespace holds ${f.podIP ?? 'its IP'})`,
        'searched crictl, docker and /var/run/netns',
      ),
    );
  } else {
    out.push(
      info('netns_found', `${f.podLabel}'s sandbox network namespace is ${f.netns} (found by ${f.foundBy})`, f.netns),
    );
  }
  if (f.addresses && f.podIP) {
    const holder = Object.entries(f.addresses).find(([, cidrs]) => cidrs.some((c) => c.split('/')[0] === f.podIP));
    if (!holder)
      out.push(
        err(
          'pod_ip_not_assigned',
          `${f.podIP} is not assigned to any interface inside ${f.podLabel}`,
          Object.entries(f.addresses)
            .map(([i, c]) => `${i}: ${c.join(', ') || '-'}`)
            .join('\n'),
        ),
      );
  }
  if (f.routesInPod) {
    const def = f.routesInPod.find((r) => r.destination === 'default' || r.destination === '0.0.0.0/0');
    if (!def)
      out.push(
        err(
          'pod_no_default_route',
          `${f.podLabel} has no default route: it can only reach its own interface`,
          f.routesInPod.map((r) => r.raw).join('\n') || '(empty route table)',
        ),
      );
    else if (def.gateway !== CALICO_POD_GATEWAY)
      out.push(
        info(
          'pod_gateway',
          `${f.podLabel}'s default route goes via ${def.gateway ?? def.device}, not Calico's ${CALICO_POD_GATEWAY}`,
          def.raw,
        ),
      );
  }
  for (const port of f.containerPorts) {
    const loopback = loopbackOnlyListener(f.listeners, port, f.podLabel);
    if (loopback) out.push(loopback);
  }
  if (f.hostLinks) {
    const cali = f.hostLinks.find((l) => l.name === f.caliInterface);
    if (!cali)
      out.push(
        err(
          'cali_missing',
          `${f.caliInterface}, the host side of ${f.podLabel}'s veth, does not exist on ${f.node}`,
          `no ${f.caliInterface} in ip link on ${f.node}`,
        ),
      );
    else if (!cali.up)
      out.push(err('cali_down', `${f.caliInterface} is down on ${f.node}`, `${f.caliInterface} state DOWN`));
  }
  if (f.podIP && f.hostLinks) {
    if (!f.hostRoute || f.hostRoute.device !== f.caliInterface) {
      out.push(
        err(
          'no_host_route',
          `${f.node} does not route ${f.podIP} to ${f.caliInterface}`,
          f.hostRoute?.raw ?? `no route matches ${f.podIP}`,
        ),
      );
    }
  }
  return out;
}
