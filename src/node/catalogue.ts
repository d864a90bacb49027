/**
 * The fixed catalogue of what k8snet may run on a node. Each entry validates every argument (src/validate.ts) and
 * returns a NodeCommand: an argument vector with its own time bound and output cap, never a shell line. Values
 * reach the node only as separate arguments (remote-command.ts quotes them in one place); the few scripts here are
 * constants that read their values as positional parameters ("$1"), never by interpolation.
 */
import { InvalidInputError } from '../errors.ts';
import {
  ipFamily,
  validateContainerId,
  validateIntegerInRange,
  validateInterfaceName,
  validateIp,
  validateNamespace,
  validateNetnsRef,
  validatePodName,
  validatePort,
} from '../validate.ts';
import type { CaptureSpec, NodeCommand } from './types.ts';

/** A route table, an address list or a container's JSON is far below this on any node we have seen. */
export const SMALL_OUTPUT_BYTES = 1024 * 1024;
/** `iptables-save -t nat` on a node with thousands of Services runs to several MB (kube-proxy: ~10 rules per endpoint). */
export const LARGE_OUTPUT_BYTES = 16 * 1024 * 1024;
/** Reading kernel state is quick; anything slower than this is a node in trouble. */
export const QUICK_SECONDS = 10;
/** `iptables-save` takes the xtables lock and can wait for kube-proxy's own sync. */
export const IPTABLES_SECONDS = 30;

/** Captures: whatever a caller asks, never more than these. */
export const CAPTURE_LIMITS = {
  maxPackets: 100_000,
  maxSeconds: 300,
  /** 68: IPv4 + TCP headers with options (tcpdump's historical default); 262144: tcpdump's maximum. */
  snapLength: { min: 68, max: 262_144 },
} as const;
/** pcap file header and per-record header (libpcap's savefile format). */
export const PCAP_FILE_HEADER_BYTES = 24;
export const PCAP_RECORD_HEADER_BYTES = 16;
/** VXLAN (IANA 4789, Calico's default), Linux's legacy VXLAN port 8472 (flannel), and IP-in-IP (protocol 4). */
export const TUNNEL_BPF = 'udp port 4789 or udp port 8472 or ip proto 4';

/** The test connection's own bound (seconds), so an idle or dropped path answers quickly. */
export const TEST_CONNECT_MAX_SECONDS = 30;

function command(
  argv: string[],
  options: { privileged?: boolean; maxOutputBytes?: number; timeoutSeconds?: number } = {},
): NodeCommand {
  return {
    argv,
    timeoutSeconds: options.timeoutSeconds ?? QUICK_SECONDS,
    maxOutputBytes: options.maxOutputBytes ?? SMALL_OUTPUT_BYTES,
    ...(options.privileged ? { privileged: true } : {}),
  };
}

// ---- network namespaces ----

/** argv run inside a network namespace: `ip netns exec NAME …`, or `nsenter --net=PATH -- …` for a path. */
export function inNetns(netns: string, argv: string[]): string[] {
  const ref = validateNetnsRef(netns);
  return ref.startsWith('/') ? ['nsenter', `--net=${ref}`, '--', ...argv] : ['ip', 'netns', 'exec', ref, ...argv];
}

/** A catalogue command run inside a pod's network namespace (entering one needs root). */
export function netnsExec(netns: string, inner: NodeCommand): NodeCommand {
  return { ...inner, argv: inNetns(netns, inner.argv), privileged: true };
}

/** `ip netns list`: the named namespaces (`-j` on iproute2 4.13+ with JSON support). */
export function ipNetnsList(options: { json?: boolean } = {}): NodeCommand {
  return command(['ip', ...(options.json ? ['-j'] : []), 'netns', 'list'], { privileged: true });
}

/** Every namespace file where runtimes put them, one path a line (a missing directory is reported on stderr only). */
export function listNetnsDir(): NodeCommand {
  return command(['find', '/var/run/netns', '/var/run/docker/netns', '-mindepth', '1', '-maxdepth', '1'], {
    privileged: true,
  });
}

// ---- routes, addresses, links, neighbours ----

type Family = 4 | 6;

function familyFlag(family: Family | undefined): string[] {
  if (family === undefined) return [];
  if (family !== 4 && family !== 6) throw new InvalidInputError('family', `${JSON.stringify(family)} is not 4 or 6`);
  return [`-${family}`];
}

/** A route table: `ip [-j] [-4|-6] route show table main` (default), or every table (`table all`, for policy routing). */
export function ipRoute(options: { json?: boolean; family?: Family; table?: 'main' | 'all' } = {}): NodeCommand {
  const table = options.table ?? 'main';
  if (table !== 'main' && table !== 'all')
    throw new InvalidInputError('table', `${JSON.stringify(String(table).slice(0, 20))} is not main or all`);
  return command([
    'ip',
    ...(options.json ? ['-j'] : []),
    ...familyFlag(options.family),
    'route',
    'show',
    'table',
    table,
  ]);
}

/** The routing policy rules: `ip [-j] [-4|-6] rule show`. */
export function ipRule(options: { json?: boolean; family?: Family } = {}): NodeCommand {
  return command(['ip', ...(options.json ? ['-j'] : []), ...familyFlag(options.family), 'rule', 'show']);
}

/** net-tools' route table, for nodes whose iproute2 is too old for -j. */
export function routeN(): NodeCommand {
  return command(['route', '-n']);
}

/**
 * Addresses: `ip [-j|-o] [-4|-6] addr show`, inside a namespace when given. Without json, one line per address (-o),
 * or as people read it (`format: 'full'`, for reports).
 */
export function ipAddr(
  options: { netns?: string; json?: boolean; family?: Family; format?: 'one-line' | 'full' } = {},
): NodeCommand {
  const style = options.json ? ['-j'] : options.format === 'full' ? [] : ['-o'];
  const argv = ['ip', ...style, ...familyFlag(options.family), 'addr', 'show'];
  return options.netns === undefined ? command(argv) : netnsExec(options.netns, command(argv));
}

/** Every link: `ip -j link show` or one line per link (`ip -o link show`). */
export function ipLinks(options: { json?: boolean } = {}): NodeCommand {
  return command(['ip', options.json ? '-j' : '-o', 'link', 'show']);
}

/** One link with its details (VXLAN id, local address and port, IP-in-IP endpoints, MTU): `ip -d [-j] link show dev IF`. */
export function ipLinkDetails(ifname: string, options: { json?: boolean } = { json: true }): NodeCommand {
  return command(['ip', '-d', ...(options.json ? ['-j'] : []), 'link', 'show', 'dev', validateInterfaceName(ifname)]);
}

/** Neighbour (ARP) entries on a device (null: every device), as Felix programs them for VXLAN peers. */
export function ipNeigh(
  dev: string | null,
  options: { json?: boolean; family?: Family } = { json: true },
): NodeCommand {
  const device = dev === null ? [] : ['dev', validateInterfaceName(dev, 'dev')];
  return command(['ip', ...(options.json ? ['-j'] : []), ...familyFlag(options.family), 'neigh', 'show', ...device]);
}

/** Bridge forwarding entries on a device (VXLAN: the peer VTEP MAC → node IP). */
export function bridgeFdb(dev: string, options: { json?: boolean } = { json: true }): NodeCommand {
  return command(['bridge', ...(options.json ? ['-j'] : []), 'fdb', 'show', 'dev', validateInterfaceName(dev, 'dev')]);
}

/**
 * A link's offload features (`ethtool -k IF`): Calico turns VXLAN's tx checksum offload off on vxlan.calico because
 * some kernels and NICs send bad outer UDP checksums with it on (projectcalico/calico#3145, #9036).
 */
export function ethtoolFeatures(ifname: string): NodeCommand {
  return command(['ethtool', '-k', validateInterfaceName(ifname)]);
}

// ---- packet filter, listeners, kernel settings ----

/** The iptables tables (iptables-save -t). */
export const IPTABLES_TABLES = ['filter', 'nat', 'mangle', 'raw', 'security'] as const;
export type IptablesTable = (typeof IPTABLES_TABLES)[number];

/** `iptables-save -t TABLE`, or `ip6tables-save -t TABLE` for family 6 (IPv6 Services: kube-proxy keeps them apart). */
export function iptablesSave(table: IptablesTable, options: { family?: Family } = {}): NodeCommand {
  if (!(IPTABLES_TABLES as readonly string[]).includes(table))
    throw new InvalidInputError(
      'table',
      `${JSON.stringify(String(table).slice(0, 40))} is not one of ${IPTABLES_TABLES.join(', ')}`,
    );
  familyFlag(options.family);
  return command([options.family === 6 ? 'ip6tables-save' : 'iptables-save', '-t', table], {
    privileged: true,
    maxOutputBytes: LARGE_OUTPUT_BYTES,
    timeoutSeconds: IPTABLES_SECONDS,
  });
}

/**
 * Every table with packet and byte counters (`iptables-save -c`): read before and after the test connection, the
 * rules whose counters grew are what the packets met — above all the DROPs and REJECTs.
 */
export function iptablesSaveCounters(options: { family?: Family } = {}): NodeCommand {
  familyFlag(options.family);
  const save = options.family === 6 ? 'ip6tables-save' : 'iptables-save';
  return command([save, '-c'], {
    privileged: true,
    maxOutputBytes: LARGE_OUTPUT_BYTES,
    timeoutSeconds: IPTABLES_SECONDS,
  });
}

/** The iptables backends a node may have: x_tables (`iptables-legacy`) and nf_tables (`iptables-nft`). */
export const IPTABLES_BACKENDS = ['legacy', 'nft'] as const;
export type IptablesBackend = (typeof IPTABLES_BACKENDS)[number];

/**
 * Every table of one iptables backend (`iptables-legacy-save` / `iptables-nft-save`): a node whose rules are split
 * between the two (kube-proxy writing one, Calico or the distribution's firewall the other) runs both, and each
 * backend's save shows only its own half.
 */
export function iptablesBackendSave(backend: IptablesBackend): NodeCommand {
  if (!(IPTABLES_BACKENDS as readonly string[]).includes(backend))
    throw new InvalidInputError(
      'iptables backend',
      `${JSON.stringify(String(backend).slice(0, 40))} is not one of ${IPTABLES_BACKENDS.join(', ')}`,
    );
  return command([`iptables-${backend}-save`], {
    privileged: true,
    maxOutputBytes: LARGE_OUTPUT_BYTES,
    timeoutSeconds: IPTABLES_SECONDS,
  });
}

/** nftables address families kube-proxy's nftables proxier writes a table in (one per IP family). */
export const NFT_FAMILIES = ['ip', 'ip6'] as const;
export type NftFamily = (typeof NFT_FAMILIES)[number];
/**
 * The nftables tables k8snet reads: kube-proxy's own (pkg/proxy/nftables/proxier.go kubeProxyTable) and Felix's in
 * Calico's nftables dataplane (felix/nftables/table.go: every chain of filter, nat, mangle and raw in `calico`).
 */
export const NFT_TABLES = ['kube-proxy', 'calico'] as const;
export type NftTable = (typeof NFT_TABLES)[number];

/** One nftables table as JSON (`nft -j list table FAMILY NAME`); exits non-zero when the table does not exist. */
export function nftListTable(family: NftFamily, table: NftTable = 'kube-proxy'): NodeCommand {
  if (!(NFT_FAMILIES as readonly string[]).includes(family))
    throw new InvalidInputError(
      'nft family',
      `${JSON.stringify(String(family).slice(0, 40))} is not one of ${NFT_FAMILIES.join(', ')}`,
    );
  if (!(NFT_TABLES as readonly string[]).includes(table))
    throw new InvalidInputError(
      'nft table',
      `${JSON.stringify(String(table).slice(0, 40))} is not one of ${NFT_TABLES.join(', ')}`,
    );
  return command(['nft', '-j', 'list', 'table', family, table], {
    privileged: true,
    maxOutputBytes: LARGE_OUTPUT_BYTES,
    timeoutSeconds: IPTABLES_SECONDS,
  });
}

/**
 * IPVS's virtual server table, numeric (`ipvsadm -L -n`): kube-proxy's IPVS mode keeps one virtual server per Service
 * address and port and one real server per endpoint; on a large cluster it runs to MBs, like iptables-save.
 */
export function ipvsadmList(): NodeCommand {
  return command(['ipvsadm', '-L', '-n'], {
    privileged: true,
    maxOutputBytes: LARGE_OUTPUT_BYTES,
    timeoutSeconds: IPTABLES_SECONDS,
  });
}

/** The kernel's IPVS table, for nodes without ipvsadm: the same virtual and real servers, addresses in hex. */
export function ipvsKernelTable(): NodeCommand {
  return command(['cat', '/proc/net/ip_vs'], { maxOutputBytes: LARGE_OUTPUT_BYTES });
}

/** An ipset name as the kernel allows it (IPSET_MAXNAMELEN 32, NUL included), from the characters sets use. */
const IPSET_NAME = /^[A-Za-z0-9][A-Za-z0-9_:.-]{0,30}$/;

/**
 * Every ipset with its members, or the one named (`ipset list [NAME]`; read-only). kube-proxy's IPVS mode matches
 * them in its few iptables rules (KUBE-CLUSTER-IP, KUBE-NODE-PORT-TCP, KUBE-IPVS-IPS …), Felix its tunnel allowlists
 * (cali40all-vxlan-net). A large cluster's KUBE-LOOP-BACK holds one member per endpoint, hence the large cap.
 */
export function ipsetList(set?: string): NodeCommand {
  if (set !== undefined && !(typeof set === 'string' && IPSET_NAME.test(set)))
    throw new InvalidInputError(
      'ipset name',
      `${JSON.stringify(String(set).slice(0, 40))} is not an ipset name (letters, digits, _ : . -, at most 31)`,
    );
  return command(['ipset', 'list', ...(set === undefined ? [] : [set])], {
    privileged: true,
    maxOutputBytes: LARGE_OUTPUT_BYTES,
    timeoutSeconds: IPTABLES_SECONDS,
  });
}

/** The dummy device kube-proxy's IPVS mode binds every ClusterIP (and external / LB IP) to (pkg/proxy/ipvs). */
export const KUBE_IPVS_DEVICE = 'kube-ipvs0';

/** The addresses on kube-ipvs0 (`ip addr show dev kube-ipvs0`): a ClusterIP not bound there never reaches IPVS. */
export function kubeIpvsAddresses(): NodeCommand {
  return command(['ip', 'addr', 'show', 'dev', KUBE_IPVS_DEVICE], { maxOutputBytes: LARGE_OUTPUT_BYTES });
}

/** The nftables tables the node holds (`nft list tables`: one `table FAMILY NAME` line each; read-only, small). */
export function nftListTables(): NodeCommand {
  return command(['nft', 'list', 'tables'], { privileged: true });
}

/** kube-proxy's metrics server (--metrics-bind-address, default 127.0.0.1:10249) answers GET /proxyMode with its mode. */
export const KUBE_PROXY_METRICS_PORT = 10249;
/** The proxyMode request answers in milliseconds; a kube-proxy that does not answer in this long is not listening. */
export const PROXY_MODE_SECONDS = 2;
/** The same request with bash's /dev/tcp, for nodes without curl; the port is "$1". Prints the HTTP response. */
export const BASH_PROXY_MODE_SCRIPT =
  'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf \'GET /proxyMode HTTP/1.0\\r\\nHost: 127.0.0.1\\r\\n\\r\\n\' >&3 && cat <&3';

/** kube-proxy's own word on its mode, asked on the node's loopback only (`iptables`, `nftables`, `ipvs`). */
export function kubeProxyMode(options: { port?: number; tool?: 'curl' | 'bash' } = {}): NodeCommand {
  const port = String(validatePort(options.port ?? KUBE_PROXY_METRICS_PORT, 'kube-proxy metrics port'));
  const argv =
    options.tool === 'bash'
      ? ['timeout', String(PROXY_MODE_SECONDS), 'bash', '-c', BASH_PROXY_MODE_SCRIPT, 'k8snet-proxy-mode', port]
      : ['curl', '-s', '--max-time', String(PROXY_MODE_SECONDS), `http://127.0.0.1:${port}/proxyMode`];
  return command(argv, { timeoutSeconds: PROXY_MODE_SECONDS + 1, maxOutputBytes: 4096 });
}

/** Listening TCP sockets with their processes (`-p` needs root to see other users' processes). */
export function ssListeners(): NodeCommand {
  return command(['ss', '-H', '-lntp'], { privileged: true });
}

/** net-tools' listener table, for nodes without ss. */
export function netstatListeners(): NodeCommand {
  return command(['netstat', '-lntp'], { privileged: true });
}

/** The per-interface settings under net.ipv4.conf.IF that matter to forwarding. */
const SYSCTL_PER_INTERFACE = ['rp_filter', 'forwarding', 'proxy_arp'] as const;
const SYSCTL_GLOBAL = new Set([
  'net.ipv4.ip_forward',
  'net.ipv6.conf.all.forwarding',
  'net.ipv4.tcp_mtu_probing',
  'net.bridge.bridge-nf-call-iptables',
  'net.netfilter.nf_conntrack_max',
  'net.netfilter.nf_conntrack_count',
]);

/**
 * A sysctl key for one interface. sysctl writes dots inside a name as '/' (vxlan.calico → vxlan/calico) because
 * '.' separates the key's parts.
 */
export function interfaceSysctlKey(ifname: string, setting: (typeof SYSCTL_PER_INTERFACE)[number]): string {
  if (!SYSCTL_PER_INTERFACE.includes(setting))
    throw new InvalidInputError('sysctl setting', `${JSON.stringify(String(setting).slice(0, 40))} is not allowed`);
  const name = ifname === 'all' || ifname === 'default' ? ifname : validateInterfaceName(ifname).replaceAll('.', '/');
  return `net.ipv4.conf.${name}.${setting}`;
}

const SYSCTL_INTERFACE_KEY = new RegExp(
  `^net\\.ipv4\\.conf\\.(?<ifname>[A-Za-z0-9][A-Za-z0-9_/@-]{0,14})\\.(?:${SYSCTL_PER_INTERFACE.join('|')})$`,
);

/** Reads allow-listed kernel network settings (`sysctl -e`: a key the kernel lacks is skipped, not an error). */
export function sysctlNet(keys: readonly string[]): NodeCommand {
  if (keys.length === 0) throw new InvalidInputError('sysctl keys', 'at least one key is required');
  for (const key of keys) {
    if (typeof key !== 'string' || !(SYSCTL_GLOBAL.has(key) || SYSCTL_INTERFACE_KEY.test(key))) {
      throw new InvalidInputError(
        'sysctl key',
        `${JSON.stringify(String(key).slice(0, 60))} is not a setting k8snet reads`,
      );
    }
  }
  return command(['sysctl', '-e', ...keys]);
}

/** The layer-4 protocols a Service port can have, as conntrack's `-p` names them. */
export const CONNTRACK_PROTOCOLS = ['tcp', 'udp', 'sctp'] as const;
export type ConntrackProtocol = (typeof CONNTRACK_PROTOCOLS)[number];

/**
 * The connection tracking entries of connections to one address and port (`conntrack -L -p tcp --orig-dst VIP
 * --orig-port-dst PORT`): a Service's shows where kube-proxy's DNAT sent each connection, or that none was made.
 * IPv6 needs `-f ipv6` (conntrack lists IPv4 only by default).
 */
export function conntrackList(options: {
  protocol: ConntrackProtocol;
  origDst: string;
  origPortDst: number;
}): NodeCommand {
  if (!(CONNTRACK_PROTOCOLS as readonly string[]).includes(options.protocol))
    throw new InvalidInputError(
      'protocol',
      `${JSON.stringify(String(options.protocol).slice(0, 20))} is not one of ${CONNTRACK_PROTOCOLS.join(', ')}`,
    );
  const dst = validateIp(options.origDst, 'conntrack destination');
  const port = String(validatePort(options.origPortDst, 'conntrack destination port'));
  return command(
    [
      'conntrack',
      '-L',
      ...(ipFamily(dst) === 6 ? ['-f', 'ipv6'] : []),
      '-p',
      options.protocol,
      '--orig-dst',
      dst,
      '--orig-port-dst',
      port,
    ],
    { privileged: true },
  );
}

// ---- host network managers ----

/** NetworkManager's view of every device, terse (`DEVICE:TYPE:STATE:CONNECTION`); fails where NetworkManager is not running. */
export function nmcliDeviceStatus(): NodeCommand {
  return command(['nmcli', '-t', '-f', 'DEVICE,TYPE,STATE,CONNECTION', 'device', 'status']);
}

/** systemd-networkd's links (`IDX LINK TYPE OPERATIONAL SETUP`); SETUP `unmanaged` where no .network file matches. */
export function networkctlList(): NodeCommand {
  return command(['networkctl', 'list', '--no-legend', '--no-pager']);
}

// ---- container runtimes ----

/** A pod sandbox with its network namespace path (containerd / CRI-O). */
export function crictlInspectp(id: string): NodeCommand {
  return command(['crictl', 'inspectp', '-o', 'json', validateContainerId(id, 'sandbox id')], { privileged: true });
}

/** Pod sandboxes by namespace and name. crictl's --name is a regular expression: callers match the name exactly in the JSON. */
export function crictlPods(pod: { namespace: string; name: string }): NodeCommand {
  return command(
    [
      'crictl',
      'pods',
      '--namespace',
      validateNamespace(pod.namespace),
      '--name',
      validatePodName(pod.name),
      '-o',
      'json',
    ],
    { privileged: true },
  );
}

/** Containers of one sandbox (running or not). */
export function crictlPs(options: { podId: string }): NodeCommand {
  return command(['crictl', 'ps', '-a', '--pod', validateContainerId(options.podId, 'sandbox id'), '-o', 'json'], {
    privileged: true,
  });
}

/** A docker container (SandboxKey, and NetworkMode container:<pause> for app containers). */
export function dockerInspect(id: string): NodeCommand {
  return command(['docker', 'inspect', validateContainerId(id)], { privileged: true });
}

// ---- BGP (BIRD) ----

/** calico/node's BIRD control socket (confd starts `bird -R -s /var/run/calico/bird.ctl`). */
export const CALICO_BIRD_SOCKET = '/var/run/calico/bird.ctl';
/** The socket of BIRD6, the IPv6 BGP daemon calico/node runs beside it (`bird6 -R -s /var/run/calico/bird6.ctl`). */
export const CALICO_BIRD6_SOCKET = '/var/run/calico/bird6.ctl';
const BIRD_SOCKET_PATH = /^\/[A-Za-z0-9._/-]{1,200}\.ctl$/;
/** A BIRD protocol name (BIRD's symbol syntax: letters, digits, underscores; Calico's are Mesh_10_0_0_1). */
const BIRD_PROTOCOL_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
/**
 * birdcl (the line-mode client calico-node ships, Debian's bird2 too) when present, else birdc: the socket is "$1",
 * the BIRD command words follow as positional parameters.
 */
export const BIRD_CLIENT_SCRIPT =
  's="$1"; shift; if command -v birdcl >/dev/null 2>&1; then exec birdcl -s "$s" "$@"; fi; exec birdc -s "$s" "$@"';
/** BIRD answers from memory; one that does not answer in this long is wedged. */
export const BIRD_SECONDS = 5;

/**
 * BIRD's protocols: `birdcl -s SOCKET show protocols [all [NAME]]`, falling back to `birdc -s …` on nodes without
 * birdcl (tool: 'auto'), or the named client. Reading the socket needs root.
 */
export function birdShowProtocols(
  options: { all?: boolean; name?: string; socket?: string; tool?: 'auto' | 'birdcl' | 'birdc' } = {},
): NodeCommand {
  const socket = options.socket ?? CALICO_BIRD_SOCKET;
  if (typeof socket !== 'string' || !BIRD_SOCKET_PATH.test(socket) || socket.includes('..'))
    throw new InvalidInputError(
      'socket',
      `${JSON.stringify(String(socket).slice(0, 60))} is not a BIRD control socket path`,
    );
  if (options.name !== undefined && (typeof options.name !== 'string' || !BIRD_PROTOCOL_NAME.test(options.name)))
    throw new InvalidInputError(
      'protocol',
      `${JSON.stringify(String(options.name).slice(0, 60))} is not a BIRD protocol name`,
    );
  if (options.name !== undefined && !options.all)
    throw new InvalidInputError('protocol', 'a protocol name needs `all`');
  const words = [
    'show',
    'protocols',
    ...(options.all ? ['all'] : []),
    ...(options.name === undefined ? [] : [options.name]),
  ];
  const tool = options.tool ?? 'auto';
  if (tool !== 'auto' && tool !== 'birdcl' && tool !== 'birdc')
    throw new InvalidInputError('tool', `${JSON.stringify(String(tool).slice(0, 20))} is not birdcl or birdc`);
  const argv =
    tool === 'auto'
      ? ['sh', '-c', BIRD_CLIENT_SCRIPT, 'k8snet-bird', socket, ...words]
      : [tool, '-s', socket, ...words];
  return command(['timeout', String(BIRD_SECONDS), ...argv], { privileged: true, timeoutSeconds: BIRD_SECONDS + 1 });
}

/**
 * calico-node's running containers, to reach its birdcl where the host has none. `--name` is a regular expression
 * (and older crictl ignored it with `-o json`: cri-tools#549), so callers match `calico-node` exactly in the JSON.
 */
export function crictlCalicoNodeContainers(): NodeCommand {
  return command(['crictl', 'ps', '--name', '^calico-node$', '--state', 'Running', '-o', 'json'], {
    privileged: true,
  });
}

/**
 * `birdcl -s SOCKET show protocols all` inside calico-node's container (`crictl exec`), where calico/node ships its
 * client; the socket path is the same inside, as the host's /var/run/calico is mounted there.
 */
export function crictlExecBirdShowProtocols(containerId: string, options: { socket?: string } = {}): NodeCommand {
  const id = validateContainerId(containerId, 'calico-node container id');
  const inner = birdShowProtocols({ all: true, tool: 'birdcl', ...options }).argv.slice(2); // without `timeout N`
  return command(['timeout', String(BIRD_SECONDS), 'crictl', 'exec', id, ...inner], {
    privileged: true,
    timeoutSeconds: BIRD_SECONDS + 1,
  });
}

// ---- tools present ----

const TOOL_NAME = /^[a-z][a-z0-9_+-]{0,31}$/;
/** Prints "NAME PATH" for each tool found on the node's PATH; the names arrive as positional parameters. */
export const WHICH_SCRIPT = 'for t do p=$(command -v "$t") && printf \'%s %s\\n\' "$t" "$p"; done; exit 0';

export function which(tools: readonly string[]): NodeCommand {
  if (tools.length === 0) throw new InvalidInputError('tools', 'at least one tool is required');
  for (const t of tools)
    if (typeof t !== 'string' || !TOOL_NAME.test(t))
      throw new InvalidInputError('tool', `${JSON.stringify(String(t).slice(0, 40))} is not a tool name`);
  return command(['sh', '-c', WHICH_SCRIPT, 'k8snet-which', ...tools]);
}

// ---- captures ----

/** tcpdump's filter from validated parts only: hosts and ports (any direction), and the tunnels when asked. */
export function captureFilter(spec: Pick<CaptureSpec, 'hosts' | 'ports' | 'includeTunnel'>): string | null {
  const hosts = spec.hosts.map((h) => `host ${validateIp(h, 'capture host')}`);
  const ports = spec.ports.map((p) => `port ${validatePort(p, 'capture port')}`);
  const parts: string[] = [];
  if (hosts.length > 0) parts.push(`(${hosts.join(' or ')})`);
  if (ports.length > 0) parts.push(`(${ports.join(' or ')})`);
  const selection = parts.join(' and ');
  if (!spec.includeTunnel) return selection || null;
  return selection ? `(${selection}) or (${TUNNEL_BPF})` : `(${TUNNEL_BPF})`;
}

/** The most bytes a capture can write: the file header and, per packet, a record header and at most snap bytes. */
export function captureByteBound(maxPackets: number, snapLength: number): number {
  return PCAP_FILE_HEADER_BYTES + maxPackets * (PCAP_RECORD_HEADER_BYTES + snapLength);
}

/**
 * A bounded capture writing pcap to stdout: `-U` flushes each packet (the file header first, which tells the
 * caller tcpdump is listening), `-c` stops at the packet cap, the command's timeout at the time cap, `-s` keeps
 * headers and drops payloads.
 */
export function tcpdump(spec: CaptureSpec): NodeCommand {
  const iface = validateInterfaceName(spec.interface);
  const packets = validateIntegerInRange('capture packets', spec.maxPackets, 1, CAPTURE_LIMITS.maxPackets);
  const seconds = validateIntegerInRange('capture seconds', spec.maxSeconds, 1, CAPTURE_LIMITS.maxSeconds);
  const snap = validateIntegerInRange(
    'snap length',
    spec.snapLength,
    CAPTURE_LIMITS.snapLength.min,
    CAPTURE_LIMITS.snapLength.max,
  );
  const filter = captureFilter(spec);
  const argv = [
    'tcpdump',
    '-i',
    iface,
    '-nn',
    '-U',
    '-w',
    '-',
    '-s',
    String(snap),
    '-c',
    String(packets),
    ...(filter ? [filter] : []),
  ];
  const cmd: NodeCommand = {
    argv,
    timeoutSeconds: seconds,
    maxOutputBytes: captureByteBound(packets, snap),
    privileged: true,
  };
  return spec.netns === undefined ? cmd : netnsExec(spec.netns, cmd);
}

// ---- test traffic ----

/** bash's /dev/tcp connect; the address and port are "$1" and "$2". */
export const BASH_CONNECT_SCRIPT = 'exec 3<>"/dev/tcp/$1/$2" && echo connected';
/** The same with python3, for nodes or images without bash. */
export const PYTHON_CONNECT_SCRIPT =
  'import socket,sys\nsocket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3])).close()\nprint("connected")';

/**
 * One bounded TCP connect to ip:port, from inside a pod's network namespace (or the node itself when netns is
 * null), so an idle pod pair still shows packets. Prints "connected" on success.
 */
export function testConnect(
  netns: string | null,
  ip: string,
  port: number,
  timeoutSeconds: number,
  options: { tool?: 'bash' | 'python3' } = {},
): NodeCommand {
  const address = validateIp(ip, 'destination ip');
  const p = String(validatePort(port, 'destination port'));
  const seconds = validateIntegerInRange('connect seconds', timeoutSeconds, 1, TEST_CONNECT_MAX_SECONDS);
  const argv =
    options.tool === 'python3'
      ? ['python3', '-c', PYTHON_CONNECT_SCRIPT, address, p, String(seconds)]
      : ['timeout', String(seconds), 'bash', '-c', BASH_CONNECT_SCRIPT, 'k8snet-connect', address, p];
  const cmd = command(argv, { timeoutSeconds: seconds + 1, maxOutputBytes: 1024 });
  return netns === null ? cmd : netnsExec(netns, cmd);
}
