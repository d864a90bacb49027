/**
 * `conntrack -L` (conntrack-tools) → connection tracking entries. Pure. An entry is one line: the protocol, its
 * number, the seconds left, the TCP/SCTP state, then the original direction's tuple, the reply direction's tuple and
 * flags — `tcp 6 119 SYN_SENT src=A dst=VIP sport=P dport=80 [UNREPLIED] src=EP dst=A sport=8080 dport=P mark=0 use=1`.
 * A reply tuple whose source is not the original destination is the DNAT (kube-proxy's Service → endpoint). `-o
 * extended` lines (`ipv4 2 tcp 6 …`) read the same. The "N flow entries have been shown." summary is not an entry;
 * other lines are kept in `unparsed`.
 */

export interface ConntrackTuple {
  src: string;
  dst: string;
  /** null for protocols without ports (ICMP has type/code/id instead). */
  sport: number | null;
  dport: number | null;
}

export interface ConntrackEntry {
  /** `tcp`, `udp`, `sctp`, `icmp` … as conntrack names it. */
  protocol: string;
  /** Seconds until the entry expires. */
  timeout: number;
  /** TCP or SCTP state (`SYN_SENT`, `ESTABLISHED`, `NONE` …); null for protocols without one (UDP, ICMP). */
  state: string | null;
  original: ConntrackTuple;
  reply: ConntrackTuple;
  /** `[UNREPLIED]`: no packet was seen in the reply direction. */
  unreplied: boolean;
  /** `[ASSURED]`: traffic was seen both ways and the entry will not be evicted early. */
  assured: boolean;
  zone: number | null;
  raw: string;
}

export interface ParsedConntrack {
  entries: ConntrackEntry[];
  unparsed: string[];
}

/** conntrack-tools' closing line on stderr or stdout: "conntrack v1.4.7 (conntrack-tools): 2 flow entries have been shown." */
const SUMMARY = /^conntrack v[\d.]+ \(conntrack-tools\): \d+ flow entr(?:y|ies) ha(?:s|ve) been \w+\.$/;
const HEAD =
  /^(?:(?:ipv4|ipv6)\s+\d+\s+)?(?<protocol>[a-z][a-z0-9-]*)\s+(?<number>\d+)\s+(?<timeout>\d+)\s+(?:(?<state>[A-Z][A-Z_]*)\s+)?(?<rest>src=.*)$/;
const FIELD = /^(?<key>[a-z_-]+)=(?<value>\S*)$/;

function tupleFrom(fields: Map<string, string>): ConntrackTuple | null {
  const src = fields.get('src');
  const dst = fields.get('dst');
  if (src === undefined || dst === undefined) return null;
  const port = (key: string) => {
    const v = fields.get(key);
    return v !== undefined && /^\d+$/.test(v) ? Number(v) : null;
  };
  return { src, dst, sport: port('sport'), dport: port('dport') };
}

function entryFrom(line: string): ConntrackEntry | null {
  const m = HEAD.exec(line);
  if (!m?.groups) return null;
  // Each direction's tuple starts at its `src=`; flags and the entry's own fields (mark, zone, use) follow the reply's.
  const directions: Map<string, string>[] = [];
  const flags = new Set<string>();
  for (const word of m.groups.rest!.split(/\s+/)) {
    if (word.startsWith('[') && word.endsWith(']')) {
      flags.add(word.slice(1, -1));
      continue;
    }
    const f = FIELD.exec(word);
    if (!f?.groups) return null;
    const { key, value } = f.groups as { key: string; value: string };
    if (key === 'src' && directions.length < 2) directions.push(new Map());
    if (!directions.at(-1)!.has(key)) directions.at(-1)!.set(key, value);
  }
  if (directions.length !== 2) return null;
  const original = tupleFrom(directions[0]!);
  const reply = tupleFrom(directions[1]!);
  if (!original || !reply) return null;
  const zone = directions[1]!.get('zone');
  return {
    protocol: m.groups.protocol!,
    timeout: Number(m.groups.timeout),
    state: m.groups.state ?? null,
    original,
    reply,
    unreplied: flags.has('UNREPLIED'),
    assured: flags.has('ASSURED'),
    zone: zone !== undefined && /^\d+$/.test(zone) ? Number(zone) : null,
    raw: line,
  };
}

export function parseConntrack(text: string): ParsedConntrack {
  const entries: ConntrackEntry[] = [];
  const unparsed: string[] = [];
  for (const raw of text.replace(/\r/g, '').split('\n')) {
    const line = raw.trim().replace(/\s+/g, ' ');
    if (!line || SUMMARY.test(line)) continue;
    const entry = entryFrom(line);
    if (entry) entries.push(entry);
    else unparsed.push(raw);
  }
  return { entries, unparsed };
}

/** Where the connection was sent instead of its original destination (a DNAT), or null when it was not translated. */
export function dnatTarget(entry: ConntrackEntry): { ip: string; port: number | null } | null {
  const { original, reply } = entry;
  if (reply.src === original.dst && reply.sport === original.dport) return null;
  return { ip: reply.src, port: reply.sport };
}

/** The source the reply goes back to when it is not the original source (SNAT/MASQUERADE), else null. */
export function snatSource(entry: ConntrackEntry): { ip: string; port: number | null } | null {
  const { original, reply } = entry;
  if (reply.dst === original.src && reply.dport === original.sport) return null;
  return { ip: reply.dst, port: reply.dport };
}
