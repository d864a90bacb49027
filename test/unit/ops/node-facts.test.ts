import { describe, expect, it } from '@jest/globals';
import {
  findPodNetns,
  inspectNode,
  inspectServiceRules,
  listenersIn,
  readConntrack,
  readInterfaceManagers,
  testConnect,
} from '../../../src/ops/node-facts.ts';
import {
  addressesFromIpJson,
  linksFromIpJson,
  neighboursFromIpJson,
  routesFromIpJson,
} from '../../../src/parse/ip-json.ts';
import { listenersFromSs, listeningPorts } from '../../../src/parse/listeners.ts';
import { sysctlValues } from '../../../src/parse/sysctl.ts';
import { netnsFromCrictlInspectp } from '../../../src/parse/runtime-sandbox.ts';
import { inNetns, WHICH_SCRIPT } from '../../../src/node/catalogue.ts';
import type { CommandResult, NodeCommand, NodeShell } from '../../../src/node/types.ts';
import { publishedFixture } from '../parse/published-fixture.ts';
import { commandResult } from '../../support/command-result.ts';

// `ip -j -4 route show table main` on a lab node (iproute2 6.1).
const routes =
  '[{"dst":"default","gateway":"10.254.0.254","dev":"eth0","flags":[]},{"type":"blackhole","dst":"10.244.0.0/26","protocol":"80","flags":[]},{"dst":"10.244.0.1","dev":"calid73126c1689","scope":"link","flags":[]},{"dst":"10.244.0.64/26","gateway":"10.244.0.64","dev":"vxlan.calico","protocol":"80","flags":["onlink"]},{"dst":"10.254.0.0/24","dev":"eth0","protocol":"kernel","scope":"link","prefsrc":"10.254.0.11","flags":[]}]';

describe('node output to facts', () => {
  it('prints routes from ip -j exactly as `ip route` does', () => {
    expect(routesFromIpJson(routes).map((r) => r.raw)).toEqual([
      'default via 10.254.0.254 dev eth0',
      'blackhole 10.244.0.0/26 proto 80',
      '10.244.0.1 dev calid73126c1689 scope link',
      '10.244.0.64/26 via 10.244.0.64 dev vxlan.calico proto 80 onlink',
      '10.254.0.0/24 dev eth0 proto kernel scope link src 10.254.0.11',
    ]);
    expect(routesFromIpJson(routes)[1]).toMatchObject({
      type: 'blackhole',
      destination: '10.244.0.0/26',
      device: null,
    });
  });

  it('reads link state from the UP flag (a VXLAN device reports operstate UNKNOWN while up)', () => {
    const links = linksFromIpJson(
      '[{"ifname":"vxlan.calico","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1450,"operstate":"UNKNOWN"},{"ifname":"eth1","flags":["BROADCAST","MULTICAST"],"mtu":1500,"operstate":"DOWN"}]',
    );
    expect(links).toEqual([
      { name: 'vxlan.calico', up: true, mtu: 1450 },
      { name: 'eth1', up: false, mtu: 1500 },
    ]);
  });

  it('collects IPv4 addresses per interface', () => {
    expect(
      addressesFromIpJson(
        '[{"ifname":"lo","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8},{"family":"inet6","local":"::1","prefixlen":128}]},{"ifname":"eth0","addr_info":[{"family":"inet","local":"10.244.0.1","prefixlen":32}]}]',
      ),
    ).toEqual({ lo: ['127.0.0.1/8'], eth0: ['10.244.0.1/32'] });
  });

  it('reads listening ports from ss and values from sysctl', () => {
    expect(
      listeningPorts(
        listenersFromSs(
          'LISTEN 0      511        0.0.0.0:10256 0.0.0.0:*\nLISTEN 0      511              [::]:31080    [::]:*\nLISTEN 0      128    10.254.0.11:22    0.0.0.0:*\n',
        ),
      ),
    ).toEqual([22, 10256, 31080]);
    expect(sysctlValues('net.ipv4.ip_forward = 1\nnet.ipv4.conf.all.rp_filter = 2\n')).toEqual({
      'net.ipv4.ip_forward': '1',
      'net.ipv4.conf.all.rp_filter': '2',
    });
  });
});

describe('test connection', () => {
  function shellAnswering(result: Partial<CommandResult>, seen: NodeCommand[]): NodeShell {
    return {
      async run(node, command) {
        seen.push(command);
        return commandResult(node.name, command.argv, result);
      },
      async capture() {
        throw new Error('unused');
      },
      async close() {},
    };
  }
  const node = { name: 'k8s-node2', address: '10.254.0.12' };

  it('passes the address and port as positional arguments to a constant script, never inside it', async () => {
    const seen: NodeCommand[] = [];
    const r = await testConnect(
      shellAnswering({ stdout: 'connected\n' }, seen),
      node,
      'cni-1234',
      '10.244.0.2',
      80,
      AbortSignal.timeout(1000),
    );
    expect(r).toEqual({ ok: true, detail: 'connected' });
    expect(seen[0]!.argv).toEqual([
      'ip',
      'netns',
      'exec',
      'cni-1234',
      'timeout',
      '3',
      'bash',
      '-c',
      'exec 3<>"/dev/tcp/$1/$2" && echo connected',
      'k8snet-connect',
      '10.244.0.2',
      '80',
    ]);
  });

  it('refuses a hostile address or netns before anything runs', async () => {
    const seen: NodeCommand[] = [];
    await expect(
      testConnect(shellAnswering({}, seen), node, 'cni-1;reboot', '10.244.0.2', 80, AbortSignal.timeout(1000)),
    ).rejects.toThrow(/not a network namespace name/);
    await expect(
      testConnect(shellAnswering({}, seen), node, null, '$(id)', 80, AbortSignal.timeout(1000)),
    ).rejects.toThrow(/not an IP address/);
    expect(seen).toEqual([]);
  });

  it('says connection refused or no answer', async () => {
    expect(
      await testConnect(
        shellAnswering(
          {
            exitCode: 1,
            stderr: 'bash: connect: Connection refused\nbash: line 1: /dev/tcp/10.244.0.2/80: Connection refused\n',
          },
          [],
        ),
        node,
        null,
        '10.244.0.2',
        80,
        AbortSignal.timeout(1000),
      ),
    ).toEqual({ ok: false, detail: 'Connection refused' });
    expect(
      await testConnect(shellAnswering({ exitCode: 124 }, []), node, null, '10.244.0.2', 80, AbortSignal.timeout(1000)),
    ).toEqual({ ok: false, detail: 'no answer within 3 s' });
  });
});

describe('a dropped SSH connection', () => {
  const node = { name: 'k8s-node1', address: '10.254.0.11' };
  function flakyShell(failures: Partial<CommandResult>[], seen: string[]): NodeShell {
    return {
      async run(n, command) {
        seen.push(command.argv.join(' '));
        const failure = failures.shift();
        return {
          node: n.name,
          argv: command.argv,
          stdout: failure ? '' : '1000\n',
          stderr: '',
          exitCode: 0,
          timedOut: false,
          truncated: false,
          durationMs: 1,
          ...failure,
        };
      },
      async capture() {
        throw new Error('unused');
      },
      async close() {},
    };
  }

  const ss = 'ip netns exec cni-1 ss -H -lntp';
  const netstat = 'ip netns exec cni-1 netstat -lntp';

  it('runs a read-only command once more when its session ended without an exit status, and only once', async () => {
    const seen: string[] = [];
    await listenersIn(flakyShell([{ exitCode: null }], seen), node, 'cni-1', AbortSignal.timeout(1000));
    expect(seen).toEqual([ss, ss]);
    const twice: string[] = [];
    await listenersIn(
      flakyShell([{ exitCode: null }, { exitCode: null }], twice),
      node,
      'cni-1',
      AbortSignal.timeout(1000),
    );
    // Dropped twice: ss counts as failed and the netstat fallback runs.
    expect(twice).toEqual([ss, ss, netstat]);
  });

  it('does not run again a command that was killed, timed out or exited non-zero', async () => {
    for (const failure of [{ exitCode: null, signal: 'TERM' }, { exitCode: 124, timedOut: true }, { exitCode: 1 }]) {
      const seen: string[] = [];
      await listenersIn(flakyShell([failure], seen), node, 'cni-1', AbortSignal.timeout(1000));
      expect(seen).toEqual([ss, netstat]);
    }
  });
});

describe('nodes with older tools', () => {
  const node = { name: 'old-node', address: '10.30.0.206' };
  // What an iproute2 older than 4.13 and a net-tools-only node answer.
  function oldShell(options: { ip: boolean }): NodeShell {
    return {
      async run(n, command) {
        const line = command.argv.join(' ');
        const result = (stdout: string, exitCode = 0, stderr = '') => ({
          node: n.name,
          argv: command.argv,
          stdout,
          stderr,
          exitCode,
          timedOut: false,
          truncated: false,
          durationMs: 1,
        });
        if (command.argv[0] === 'ip' && !options.ip) return result('', 127, 'bash: ip: command not found');
        if (line.startsWith('ip -j')) return result('', 255, 'Option "-j" is unknown, try "ip -help".');
        if (line === 'ip -4 route show table main')
          return result(
            'default via 10.30.0.1 dev ens5 proto dhcp metric 100\nblackhole 192.168.226.64/26 proto bird\n192.168.133.192/26 via 10.30.0.56 dev tunl0 proto bird onlink\n',
          );
        if (line === 'ip -o link show')
          return result(
            '3: tunl0@NONE: <NOARP,UP,LOWER_UP> mtu 1480 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\\    link/ipip 0.0.0.0 brd 0.0.0.0\n',
          );
        if (line === 'route -n')
          return result(
            'Kernel IP routing table\nDestination     Gateway         Genmask         Flags Metric Ref    Use Iface\n0.0.0.0         10.30.0.1       0.0.0.0         UG    100    0        0 ens5\n',
          );
        return result('', 1, 'not available');
      },
      async capture() {
        throw new Error('unused');
      },
      async close() {},
    };
  }

  it('falls back to `ip route` text and `ip -o link` when ip has no -j', async () => {
    const facts = await inspectNode(oldShell({ ip: true }), node, AbortSignal.timeout(1000));
    expect(facts.error).toBeNull();
    expect(facts.routes!.map((r) => r.raw)).toEqual([
      'default via 10.30.0.1 dev ens5 proto dhcp metric 100',
      'blackhole 192.168.226.64/26 proto bird',
      '192.168.133.192/26 via 10.30.0.56 dev tunl0 proto bird onlink',
    ]);
    expect(facts.links).toEqual([{ name: 'tunl0', up: true, mtu: 1480 }]);
  });

  it('falls back to `route -n` when there is no ip command at all', async () => {
    const facts = await inspectNode(oldShell({ ip: false }), node, AbortSignal.timeout(1000));
    expect(facts.routes!.map((r) => r.raw)).toEqual(['default via 10.30.0.1 dev ens5 metric 100']);
    expect(facts.error).toBeNull();
    expect(facts.links).toBeNull();
  });

  it('reads netstat listings like ss ones', () => {
    expect(
      listeningPorts(
        listenersFromSs(
          'Active Internet connections (only servers)\nProto Recv-Q Send-Q Local Address           Foreign Address         State\ntcp        0      0 0.0.0.0:31080           0.0.0.0:*               LISTEN\ntcp6       0      0 :::10256                :::*                    LISTEN\n',
        ),
      ),
    ).toEqual([10256, 31080]);
  });
});

describe("finding a pod's network namespace through the runtime", () => {
  // Trimmed `crictl inspectp -o json` of a containerd 1.7 sandbox (fields as crictl prints them).
  const inspectp = JSON.stringify({
    status: {
      id: '5d3f7a1b2c9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a',
      metadata: { name: 'pod-dest', namespace: 'default' },
      state: 'SANDBOX_READY',
      network: { ip: '10.244.0.2' },
    },
    info: {
      pid: 4242,
      runtimeSpec: {
        linux: {
          namespaces: [
            { type: 'pid' },
            { type: 'ipc' },
            { type: 'uts' },
            { type: 'mount' },
            { type: 'network', path: '/var/run/netns/cni-1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901' },
          ],
        },
      },
    },
  });

  it('reads the network namespace path from crictl inspectp and names it as ip netns does', () => {
    expect(netnsFromCrictlInspectp(inspectp)).toEqual({
      netns: 'cni-1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901',
      sandboxId: '5d3f7a1b2c9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a',
      ip: '10.244.0.2',
      ips: ['10.244.0.2'],
    });
    expect(netnsFromCrictlInspectp('not json')).toBeNull();
    expect(inNetns('/var/run/docker/netns/4c1f0e2a9b3d', ['ip', 'addr'])).toEqual([
      'nsenter',
      '--net=/var/run/docker/netns/4c1f0e2a9b3d',
      '--',
      'ip',
      'addr',
    ]);
    expect(() => inNetns('/var/run/docker/netns/../../etc', ['ip'])).toThrow(/not a network namespace path/);
  });

  it('asks crictl first, by validated pod name and namespace', async () => {
    const seen: string[][] = [];
    const pods = JSON.stringify({
      items: [
        {
          id: '5d3f7a1b2c9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a',
          state: 'SANDBOX_READY',
          metadata: { name: 'pod-dest', namespace: 'default', uid: 'u' },
        },
      ],
    });
    const shell: NodeShell = {
      async run(n, command) {
        seen.push(command.argv);
        const stdout =
          command.argv[1] === 'pods' ? pods : command.argv[1] === 'inspectp' ? inspectp : '{"containers":[]}';
        return {
          node: n.name,
          argv: command.argv,
          stdout,
          stderr: '',
          exitCode: 0,
          timedOut: false,
          truncated: false,
          durationMs: 1,
        };
      },
      async capture() {
        throw new Error('unused');
      },
      async close() {},
    };
    const pod = {
      name: 'pod-dest',
      namespace: 'default',
      uid: 'u',
      nodeName: 'k8s-node1',
      podIP: '10.244.0.2',
      podIPs: [],
      hostIP: null,
      phase: 'Running',
      ready: true,
      hostNetwork: false,
      labels: {},
      containers: [
        { name: 'web', containerID: 'containerd://8a7b', image: 'x', ready: true, restartCount: 0, ports: [] },
      ],
    };
    expect(
      await findPodNetns(shell, { name: 'k8s-node1', address: '10.254.0.11' }, pod, AbortSignal.timeout(1000)),
    ).toEqual({
      netns: 'cni-1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901',
      sandboxId: '5d3f7a1b2c9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a',
      foundBy: 'crictl',
      containers: [],
    });
    expect(seen[0]).toEqual(['crictl', 'pods', '--namespace', 'default', '--name', 'pod-dest', '-o', 'json']);
    expect(seen[1]).toEqual([
      'crictl',
      'inspectp',
      '-o',
      'json',
      '5d3f7a1b2c9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a',
    ]);
  });
});

// Outputs of a lab node (scratch netns: eth0 10.254.0.11, vxlan.calico, one pod veth) and published nodes, kept in
// test/unit/parse/fixtures and read without their `# Source:` line and shell prompts.
describe("a lab node's ip -j, bridge -j and sysctl output", () => {
  it('reads ip -j route: two defaults, the multipath route by its first hop, unreachable, blackhole and vxlan.calico onlink', () => {
    const routes = routesFromIpJson(publishedFixture('lab-ip-j-route.json'));
    expect(routes.map((r) => r.raw)).toEqual([
      'default via 10.254.0.254 dev eth0 metric 100',
      'default via 10.254.0.253 dev eth0 metric 200',
      '10.96.0.0/12 nexthop via 10.254.0.1 dev eth0 weight 1 nexthop via 10.254.0.2 dev eth0 weight 2',
      'unreachable 10.99.0.0/16',
      'blackhole 10.244.0.0/26 proto 80',
      '10.244.0.5 dev cali1234abcd567 scope link',
      '10.244.1.0/26 via 10.244.1.0 dev vxlan.calico proto 80 onlink',
      '10.254.0.0/24 dev eth0 proto kernel scope link src 10.254.0.11',
    ]);
    expect(routes[2]).toMatchObject({
      destination: '10.96.0.0/12',
      gateway: '10.254.0.1',
      device: 'eth0',
      type: 'unicast',
    });
    expect(routes[3]).toMatchObject({ destination: '10.99.0.0/16', gateway: null, device: null, type: 'unreachable' });
  });

  it('gives the same facts from ip -j -d route (explicit unicast type, proto boot, scope global)', () => {
    const plain = routesFromIpJson(publishedFixture('lab-ip-j-route.json'));
    const detailed = routesFromIpJson(publishedFixture('lab-ip-j-d-route.json'));
    // -d also prints the default `proto boot` that plain output leaves out; everything else is the same.
    expect(detailed.map(({ raw: _raw, protocol: _p, ...facts }) => facts)).toEqual(
      plain.map(({ raw: _raw, protocol: _p, ...facts }) => facts),
    );
    expect(detailed[0]!.raw).toBe('default via 10.254.0.254 dev eth0 proto boot scope global metric 100');
  });

  it('reads links from ip -j -d link, addresses from ip -j addr and the VTEP neighbour from ip -j neigh', () => {
    expect(linksFromIpJson(publishedFixture('lab-ip-j-d-link.json'))).toEqual([
      { name: 'lo', up: true, mtu: 65536 },
      { name: 'eth0', up: true, mtu: 1500 },
      { name: 'vxlan.calico', up: true, mtu: 1450 },
      { name: 'cali1234abcd567', up: true, mtu: 1500 },
    ]);
    // IPv4 only: the cali veth has just its fe80:: address, so none.
    expect(addressesFromIpJson(publishedFixture('lab-ip-j-addr.json'))).toEqual({
      lo: ['127.0.0.1/8'],
      eth0: ['10.254.0.11/24'],
      'vxlan.calico': ['10.244.0.0/32'],
      cali1234abcd567: [],
    });
    expect(neighboursFromIpJson(publishedFixture('lab-ip-j-neigh.json'))).toEqual([
      { ip: '10.244.1.0', device: 'vxlan.calico', lladdr: '66:ab:cd:00:00:01', state: ['PERMANENT'] },
    ]);
  });

  it("reads sysctl lines, including a per-interface key where vxlan.calico's dot prints as a slash", () => {
    expect(sysctlValues(publishedFixture('lab-sysctl.txt'))).toEqual({
      'net.ipv4.ip_forward': '0',
      'net.ipv4.conf.all.rp_filter': '0',
      'net.ipv4.conf.vxlan/calico.rp_filter': '0',
    });
  });

  it("inspects the whole node: routes, links, the uplink that holds its address, the VXLAN fdb entry to node2, forwarding off, the tunnel's rp_filter and checksum offload", async () => {
    const answers: Record<string, string> = {
      'ip -j -4 route show table main': 'lab-ip-j-route.json',
      'ip -4 route show table main': 'lab-ip-route-multipath.txt',
      'ip -j link show': 'lab-ip-j-d-link.json',
      'sysctl -e net.ipv4.ip_forward net.ipv4.conf.all.rp_filter net.netfilter.nf_conntrack_count net.netfilter.nf_conntrack_max net.ipv4.conf.vxlan/calico.rp_filter net.ipv4.conf.tunl0.rp_filter':
        'lab-sysctl.txt',
      'ip -j addr show': 'lab-ip-j-addr.json',
      'sysctl -e net.ipv4.conf.eth0.rp_filter': 'lab-sysctl.txt',
      'ethtool -k vxlan.calico': 'ethtool-k-cali-calico-8756.txt',
      'ip -j -4 neigh show': 'lab-ip-j-neigh.json',
      'bridge -j fdb show dev vxlan.calico': 'lab-bridge-j-fdb.json',
    };
    const shell: NodeShell = {
      async run(n, command) {
        const name = answers[command.argv.join(' ')];
        return {
          node: n.name,
          argv: command.argv,
          stdout: name ? publishedFixture(name) : '',
          stderr: name ? '' : 'unexpected',
          exitCode: name ? 0 : 1,
          timedOut: false,
          truncated: false,
          durationMs: 1,
        };
      },
      async capture() {
        throw new Error('unused');
      },
      async close() {},
    };
    const facts = await inspectNode(shell, { name: 'lab-node', address: '10.254.0.11' }, AbortSignal.timeout(1000));
    expect(facts).toMatchObject({
      error: null,
      uplink: 'eth0',
      ipForward: false,
      rpFilter: { all: 0, 'vxlan.calico': 0 },
      fdb: [{ mac: '66:ab:cd:00:00:01', dst: '10.254.0.12' }],
    });
    expect(facts.tunnelOffload).toEqual({
      device: 'vxlan.calico',
      txChecksumIpGeneric: true,
      line: 'tx-checksum-ip-generic: on',
    });
    expect(facts.routes).toHaveLength(8);
    expect(facts.links!.map((l) => l.name)).toEqual(['lo', 'eth0', 'vxlan.calico', 'cali1234abcd567']);
    expect(facts.routeTableText).toContain('10.96.0.0/12\n\tnexthop via 10.254.0.1 dev eth0 weight 1\n');
    expect(facts.routeTableText).not.toMatch(/ $/m);
  });
});

describe('listening ports from ss and netstat as printed on real nodes', () => {
  it.each([
    ['lab-ss-lntp.txt', 'ss -lntp: header, users:(("python3",…)) and [::]', [31080]],
    [
      'lab-ss-H-lntup.txt',
      'ss -H -lntup: a Netid column first; the UDP sockets (VXLAN 4789, 5353) are not TCP listeners',
      [31080],
    ],
    ['lab-netstat-lntp.txt', 'netstat -lntp: tcp and tcp6 with PID/Program name', [31080]],
    ['lab-netstat-anp.txt', 'netstat -anp: the udp lines and the UNIX socket header do not count', [31080]],
    ['netstat-kube-proxy-4-tcp6.txt', 'netstat: kube-proxy holding NodePort 8000 on tcp6 :::8000', [8000]],
    [
      'ss-lntp-kube-proxy-1.txt',
      'ss -ltpn on a kubeadm control plane: *:10250, 127.0.0.53%lo:53, a [sudo] prompt line',
      [22, 53, 2379, 2380, 2381, 6443, 10248, 10249, 10250, 10256, 10257, 10259, 33025],
    ],
    ['ss-lntp-nonroot-1.txt', 'ss without root: no process column', [2379]],
  ])('%s (%s)', (name, _what, ports) => {
    expect(listeningPorts(listenersFromSs(publishedFixture(name)))).toEqual(ports);
  });
});

describe('crictl inspectp of a containerd sandbox (published PodSandboxStatus info)', () => {
  it('finds the network namespace path in the runtime spec and names it as ip netns does', () => {
    // The fixture is the "info" object crictl prints under "info"; this one has no "status".
    const inspectp = JSON.stringify({ info: JSON.parse(publishedFixture('crictl-inspectp-info-containerd.json')) });
    expect(netnsFromCrictlInspectp(inspectp)).toEqual({
      netns: 'cni-5ddce098-32ee-e39c-19c2-d6db782f6d20',
      sandboxId: null,
      ip: null,
      ips: [],
    });
  });
});

describe("a NodePort's listeners on the node", () => {
  const svc = {
    name: 'web',
    namespace: 'default',
    type: 'NodePort',
    clusterIP: '10.96.0.20',
    clusterIPs: ['10.96.0.20'],
    selector: {},
    ports: [{ name: null, protocol: 'TCP', port: 80, targetPort: 8080, nodePort: 31080 }],
    externalTrafficPolicy: 'Cluster',
  };
  const shellWith = (ss: string): NodeShell => ({
    async run(n, command) {
      const stdout = command.argv[0] === 'ss' ? ss : '';
      return {
        node: n.name,
        argv: command.argv,
        stdout,
        stderr: '',
        exitCode: 0,
        timedOut: false,
        truncated: false,
        durationMs: 1,
      };
    },
    async capture() {
      throw new Error('unused');
    },
    async close() {},
  });
  const node = { name: 'k8s-node1', address: '10.254.0.11' };

  it('does not count a NodePort held only on 127.0.0.1 as listening on the node address, and keeps who holds it', async () => {
    const loopback = await inspectServiceRules(
      shellWith('LISTEN 0 4096 127.0.0.1:31080 0.0.0.0:* users:(("kube-proxy",pid=14448,fd=14))\n'),
      node,
      'nodeport',
      svc,
      31080,
      AbortSignal.timeout(1000),
    );
    expect(loopback).toMatchObject({
      listening: false,
      listeners: [{ address: '127.0.0.1', port: 31080, process: 'kube-proxy' }],
    });
    const wildcard = await inspectServiceRules(
      shellWith('LISTEN 0 4096 *:31080 *:* users:(("kube-proxy",pid=14448,fd=13))\n'),
      node,
      'nodeport',
      svc,
      31080,
      AbortSignal.timeout(1000),
    );
    expect(wildcard).toMatchObject({
      listening: true,
      listeners: [{ address: '*', port: 31080, process: 'kube-proxy' }],
    });
  });
});

describe('host network managers and conntrack, read on a node', () => {
  const node = { name: 'k8s-node1', address: '10.254.0.11' };
  /** A shell that answers argv lines from fixtures (any other fails, as a tool without its daemon) and records them. */
  function recording(answers: Record<string, string>) {
    const asked: string[] = [];
    const done = { timedOut: false, truncated: false, durationMs: 1 };
    const shell: NodeShell = {
      run: async (n, { argv }) => {
        asked.push(argv.join(' '));
        const out = answers[argv.join(' ')];
        const failed = { stdout: '', stderr: 'Failed to connect to bus: Host is down', exitCode: 1 };
        return {
          node: n.name,
          argv,
          ...done,
          ...(out === undefined ? failed : { stdout: out, stderr: '', exitCode: 0 }),
        };
      },
      capture: () => Promise.reject(new Error('unused')),
      close: () => Promise.resolve(),
    };
    return { shell, asked };
  }
  const whichLine = `sh -c ${WHICH_SCRIPT} k8snet-which nmcli networkctl`;

  it('asks only the tools the node has, and a tool that fails (no daemon, as on the lab) gives no reading', async () => {
    const nmOnly = recording({
      [whichLine]: 'nmcli /usr/bin/nmcli\n',
      'nmcli -t -f DEVICE,TYPE,STATE,CONNECTION device status': publishedFixture(
        'nmcli-t-typhoon-1007-cali-connecting.txt',
      ),
    });
    const readings = await readInterfaceManagers(nmOnly.shell, node, AbortSignal.timeout(1000));
    expect(readings.map((r) => [r.tool, r.devices.map((d) => d.device)])).toEqual([
      ['NetworkManager', ['cali1a81d481534', 'tunl0']],
    ]);
    expect(nmOnly.asked.some((a) => a.startsWith('networkctl'))).toBe(false);
    const lab = recording({ [whichLine]: 'networkctl /usr/bin/networkctl\n' });
    expect(await readInterfaceManagers(lab.shell, node, AbortSignal.timeout(1000))).toEqual([]);
    expect(lab.asked).toContain('networkctl list --no-legend --no-pager');
  });

  it("reads the test connection's entries, and says why when conntrack cannot run", async () => {
    const cmd = 'conntrack -L -p tcp --orig-dst 10.96.0.100 --orig-port-dst 8080';
    const ok = recording({ [cmd]: publishedFixture('lab-conntrack-L-service.txt') });
    const r = await readConntrack(ok.shell, node, { ip: '10.96.0.100', port: 8080 }, AbortSignal.timeout(1000));
    expect(r).toMatchObject({ command: cmd, error: null });
    expect(r.entries).toHaveLength(4);
    const missing = await readConntrack(
      recording({}).shell,
      node,
      { ip: '10.96.0.100', port: 8080 },
      AbortSignal.timeout(1000),
    );
    expect(missing.entries).toEqual([]);
    expect(missing.error).toContain(`${cmd} on k8s-node1 exited 1`);
  });
});
