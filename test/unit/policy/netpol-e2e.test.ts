/**
 * Truth tables from the upstream Kubernetes NetworkPolicy e2e suite, each case named as the e2e test is.
 * Source: github.com/kubernetes/kubernetes test/e2e/network/netpol/network_policy.go (policies and the
 * expected Reachability per test; ports 80/81, TCP/UDP/SCTP).
 */
import { describe, expect, it } from '@jest/globals';
import { expectAllExcept, netpol, reachability } from './netpol-model.ts';
import type { ConnectionProtocol } from '../../../src/policy/index.ts';

const ns = (id: string) => id.split('/')[0];
const podOf = (id: string) => id.split('/')[1];
const nsLabel = (n: string) => ({ matchLabels: { 'kubernetes.io/metadata.name': n } });

interface Case {
  e2e: string;
  policies: unknown[];
  port: number;
  protocol: ConnectionProtocol;
  denied: (from: string, to: string) => boolean;
}

const cases: Case[] = [
  {
    e2e: "should support a 'default-deny-ingress' policy",
    policies: [netpol('deny-ingress', 'x', { podSelector: {}, policyTypes: ['Ingress'] })],
    port: 80,
    protocol: 'TCP',
    denied: (_f, t) => ns(t) === 'x',
  },
  {
    e2e: "should support a 'default-deny-all' policy",
    policies: [netpol('deny-all', 'x', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] })],
    port: 80,
    protocol: 'TCP',
    denied: (f, t) => ns(t) === 'x' || ns(f) === 'x',
  },
  {
    e2e: 'should enforce policy to allow traffic from pods within server namespace based on PodSelector',
    policies: [
      netpol('x-a-allows-x-b', 'x', {
        podSelector: { matchLabels: { pod: 'a' } },
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }] }],
      }),
    ],
    port: 80,
    protocol: 'TCP',
    denied: (f, t) => t === 'x/a' && f !== 'x/b',
  },
  {
    e2e: 'should enforce policy to allow ingress traffic for a target',
    policies: [
      netpol('deny-all', 'x', { podSelector: {}, policyTypes: ['Ingress'] }),
      netpol('allow-all-to-a', 'x', {
        podSelector: { matchLabels: { pod: 'a' } },
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ podSelector: {}, namespaceSelector: {} }] }],
      }),
    ],
    port: 80,
    protocol: 'TCP',
    denied: (_f, t) => ns(t) === 'x' && t !== 'x/a',
  },
  {
    e2e: 'should enforce policy to allow ingress traffic from pods in all namespaces',
    policies: [
      netpol('allow-from-another-ns', 'x', {
        podSelector: { matchLabels: { pod: 'a' } },
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ namespaceSelector: { matchLabels: {} } }] }],
      }),
    ],
    port: 80,
    protocol: 'TCP',
    denied: () => false,
  },
  {
    e2e: 'should enforce policy to allow traffic only from a different namespace, based on NamespaceSelector',
    policies: [
      netpol('allow-client-a-via-ns-selector', 'x', {
        podSelector: { matchLabels: { pod: 'a' } },
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ namespaceSelector: nsLabel('y') }] }],
      }),
    ],
    port: 80,
    protocol: 'TCP',
    denied: (f, t) => t === 'x/a' && ns(f) !== 'y',
  },
  {
    e2e: 'should enforce policy based on PodSelector with MatchExpressions',
    policies: [
      netpol('x-a-allows-x-b', 'x', {
        podSelector: { matchLabels: { pod: 'a' } },
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ podSelector: { matchExpressions: [{ key: 'pod', operator: 'In', values: ['b'] }] } }] }],
      }),
    ],
    port: 80,
    protocol: 'TCP',
    denied: (f, t) => t === 'x/a' && f !== 'x/b',
  },
  {
    e2e: 'should enforce policy based on NamespaceSelector with MatchExpressions',
    policies: [
      netpol('allow-ns-y-match-selector', 'x', {
        podSelector: { matchLabels: { pod: 'a' } },
        policyTypes: ['Ingress'],
        ingress: [
          {
            from: [
              {
                namespaceSelector: {
                  matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['y'] }],
                },
              },
            ],
          },
        ],
      }),
    ],
    port: 80,
    protocol: 'TCP',
    denied: (f, t) => t === 'x/a' && ns(f) !== 'y',
  },
  {
    e2e: 'should enforce policy based on PodSelector or NamespaceSelector',
    policies: [
      netpol('allow-ns-y-match-selector', 'x', {
        podSelector: { matchLabels: { pod: 'a' } },
        policyTypes: ['Ingress'],
        ingress: [
          {
            from: [
              {
                namespaceSelector: {
                  matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['x'] }],
                },
              },
              { podSelector: { matchLabels: { pod: 'b' } } },
            ],
          },
        ],
      }),
    ],
    port: 80,
    protocol: 'TCP',
    denied: (f, t) => t === 'x/a' && (f === 'x/a' || f === 'x/c'),
  },
  {
    e2e: 'should enforce policy based on PodSelector and NamespaceSelector',
    policies: [
      netpol('allow-ns-y-podselector-and-nsselector', 'x', {
        podSelector: { matchLabels: { pod: 'a' } },
        policyTypes: ['Ingress'],
        ingress: [
          {
            from: [
              {
                namespaceSelector: {
                  matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['x'] }],
                },
                podSelector: { matchLabels: { pod: 'b' } },
              },
            ],
          },
        ],
      }),
    ],
    port: 80,
    protocol: 'TCP',
    denied: (f, t) => t === 'x/a' && !(podOf(f) === 'b' && ns(f) !== 'x'),
  },
  {
    e2e: 'should enforce policy based on Ports',
    policies: [
      netpol('allow-ingress-on-port-81', 'x', {
        podSelector: { matchLabels: { pod: 'a' } },
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ namespaceSelector: nsLabel('y') }], ports: [{ port: 81 }] }],
      }),
    ],
    port: 80,
    protocol: 'TCP',
    denied: (_f, t) => t === 'x/a',
  },
  {
    e2e: 'should enforce policy based on Ports (port 81 from y is allowed)',
    policies: [
      netpol('allow-ingress-on-port-81', 'x', {
        podSelector: { matchLabels: { pod: 'a' } },
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ namespaceSelector: nsLabel('y') }], ports: [{ port: 81 }] }],
      }),
    ],
    port: 81,
    protocol: 'TCP',
    denied: (f, t) => t === 'x/a' && ns(f) !== 'y',
  },
  {
    e2e: 'should allow ingress access on one named port',
    policies: [
      netpol('allow-all-ingress-on-port-81', 'x', {
        podSelector: {},
        policyTypes: ['Ingress'],
        ingress: [{ ports: [{ port: 'serve-81-tcp' }] }],
      }),
    ],
    port: 81,
    protocol: 'TCP',
    denied: () => false,
  },
  {
    e2e: 'should allow ingress access on one named port (port 80 stays closed)',
    policies: [
      netpol('allow-all-ingress-on-port-81', 'x', {
        podSelector: {},
        policyTypes: ['Ingress'],
        ingress: [{ ports: [{ port: 'serve-81-tcp' }] }],
      }),
    ],
    port: 80,
    protocol: 'TCP',
    denied: (_f, t) => ns(t) === 'x',
  },
  {
    e2e: 'should allow egress access on one named port',
    policies: [
      netpol('allow-egress', 'x', {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [{ ports: [{ port: 'serve-80-tcp' }] }],
      }),
    ],
    port: 81,
    protocol: 'TCP',
    denied: (f) => ns(f) === 'x',
  },
  {
    e2e: 'should support allow-all policy',
    policies: [netpol('allow-all', 'x', { podSelector: {}, policyTypes: ['Ingress'], ingress: [{}] })],
    port: 81,
    protocol: 'TCP',
    denied: () => false,
  },
  {
    e2e: 'should enforce multiple, stacked policies with overlapping podSelectors',
    policies: [
      netpol('allow-ingress-port-80', 'x', {
        podSelector: { matchLabels: { pod: 'a' } },
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ namespaceSelector: nsLabel('y') }], ports: [{ port: 'serve-80-tcp' }] }],
      }),
      netpol('allow-ingress-port-81', 'x', {
        podSelector: { matchLabels: { pod: 'a' } },
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ namespaceSelector: nsLabel('y') }], ports: [{ port: 'serve-81-tcp' }] }],
      }),
    ],
    port: 81,
    protocol: 'TCP',
    denied: (f, t) => t === 'x/a' && ns(f) !== 'y',
  },
  {
    e2e: 'should support denying of egress traffic on the client side (even if the server explicitly allows this traffic)',
    policies: [
      netpol('allow-to-ns-y-z-pod-a', 'x', {
        podSelector: { matchLabels: { pod: 'a' } },
        policyTypes: ['Egress'],
        egress: [
          { to: [{ namespaceSelector: nsLabel('y'), podSelector: { matchLabels: { pod: 'a' } } }] },
          { to: [{ namespaceSelector: nsLabel('z'), podSelector: { matchLabels: { pod: 'a' } } }] },
        ],
      }),
      netpol('allow-from-xa-on-ya-match-selector', 'y', {
        podSelector: { matchLabels: { pod: 'a' } },
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ namespaceSelector: nsLabel('x'), podSelector: { matchLabels: { pod: 'a' } } }] }],
      }),
      netpol('allow-from-xa-on-yb-match-selector', 'y', {
        podSelector: { matchLabels: { pod: 'b' } },
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ namespaceSelector: nsLabel('x'), podSelector: { matchLabels: { pod: 'a' } } }] }],
      }),
    ],
    port: 80,
    protocol: 'TCP',
    denied: (f, t) => (f === 'x/a' && t !== 'y/a' && t !== 'z/a') || ((t === 'y/a' || t === 'y/b') && f !== 'x/a'),
  },
  {
    e2e: 'should enforce except clause while egress access to server in CIDR block',
    policies: [
      netpol('deny-client-a-via-except-cidr-egress-rule', 'x', {
        podSelector: { matchLabels: { pod: 'a' } },
        policyTypes: ['Egress'],
        egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/16', except: ['10.0.0.11/32'] } }] }],
      }),
    ],
    port: 80,
    protocol: 'TCP',
    denied: (f, t) => f === 'x/a' && t === 'x/b',
  },
  {
    e2e: 'should not allow access by TCP when a policy specifies only UDP',
    policies: [
      netpol('allow-only-udp-ingress-on-port-81', 'x', {
        podSelector: { matchLabels: { pod: 'a' } },
        policyTypes: ['Ingress'],
        ingress: [{ ports: [{ port: 81, protocol: 'UDP' }] }],
      }),
    ],
    port: 81,
    protocol: 'TCP',
    denied: (_f, t) => t === 'x/a',
  },
  {
    e2e: 'should enforce ingress policy allowing any port traffic to a server on a specific protocol',
    policies: [
      netpol('allow-ingress-by-proto', 'x', {
        podSelector: { matchLabels: { pod: 'a' } },
        policyTypes: ['Ingress'],
        ingress: [{ ports: [{ protocol: 'TCP' }] }],
      }),
    ],
    port: 81,
    protocol: 'UDP',
    denied: (_f, t) => t === 'x/a',
  },
  {
    e2e: 'should allow egress access to server in CIDR block (endPort range)',
    policies: [
      netpol('allow-egress-port-range', 'x', {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [{ ports: [{ port: 80, endPort: 81 }] }],
      }),
    ],
    port: 81,
    protocol: 'TCP',
    denied: () => false,
  },
  {
    e2e: 'should support a default-deny-ingress policy on SCTP',
    policies: [netpol('deny-ingress', 'x', { podSelector: {}, policyTypes: ['Ingress'] })],
    port: 80,
    protocol: 'SCTP',
    denied: (_f, t) => ns(t) === 'x',
  },
];

describe('the Kubernetes NetworkPolicy e2e truth tables', () => {
  it.each(cases)('$e2e', ({ policies, port, protocol, denied }) => {
    expect([...reachability(policies, port, protocol)].sort()).toEqual([...expectAllExcept(denied)].sort());
  });
});
