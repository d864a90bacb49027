import { describe, expect, it } from '@jest/globals';
import * as c from '../../../src/node/catalogue.ts';
import { KILL_ON_CLOSE_SCRIPT, remoteArgv, remoteCommandLine, shellQuote } from '../../../src/node/remote-command.ts';
import type { CaptureSpec, NodeCommand } from '../../../src/node/types.ts';

const spec: CaptureSpec = {
  interface: 'vxlan.calico',
  hosts: ['10.244.0.65', '10.244.0.2'],
  ports: [8080],
  includeTunnel: true,
  maxPackets: 2000,
  maxSeconds: 7,
  snapLength: 128,
};
const argv = (cmd: NodeCommand) => cmd.argv;

describe('the node command catalogue builds exact argument vectors (renovate-style snapshots)', () => {
  it('routes, addresses, links, neighbours and FDB', () => {
    expect(argv(c.ipRoute({ json: true, family: 4 }))).toEqual(['ip', '-j', '-4', 'route', 'show', 'table', 'main']);
    expect(argv(c.ipRoute())).toEqual(['ip', 'route', 'show', 'table', 'main']);
    expect(argv(c.routeN())).toEqual(['route', '-n']);
    expect(argv(c.ipAddr({ json: true }))).toEqual(['ip', '-j', 'addr', 'show']);
    expect(c.ipAddr({ netns: 'cni-0c2d8e51-7c4e-2d8c-5e6f-0a1b2c3d4e5f', family: 4 })).toEqual({
      argv: ['ip', 'netns', 'exec', 'cni-0c2d8e51-7c4e-2d8c-5e6f-0a1b2c3d4e5f', 'ip', '-o', '-4', 'addr', 'show'],
      timeoutSeconds: 10,
      maxOutputBytes: 1048576,
      privileged: true,
    });
    expect(argv(c.ipAddr({ netns: '/var/run/docker/netns/5c1b2a3d4e5f' }))).toEqual([
      'nsenter',
      '--net=/var/run/docker/netns/5c1b2a3d4e5f',
      '--',
      'ip',
      '-o',
      'addr',
      'show',
    ]);
    expect(argv(c.ipAddr({ netns: '/var/run/netns/cni-1234' }))).toEqual([
      'ip',
      'netns',
      'exec',
      'cni-1234',
      'ip',
      '-o',
      'addr',
      'show',
    ]);
    expect(argv(c.ipLinks({ json: true }))).toEqual(['ip', '-j', 'link', 'show']);
    expect(argv(c.ipLinkDetails('vxlan.calico'))).toEqual(['ip', '-d', '-j', 'link', 'show', 'dev', 'vxlan.calico']);
    expect(argv(c.ipNeigh('vxlan.calico'))).toEqual(['ip', '-j', 'neigh', 'show', 'dev', 'vxlan.calico']);
    expect(argv(c.bridgeFdb('vxlan.calico'))).toEqual(['bridge', '-j', 'fdb', 'show', 'dev', 'vxlan.calico']);
    expect(argv(c.ethtoolFeatures('vxlan.calico'))).toEqual(['ethtool', '-k', 'vxlan.calico']);
  });

  it('packet filter, listeners and allow-listed kernel settings', () => {
    expect(c.iptablesSave('nat')).toEqual({
      argv: ['iptables-save', '-t', 'nat'],
      timeoutSeconds: 30,
      maxOutputBytes: 16777216,
      privileged: true,
    });
    expect(argv(c.ssListeners())).toEqual(['ss', '-H', '-lntp']);
    expect(argv(c.netstatListeners())).toEqual(['netstat', '-lntp']);
    const tunnelRpFilter = c.interfaceSysctlKey('vxlan.calico', 'rp_filter');
    expect(tunnelRpFilter).toBe('net.ipv4.conf.vxlan/calico.rp_filter');
    expect(argv(c.sysctlNet(['net.ipv4.ip_forward', 'net.ipv4.conf.all.rp_filter', tunnelRpFilter]))).toEqual([
      'sysctl',
      '-e',
      'net.ipv4.ip_forward',
      'net.ipv4.conf.all.rp_filter',
      'net.ipv4.conf.vxlan/calico.rp_filter',
    ]);
  });

  it('namespaces and container runtimes', () => {
    expect(argv(c.ipNetnsList())).toEqual(['ip', 'netns', 'list']);
    expect(argv(c.listNetnsDir())).toEqual([
      'find',
      '/var/run/netns',
      '/var/run/docker/netns',
      '-mindepth',
      '1',
      '-maxdepth',
      '1',
    ]);
    expect(argv(c.netnsExec('cni-1234', c.ssListeners()))).toEqual([
      'ip',
      'netns',
      'exec',
      'cni-1234',
      'ss',
      '-H',
      '-lntp',
    ]);
    const id = '3f1c0b2a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a';
    expect(argv(c.crictlInspectp(`containerd://${id}`))).toEqual(['crictl', 'inspectp', '-o', 'json', id]);
    expect(argv(c.crictlPods({ namespace: 'default', name: 'pod-src' }))).toEqual([
      'crictl',
      'pods',
      '--namespace',
      'default',
      '--name',
      'pod-src',
      '-o',
      'json',
    ]);
    expect(argv(c.crictlPs({ podId: id }))).toEqual(['crictl', 'ps', '-a', '--pod', id, '-o', 'json']);
    expect(argv(c.dockerInspect(`docker://${id.slice(0, 12)}`))).toEqual(['docker', 'inspect', id.slice(0, 12)]);
    expect(argv(c.which(['tcpdump', 'crictl']))).toEqual([
      'sh',
      '-c',
      c.WHICH_SCRIPT,
      'k8snet-which',
      'tcpdump',
      'crictl',
    ]);
  });

  it('a bounded tcpdump streaming pcap, with a filter made of validated parts', () => {
    expect(c.tcpdump(spec)).toEqual({
      argv: [
        'tcpdump',
        '-i',
        'vxlan.calico',
        '-nn',
        '-U',
        '-w',
        '-',
        '-s',
        '128',
        '-c',
        '2000',
        '((host 10.244.0.65 or host 10.244.0.2) and (port 8080)) or (udp port 4789 or udp port 8472 or ip proto 4)',
      ],
      timeoutSeconds: 7,
      maxOutputBytes: 24 + 2000 * (16 + 128),
      privileged: true,
    });
    expect(
      argv(c.tcpdump({ ...spec, interface: 'lo', netns: 'cni-1234', hosts: [], ports: [], includeTunnel: false })),
    ).toEqual([
      'ip',
      'netns',
      'exec',
      'cni-1234',
      'tcpdump',
      '-i',
      'lo',
      '-nn',
      '-U',
      '-w',
      '-',
      '-s',
      '128',
      '-c',
      '2000',
    ]);
    expect(c.captureFilter({ hosts: [], ports: [31080], includeTunnel: true })).toBe(
      '((port 31080)) or (udp port 4789 or udp port 8472 or ip proto 4)',
    );
    expect(c.captureFilter({ hosts: ['fd00::5'], ports: [], includeTunnel: false })).toBe('(host fd00::5)');
  });

  it('a test connection from a pod namespace: constant scripts, the address and port as positional parameters', () => {
    expect(c.testConnect('cni-1234', '10.244.1.5', 8080, 3)).toEqual({
      argv: [
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
        '10.244.1.5',
        '8080',
      ],
      timeoutSeconds: 4,
      maxOutputBytes: 1024,
      privileged: true,
    });
    expect(argv(c.testConnect(null, '10.96.0.10', 53, 2, { tool: 'python3' }))).toEqual([
      'python3',
      '-c',
      c.PYTHON_CONNECT_SCRIPT,
      '10.96.0.10',
      '53',
      '2',
    ]);
  });
});

describe('one quoting function turns argv into the line SSH carries', () => {
  it('quotes only what needs quoting, and single quotes safely', () => {
    expect(shellQuote(['ip', '-j', 'route', 'show'])).toBe('ip -j route show');
    expect(shellQuote(['echo', "it's", '$(id)', 'a b', '`x`', 'x;y\nz', ''])).toBe(
      `echo 'it'\\''s' '$(id)' 'a b' '\`x\`' 'x;y\nz' ''`,
    );
    expect(() => shellQuote(['a\0b'])).toThrow(/NUL/);
  });

  it('wraps every command in the watchdog and coreutils timeout, with sudo -n only for privileged commands of other users', () => {
    const cmd = c.iptablesSave('nat');
    const watch = `sh -c '${KILL_ON_CLOSE_SCRIPT}' k8snet-watch`;
    expect(remoteCommandLine(cmd, 'root')).toBe(`${watch} timeout --kill-after=2 30 iptables-save -t nat`);
    expect(remoteCommandLine(cmd, 'ops')).toBe(`${watch} sudo -n timeout --kill-after=2 30 iptables-save -t nat`);
    expect(remoteCommandLine(c.routeN(), 'ops')).toBe(`${watch} timeout --kill-after=2 10 route -n`);
    expect(remoteCommandLine(c.tcpdump(spec), 'root')).toBe(
      `${watch} timeout --kill-after=2 7 tcpdump -i vxlan.calico -nn -U -w - -s 128 -c 2000 '((host 10.244.0.65 or host 10.244.0.2) and (port 8080)) or (udp port 4789 or udp port 8472 or ip proto 4)'`,
    );
    expect(remoteCommandLine(c.testConnect('cni-1234', '10.244.1.5', 8080, 3), 'root')).toBe(
      `${watch} timeout --kill-after=2 4 ip netns exec cni-1234 timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2" && echo connected' k8snet-connect 10.244.1.5 8080`,
    );
  });

  it('a quoted line is read back by a POSIX shell as exactly the argv it came from', async () => {
    const { execFileSync } = await import('node:child_process');
    const hostile = ["it's", '$(id)', '`id`', 'a;b', 'x\ny', '"q"', '\\', '*', '-oProxyCommand=x'];
    const line = shellQuote(['printf', '%s\\0', ...hostile]);
    const out = execFileSync('sh', ['-c', line], { encoding: 'utf8' });
    expect(out.split('\0').slice(0, -1)).toEqual(hostile);
    expect(remoteArgv(c.routeN(), 'root').slice(0, 4)).toEqual(['sh', '-c', KILL_ON_CLOSE_SCRIPT, 'k8snet-watch']);
  });
});

describe('hostile values are refused by validation before any command is built', () => {
  const hostile = [
    '; rm -rf /',
    '$(id)',
    '`id`',
    'eth0\nreboot',
    '-oProxyCommand=x',
    'p'.repeat(300),
    'pоd',
    '',
    'eth0 ',
    '../../etc/passwd',
  ];

  const cases = hostile.map(
    (v) => [v.length > 40 ? `${v.slice(0, 8)}… (${v.length} characters)` : JSON.stringify(v), v] as const,
  );
  it.each(cases)('refuses %s everywhere a value is taken', (_label, bad) => {
    const builders: (() => NodeCommand)[] = [
      () => c.ipLinkDetails(bad),
      () => c.ipNeigh(bad),
      () => c.bridgeFdb(bad),
      () => c.ethtoolFeatures(bad),
      () => c.ipAddr({ netns: bad }),
      () => c.netnsExec(bad, c.routeN()),
      () => c.crictlInspectp(bad),
      () => c.crictlPods({ namespace: bad, name: 'pod-src' }),
      () => c.crictlPods({ namespace: 'default', name: bad }),
      () => c.crictlPs({ podId: bad }),
      () => c.crictlExecBirdShowProtocols(bad),
      () =>
        c.crictlExecBirdShowProtocols('fe8694f85ea3d6be425a14f3d73d381acf6c8f42f28730ac8d340e039e052c43', {
          socket: bad,
        }),
      () => c.dockerInspect(bad),
      () => c.which([bad]),
      () => c.sysctlNet([bad]),
      () => c.iptablesSave(bad as 'nat'),
      () => c.tcpdump({ ...spec, interface: bad }),
      () => c.tcpdump({ ...spec, netns: bad }),
      () => c.tcpdump({ ...spec, hosts: [bad] }),
      () => c.testConnect(bad, '10.0.0.1', 80, 3),
      () => c.testConnect(null, bad, 80, 3),
    ];
    for (const build of builders) expect(build).toThrow(expect.objectContaining({ code: 'invalid_input' }));
  });

  it('refuses filters that try to widen a capture, and bounds outside the limits', () => {
    expect(() => c.tcpdump({ ...spec, hosts: ['10.0.0.1 or net 0.0.0.0/0'] })).toThrow(/not an IP address/);
    expect(() => c.tcpdump({ ...spec, ports: [0] })).toThrow(/capture port/);
    expect(() => c.tcpdump({ ...spec, maxPackets: 10_000_000 })).toThrow(/capture packets/);
    expect(() => c.tcpdump({ ...spec, maxSeconds: 0 })).toThrow(/capture seconds/);
    expect(() => c.tcpdump({ ...spec, snapLength: 10 })).toThrow(/snap length/);
    expect(() => c.testConnect(null, '10.0.0.1', 80, 600)).toThrow(/connect seconds/);
    expect(() => c.sysctlNet(['kernel.core_pattern'])).toThrow(/not a setting k8snet reads/);
    expect(() => c.sysctlNet(['net.ipv4.conf.eth0.rp_filter;id'])).toThrow(/not a setting/);
    expect(() => c.which(['-v'])).toThrow(/not a tool name/);
    expect(() => c.ipAddr({ netns: '/proc/self/ns/net' })).toThrow(/not a network namespace path/);
  });
});

describe('catalogue: IPv6 reads', () => {
  it('reads IPv6 rules with ip6tables-save, routes of every table and the policy rules', async () => {
    const c = await import('../../../src/node/catalogue.ts');
    expect(c.iptablesSave('nat', { family: 6 }).argv).toEqual(['ip6tables-save', '-t', 'nat']);
    expect(c.ipRoute({ json: true, family: 6, table: 'all' }).argv).toEqual([
      'ip',
      '-j',
      '-6',
      'route',
      'show',
      'table',
      'all',
    ]);
    expect(c.ipRule({ json: true, family: 4 }).argv).toEqual(['ip', '-j', '-4', 'rule', 'show']);
    expect(() => c.ipRoute({ table: 'local; rm' as 'all' })).toThrow();
  });
});

describe('kube-proxy mode and nftables commands', () => {
  it('build exact argument vectors from allow-listed values only', () => {
    expect(c.nftListTable('ip')).toEqual({
      argv: ['nft', '-j', 'list', 'table', 'ip', 'kube-proxy'],
      timeoutSeconds: 30,
      maxOutputBytes: 16777216,
      privileged: true,
    });
    expect(argv(c.nftListTable('ip6'))).toEqual(['nft', '-j', 'list', 'table', 'ip6', 'kube-proxy']);
    expect(argv(c.nftListTable('ip', 'calico'))).toEqual(['nft', '-j', 'list', 'table', 'ip', 'calico']);
    expect(argv(c.nftListTable('ip6', 'calico'))).toEqual(['nft', '-j', 'list', 'table', 'ip6', 'calico']);
    expect(argv(c.nftListTables())).toEqual(['nft', 'list', 'tables']);
    expect(c.nftListTables.length).toBe(0);
    expect(argv(c.iptablesBackendSave('legacy'))).toEqual(['iptables-legacy-save']);
    expect(argv(c.iptablesBackendSave('nft'))).toEqual(['iptables-nft-save']);
    // IPVS: its commands take no argument at all, so nothing from a user or the cluster can reach them.
    expect(c.ipvsadmList()).toEqual({
      argv: ['ipvsadm', '-L', '-n'],
      timeoutSeconds: 30,
      maxOutputBytes: 16777216,
      privileged: true,
    });
    expect(c.ipvsadmList.length).toBe(0);
    expect(argv(c.kubeIpvsAddresses())).toEqual(['ip', 'addr', 'show', 'dev', 'kube-ipvs0']);
    expect(c.kubeIpvsAddresses.length).toBe(0);
    expect(argv(c.ipvsKernelTable())).toEqual(['cat', '/proc/net/ip_vs']);
    expect(c.ipvsKernelTable.length).toBe(0);
    expect(c.ipsetList()).toEqual({
      argv: ['ipset', 'list'],
      timeoutSeconds: 30,
      maxOutputBytes: 16777216,
      privileged: true,
    });
    expect(argv(c.ipsetList('cali40all-vxlan-net'))).toEqual(['ipset', 'list', 'cali40all-vxlan-net']);
    // The name comes from a node's rules: anything but a set name is refused before it can reach a node.
    for (const bad of ['a b', '-n', 'x;reboot', '', 'a'.repeat(32), '$(id)'])
      expect(() => c.ipsetList(bad)).toThrow(expect.objectContaining({ code: 'invalid_input' }));
    expect(argv(c.kubeProxyMode())).toEqual(['curl', '-s', '--max-time', '2', 'http://127.0.0.1:10249/proxyMode']);
    expect(argv(c.kubeProxyMode({ tool: 'bash' }))).toEqual([
      'timeout',
      '2',
      'bash',
      '-c',
      c.BASH_PROXY_MODE_SCRIPT,
      'k8snet-proxy-mode',
      '10249',
    ]);
  });

  it('refuse anything else: no user text reaches an argv, and the script stays constant', () => {
    const hostile = ['ip; reboot', 'inet', '$(id)', 'kube-proxy`id`', '', 'ip6 kube-proxy', 'legacy-save; id'];
    for (const h of hostile) {
      expect(() => c.nftListTable(h as never)).toThrow(/is not one of/);
      expect(() => c.nftListTable('ip', h as never)).toThrow(/is not one of/);
      expect(() => c.iptablesBackendSave(h as never)).toThrow(/is not one of/);
    }
    for (const port of [0, 65536, 1.5, '10249; id', '$(id)'])
      expect(() => c.kubeProxyMode({ port: port as never })).toThrow();
    // The only values that vary are separate arguments after the constant script, never part of it.
    const cmd = c.kubeProxyMode({ tool: 'bash', port: 10250 });
    expect(cmd.argv[4]).toBe(c.BASH_PROXY_MODE_SCRIPT);
    expect(c.BASH_PROXY_MODE_SCRIPT).not.toMatch(/10250/);
    expect(cmd.argv.at(-1)).toBe('10250');
  });
});

describe('BIRD commands', () => {
  it("ask birdcl, else birdc, on Calico's control socket with the BIRD command as separate words", () => {
    expect(c.birdShowProtocols()).toEqual({
      argv: [
        'timeout',
        '5',
        'sh',
        '-c',
        c.BIRD_CLIENT_SCRIPT,
        'k8snet-bird',
        '/var/run/calico/bird.ctl',
        'show',
        'protocols',
      ],
      timeoutSeconds: 6,
      maxOutputBytes: 1048576,
      privileged: true,
    });
    expect(argv(c.birdShowProtocols({ all: true, name: 'Mesh_10_254_0_12' })).slice(6)).toEqual([
      '/var/run/calico/bird.ctl',
      'show',
      'protocols',
      'all',
      'Mesh_10_254_0_12',
    ]);
    expect(argv(c.birdShowProtocols({ tool: 'birdc', all: true }))).toEqual([
      'timeout',
      '5',
      'birdc',
      '-s',
      '/var/run/calico/bird.ctl',
      'show',
      'protocols',
      'all',
    ]);
  });

  it('refuse hostile protocol names, sockets and tools', () => {
    for (const h of ['Mesh; reboot', '$(id)', 'a b', '', '1abc'])
      expect(() => c.birdShowProtocols({ all: true, name: h })).toThrow();
    for (const s of ['relative.ctl', '/var/run/../etc/shadow.ctl', '/x;id.ctl', '/var/run/calico/bird'])
      expect(() => c.birdShowProtocols({ socket: s })).toThrow();
    expect(() => c.birdShowProtocols({ tool: 'sh' as never })).toThrow();
    expect(() => c.birdShowProtocols({ name: 'Mesh_1' })).toThrow(/needs `all`/);
    expect(c.BIRD_CLIENT_SCRIPT).not.toMatch(/Mesh|bird\.ctl/);
  });

  it("reach calico-node's own birdcl through crictl: the container listed by exact name, its id validated", () => {
    expect(argv(c.crictlCalicoNodeContainers())).toEqual([
      'crictl',
      'ps',
      '--name',
      '^calico-node$',
      '--state',
      'Running',
      '-o',
      'json',
    ]);
    const id = 'fe8694f85ea3d6be425a14f3d73d381acf6c8f42f28730ac8d340e039e052c43';
    expect(c.crictlExecBirdShowProtocols(`containerd://${id}`)).toEqual({
      argv: [
        'timeout',
        '5',
        'crictl',
        'exec',
        id,
        'birdcl',
        '-s',
        '/var/run/calico/bird.ctl',
        'show',
        'protocols',
        'all',
      ],
      timeoutSeconds: 6,
      maxOutputBytes: 1048576,
      privileged: true,
    });
    for (const h of ['calico-node', `${id}; reboot`, '-it', '$(id)', ''])
      expect(() => c.crictlExecBirdShowProtocols(h)).toThrow();
    expect(() => c.crictlExecBirdShowProtocols(id, { socket: '/x;id.ctl' })).toThrow();
  });
});

describe('conntrack entries of a Service connection', () => {
  it('filters by the validated destination and port, with -f ipv6 for an IPv6 address', () => {
    expect(c.conntrackList({ protocol: 'tcp', origDst: '10.96.0.10', origPortDst: 80 })).toMatchObject({
      argv: ['conntrack', '-L', '-p', 'tcp', '--orig-dst', '10.96.0.10', '--orig-port-dst', '80'],
      privileged: true,
    });
    expect(c.conntrackList({ protocol: 'tcp', origDst: 'fd00:10:96::a', origPortDst: 443 }).argv).toEqual([
      'conntrack',
      '-L',
      '-f',
      'ipv6',
      '-p',
      'tcp',
      '--orig-dst',
      'fd00:10:96::a',
      '--orig-port-dst',
      '443',
    ]);
    expect(() => c.conntrackList({ protocol: 'tcp', origDst: '10.96.0.10; reboot', origPortDst: 80 })).toThrow();
    expect(() => c.conntrackList({ protocol: 'icmp' as 'tcp', origDst: '10.96.0.10', origPortDst: 80 })).toThrow();
    expect(() => c.conntrackList({ protocol: 'tcp', origDst: '10.96.0.10', origPortDst: 70000 })).toThrow();
  });
});

describe('host network managers', () => {
  it('asks NetworkManager and systemd-networkd for their device lists in fixed, machine-readable forms', () => {
    expect(c.nmcliDeviceStatus().argv).toEqual([
      'nmcli',
      '-t',
      '-f',
      'DEVICE,TYPE,STATE,CONNECTION',
      'device',
      'status',
    ]);
    expect(c.networkctlList().argv).toEqual(['networkctl', 'list', '--no-legend', '--no-pager']);
    expect(c.which(['nmcli', 'networkctl']).argv.slice(-2)).toEqual(['nmcli', 'networkctl']);
  });
});
