import { describe, expect, it } from '@jest/globals';
import { parseIpRouteText } from '../../../src/parse/route-text.ts';
import { routesFromIpJson } from '../../../src/parse/ip-json.ts';
import { parseIpRule } from '../../../src/parse/ip-rule.ts';
import { decisionEvidence, lookupRoute, routeDecision } from '../../../src/ops/route-lookup.ts';
import { publishedFixture } from './published-fixture.ts';

describe('IPv6 routes as Calico programs them (calico#7638)', () => {
  const { routes, unparsed } = parseIpRouteText(publishedFixture('calico-7638-ip-6-route-vxlan-v6.txt'));

  it('reads vxlan-v6.calico block routes, cali /128 routes and the blackhole on dev lo', () => {
    expect(unparsed).toEqual([]);
    expect(routes).toHaveLength(11);
    expect(routes[2]).toMatchObject({
      destination: 'fc00::502b:1891:83a0:3900/120',
      gateway: 'fc00::502b:1891:83a0:3900',
      device: 'vxlan-v6.calico',
      type: 'unicast',
    });
    expect(routes.at(-1)).toMatchObject({
      destination: 'fc00::1:be62:c02e:8d8b:e00/120',
      device: 'lo',
      type: 'blackhole',
      protocol: '80',
    });
  });

  it('looks IPv6 pod addresses up by longest prefix: a local pod by its cali /128, a remote one through vxlan-v6.calico', () => {
    expect(lookupRoute(routes, 'fc00::1:be62:c02e:8d8b:e45')?.device).toBe('cali5303040d7b7');
    expect(lookupRoute(routes, 'fc00::1:be62:c02e:8d8b:e99')?.type).toBe('blackhole');
    expect(lookupRoute(routes, 'fc00::5cb3:7ce7:b63:8201')?.device).toBe('vxlan-v6.calico');
    expect(lookupRoute(routes, '10.0.0.1')).toBeNull();
  });
});

describe('policy routing: other tables kept apart from main', () => {
  it('reads `table NAME` from ip route show table all and keeps main-table routes without one (calico#5823)', () => {
    const { routes, unparsed } = parseIpRouteText(publishedFixture('calico-5823-ip-route-table-all.txt'));
    expect(unparsed).toEqual([]);
    expect(routes.filter((r) => r.table === 'mgmt1').map((r) => r.destination)).toEqual(['default', '129.217.31.0/24']);
    expect(routes.find((r) => r.raw.startsWith('blackhole'))).toMatchObject({
      destination: '192.168.69.192/26',
      protocol: '80',
    });
    expect(routes.find((r) => r.raw.startsWith('blackhole'))!.table).toBeUndefined();
    // Without rules only main counts: the default of table ibgw2_1 (the last one printed) is not picked.
    expect(lookupRoute(routes, '10.96.0.1')?.raw).toBe('default via 129.217.31.33 dev eno1 proto static metric 400');
    expect(lookupRoute(routes, '192.168.69.194')?.device).toBe('califefb91b4a21');
  });

  it('gives table and proto from ip -j route show table all the same way, and prints `table 100` back (lab)', () => {
    const json = routesFromIpJson(publishedFixture('lab-ip-j-6-route-table-all.json'));
    const text = parseIpRouteText(publishedFixture('lab-ip-6-route-table-all.txt')).routes;
    expect(json.map((r) => [r.destination, r.table ?? 'main', r.type])).toEqual(
      text.map((r) => [r.destination, r.table ?? 'main', r.type]),
    );
    expect(json[0]!.raw).toBe('fd00:10:244::80/122 via fd00:254::13 dev eth0 table 100 metric 1024');
    expect(json.filter((r) => r.table === 'local')).toHaveLength(4);
  });

  it('reads ip rule, text and JSON alike (lab)', () => {
    const text = parseIpRule(publishedFixture('lab-ip-6-rule.txt'));
    const json = parseIpRule(publishedFixture('lab-ip-j-6-rule.json'));
    expect(text.unparsed).toEqual([]);
    const facts = (r: ReturnType<typeof parseIpRule>) => r.rules.map(({ raw: _raw, ...f }) => f);
    expect(facts(json)).toEqual(facts(text));
    expect(text.rules.map((r) => [r.priority, r.from, r.table])).toEqual([
      [0, null, 'local'],
      [100, 'fd00:10:244::/56', '100'],
      [32766, null, 'main'],
    ]);
  });

  it('takes a route of another table only where a rule sends the packet there (lab: from the pod range to table 100)', () => {
    const routes = routesFromIpJson(publishedFixture('lab-ip-j-6-route-table-all.json'));
    const { rules } = parseIpRule(publishedFixture('lab-ip-6-rule.txt'));
    // Main has no route to fd00:10:244::80/122; table 100 has one.
    expect(lookupRoute(routes, 'fd00:10:244::81')).toBeNull();
    expect(lookupRoute(routes, 'fd00:10:244::81', { rules })).toBeNull();
    expect(lookupRoute(routes, 'fd00:10:244::81', { rules, from: 'fd00:10:244::5' })?.raw).toBe(
      'fd00:10:244::80/122 via fd00:254::13 dev eth0 table 100 metric 1024',
    );
    // A packet from the node itself (not in the rule's range) stays in main.
    expect(lookupRoute(routes, 'fd00:10:244::41', { rules, from: 'fd00:254::11' })?.device).toBe('eth0');
    // Rules that need a mark or an interface are not guessed at.
    expect(
      lookupRoute(routes, 'fd00:10:244::81', {
        rules: [
          {
            priority: 10,
            from: null,
            to: null,
            not: false,
            conditional: ['fwmark 0x1'],
            table: '100',
            action: 'lookup',
            raw: '',
          },
          ...rules,
        ],
      }),
    ).toBeNull();
  });
});

describe('policy routing decisions: selectors, rule actions and tables (lab)', () => {
  const routes = routesFromIpJson(publishedFixture('lab-ip-j-route-table-all-policy-blackhole.json'));
  const text = parseIpRule(publishedFixture('lab-ip-rule-policy-blackhole.txt'));
  const json = parseIpRule(publishedFixture('lab-ip-j-rule-policy-blackhole.json'));
  const rules = text.rules;

  it('reads fwmark with its mask, iif and a rule-level unreachable the same from text and JSON', () => {
    expect(text.unparsed).toEqual([]);
    const facts = (r: ReturnType<typeof parseIpRule>) => r.rules.map(({ raw: _raw, ...f }) => f);
    expect(facts(json)).toEqual(facts(text));
    // The evidence reads the same whichever form the node answered in.
    expect(json.rules.map((r) => r.raw)).toEqual(text.rules.map((r) => r.raw));
    expect(rules[1]).toMatchObject({ priority: 90, conditional: ['fwmark 0x100000/0x100000'], action: 'unreachable' });
    expect(rules[2]).toMatchObject({
      priority: 100,
      to: '10.244.0.0/16',
      conditional: ['iif vxlan.calico'],
      table: '200',
    });
  });

  it("sends pod traffic arriving on vxlan.calico to table 200's blackhole, and names the rule", () => {
    const d = routeDecision(routes, '10.244.0.2', { rules, from: '10.244.0.66', iif: 'vxlan.calico', fwmark: 0 });
    expect(d.rule?.priority).toBe(100);
    expect(d.route).toMatchObject({ type: 'blackhole', destination: '10.244.0.0/16', table: '200' });
    expect(decisionEvidence(d)).toBe(
      'ip rule: 100: from all to 10.244.0.0/16 iif vxlan.calico lookup 200\nblackhole 10.244.0.0/16 table 200',
    );
  });

  it("leaves the node's own packets (iif lo) and a source pod's (iif cali) to main, and passes over an unknown iif", () => {
    const own = routeDecision(routes, '10.244.0.2', { rules, from: '10.254.0.11', iif: 'lo', fwmark: 0 });
    expect(own.route?.device).toBe('calib8c6d5407e3');
    expect(own.rule?.table).toBe('main');
    expect(decisionEvidence(own)).toBe(own.route!.raw);
    expect(routeDecision(routes, '10.244.0.2', { rules, fwmark: 0 }).route?.device).toBe('calib8c6d5407e3');
  });

  it('refuses a marked packet with the rule-level unreachable', () => {
    const d = routeDecision(routes, '10.244.0.2', { rules, iif: 'lo', fwmark: 0x100000 });
    expect(d).toMatchObject({ route: null, refused: 'unreachable', rule: { priority: 90 } });
    expect(decisionEvidence(d)).toBe('ip rule: 90: from all fwmark 0x100000/0x100000 unreachable');
    // A mark outside the mask does not match.
    expect(routeDecision(routes, '10.244.0.2', { rules, iif: 'lo', fwmark: 0x4000 }).refused).toBeNull();
  });

  it("follows Calico's WireGuard rule: unmarked packets look up table 1, marked ones pass on (felix#2818)", () => {
    const { rules: wg } = parseIpRule(publishedFixture('felix-2818-ip-rule-wireguard.txt'));
    const withWg = [...wg, ...rules.filter((r) => r.priority !== 90)];
    const table1 = [...routes, { ...routes.find((r) => r.destination === '10.244.0.64/26')!, table: '1' }];
    table1[table1.length - 1] = {
      ...table1.at(-1)!,
      device: 'wireguard.cali',
      raw: '10.244.0.64/26 dev wireguard.cali table 1',
    };
    expect(routeDecision(table1, '10.244.0.70', { rules: withWg, iif: 'lo', fwmark: 0 }).route?.device).toBe(
      'wireguard.cali',
    );
    expect(routeDecision(table1, '10.244.0.70', { rules: withWg, iif: 'lo', fwmark: 0x100000 }).route?.device).toBe(
      'vxlan.calico',
    );
  });
});
