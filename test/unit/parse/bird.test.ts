import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { bgpSessions, parseBirdProtocols } from '../../../src/parse/bird.ts';

const fixture = (name: string) =>
  readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')
    .split('\n')
    .filter((l, i) => !(i === 0 && l.startsWith('# Source:')))
    .join('\n');

describe('BIRD show protocols', () => {
  it('reads the raw control-socket reply of a Calico node (BIRD 1.5, reply codes) and the peer address from Node_10_161_1_1', () => {
    const parsed = parseBirdProtocols(fixture('birdc-calicoctl-1281-raw-socket.txt'));
    expect(parsed.version).toBe('BIRD 1.5.0');
    expect(parsed.protocols.map((p) => [p.name, p.proto, p.state])).toEqual([
      ['kernel1', 'Kernel', 'up'],
      ['device1', 'Device', 'up'],
      ['direct1', 'Direct', 'up'],
      ['Node_10_161_1_1', 'BGP', 'up'],
    ]);
    expect(bgpSessions(parsed)).toEqual([
      expect.objectContaining({
        neighborAddress: '10.161.1.1',
        session: 'Established',
        since: '05:21:27',
        lastError: null,
      }),
    ]);
    expect(parsed.unparsed).toEqual(['show protocols']);
  });

  it('reads BIRD 1.6 with a Passive session and the `all` details (routes imported and exported, BGP state)', () => {
    const parsed = parseBirdProtocols(fixture('birdc-birdseye-5-bird16.txt'));
    expect(parsed.version).toBe('BIRD 1.6.3');
    const sessions = bgpSessions(parsed);
    expect(sessions.map((s) => [s.name, s.state, s.session])).toEqual([
      ['AS13335_1', 'up', 'Established'],
      ['AS17054_1', 'start', 'Passive'],
      ['AS20326_1', 'up', 'Established'],
      ['AS20326_1', 'up', 'Established'],
    ]);
    expect(sessions[3]).toMatchObject({
      bgpState: 'Established',
      routesImported: 3,
      routesExported: 1,
      neighborAddress: null,
    });
    expect(parsed.unparsed).toEqual([]);
  });

  it('keeps what follows the BGP state in the info column as the last error (a mesh peer in Active)', () => {
    const [peer] = bgpSessions(parseBirdProtocols(fixture('birdc-calicoctl-819-mesh-active.txt')));
    expect(peer).toMatchObject({
      name: 'Mesh_10_0_5_102',
      state: 'start',
      session: 'Active',
      lastError: 'Socket: Connection closed',
      neighborAddress: '10.0.5.102',
    });
  });

  it('reads BIRD 2 columns (Name Proto Table State Since Info, --- tables, millisecond times) and `all` details', () => {
    const text = [
      'BIRD 2.0.12 ready.',
      'Name       Proto      Table      State  Since         Info',
      'device1    Device     ---        up     10:22:31.123  ',
      'Mesh_10_254_0_12 BGP        ---        start  10:22:35.456  Connect       Socket: Connection refused',
      '  BGP state:          Connect',
      '    Neighbor address: 10.254.0.12',
      '    Neighbor AS:      64512',
      '    Last error:       Socket: Connection refused',
    ].join('\n');
    const [peer] = bgpSessions(parseBirdProtocols(text));
    expect(peer).toMatchObject({
      table: '---',
      since: '10:22:35.456',
      session: 'Connect',
      neighborAddress: '10.254.0.12',
      neighborAs: 64512,
      lastError: 'Socket: Connection refused',
    });
  });

  it('keeps lines it cannot read', () => {
    expect(
      parseBirdProtocols(
        'Unable to connect to server control socket (/var/run/calico/bird.ctl): No such file or directory',
      ).unparsed,
    ).toHaveLength(1);
  });
});

describe('BIRD 2 in the lab (routing: bgp)', () => {
  it("reads the mesh as birdcl prints it over the node's sshd", () => {
    const parsed = parseBirdProtocols(fixture('birdcl-lab-bird2-established.txt'));
    expect(parsed.version).toBe('BIRD 2.0.12');
    expect(bgpSessions(parsed).map((s) => [s.name, s.neighborAddress, s.session])).toEqual([
      ['Mesh_10_254_1_12', '10.254.1.12', 'Established'],
      ['Mesh_10_254_1_13', '10.254.1.13', 'Established'],
    ]);
    expect(parsed.protocols.map((p) => p.proto)).toEqual(['Device', 'Kernel', 'Static', 'BGP', 'BGP']);
    expect(parsed.unparsed).toEqual([]);
  });

  it("reads BIRD6's mesh without `all`: the IPv6 peer address from Calico's protocol name (each : written _)", () => {
    const parsed = parseBirdProtocols(fixture('birdcl-lab-bird6-established.txt'));
    expect(bgpSessions(parsed).map((s) => [s.name, s.neighborAddress, s.session])).toEqual([
      ['Mesh_fd69_58aa_4482__c', 'fd69:58aa:4482::c', 'Established'],
      ['Mesh_fd69_58aa_4482__d', 'fd69:58aa:4482::d', 'Established'],
    ]);
    expect(parsed.unparsed).toEqual([]);
    // A full address as confd's bird6 template names it (calico issue #2458), and a name that is no address.
    const named = (name: string) =>
      bgpSessions(parseBirdProtocols(`${name} BGP master up 05:24:25 Established`))[0]?.neighborAddress;
    expect(named('Mesh_2002_92a_8f7a_701_250_56ff_fe8d_be72')).toBe('2002:92a:8f7a:701:250:56ff:fe8d:be72');
    expect(named('Mesh_deadbeef')).toBeNull();
  });

  it('reads a peer whose BIRD was stopped: start / Active, Socket: Connection refused', () => {
    const parsed = parseBirdProtocols(fixture('birdcl-lab-bird2-peer-down.txt'));
    expect(bgpSessions(parsed)).toEqual([
      expect.objectContaining({
        state: 'start',
        session: 'Active',
        bgpState: 'Active',
        lastError: 'Socket: Connection refused',
        neighborAddress: '10.254.1.12',
        neighborAs: 64512,
      }),
    ]);
    expect(parsed.unparsed).toEqual([]);
  });
});
