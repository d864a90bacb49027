/**
 * Cases from the cyclonus policy matcher's tests, with their policies as fixtures.
 * Source: github.com/mattfenwick/cyclonus pkg/matcher/policy_tests.go.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import {
  evaluateConnection,
  normalizePolicies,
  type ConnectionProtocol,
  type Endpoint,
} from '../../../src/policy/index.ts';

const load = (name: string) =>
  normalizePolicies([parse(readFileSync(new URL(`fixtures/${name}`, import.meta.url), 'utf8'))]).policies;
const podIn = (
  namespace: string,
  ip: string,
  labels: Record<string, string> = {},
  containerPorts: { name?: string; port: number; protocol: string }[] = [],
): Endpoint => ({
  kind: 'pod',
  name: labels.pod ?? 'p',
  namespace,
  ip,
  labels,
  serviceAccount: 'default',
  containerPorts,
});
const namespaces = { x: { ns: 'x' }, y: { ns: 'y' } };
const allowed = (file: string, src: Endpoint, dst: Endpoint, port: number, protocol: ConnectionProtocol) =>
  evaluateConnection({ src, dst, namespaces, port, protocol, policies: load(file) }).allowed;

describe('cyclonus matcher cases', () => {
  it('allowing a protocol implicitly denies other protocols from pods (TCP denied, SCTP allowed)', () => {
    expect(allowed('cyclonus-allow-all-on-sctp.yaml', podIn('y', '1.2.3.4'), podIn('x', '1.2.3.5'), 103, 'TCP')).toBe(
      false,
    );
    expect(allowed('cyclonus-allow-all-on-sctp.yaml', podIn('y', '1.2.3.4'), podIn('x', '1.2.3.5'), 103, 'SCTP')).toBe(
      true,
    );
  });

  it('allowing a protocol implicitly denies other protocols from ips', () => {
    expect(
      allowed(
        'cyclonus-allow-all-on-sctp.yaml',
        { kind: 'external', ip: '1.2.3.4' },
        podIn('x', '1.2.3.5'),
        103,
        'TCP',
      ),
    ).toBe(false);
    expect(
      allowed(
        'cyclonus-allow-all-on-sctp.yaml',
        { kind: 'external', ip: '1.2.3.4' },
        podIn('x', '1.2.3.5'),
        103,
        'SCTP',
      ),
    ).toBe(true);
  });

  it('a policy allowing egress to an ipBlock allows ips in the cidr (host bits in the cidr are masked)', () => {
    expect(
      allowed(
        'cyclonus-vary-egress.yaml',
        podIn('x', '1.2.3.4', { pod: 'a' }),
        podIn('y', '192.168.242.249', { pod: 'b' }),
        80,
        'TCP',
      ),
    ).toBe(true);
    expect(
      allowed(
        'cyclonus-vary-egress.yaml',
        podIn('x', '1.2.3.4', { pod: 'a' }),
        { kind: 'external', ip: '192.168.243.1' },
        80,
        'TCP',
      ),
    ).toBe(false);
    expect(
      allowed(
        'cyclonus-vary-egress.yaml',
        podIn('x', '1.2.3.4', { pod: 'a' }),
        { kind: 'external', ip: '8.8.8.8' },
        53,
        'UDP',
      ),
    ).toBe(true);
  });

  it('a policy allowing ingress to a named port allows that port and no other', () => {
    const dst = podIn('x', '192.168.242.249', { pod: 'a' }, [{ name: 'port-hello', port: 8080, protocol: 'TCP' }]);
    expect(allowed('cyclonus-named-port.yaml', { kind: 'external', ip: '1.2.3.4' }, dst, 8080, 'TCP')).toBe(true);
    expect(allowed('cyclonus-named-port.yaml', { kind: 'external', ip: '1.2.3.4' }, dst, 8081, 'TCP')).toBe(false);
  });
});
