/**
 * Parses `iptables-save` / `ip6tables-save` output, with or without `-c`, into tables → chains → rules, in order.
 * Pure. Several tables in one text (`*filter` … `COMMIT`) are kept apart; a bare excerpt with no `*table` header
 * (`iptables-save | grep cali-tw-`) is read into the table named by `defaultTable`. Lines it cannot read are kept in
 * `unparsed` with their line number, never dropped.
 *
 * Counters: `iptables-save -c` prints `[pkts:bytes]` before each `-A` and after each chain policy
 * (`:FORWARD DROP [12:720]`). They are kept as JavaScript numbers: exact up to 2^53 (9 PB of bytes), which a
 * node's counters do not reach between reboots.
 */

export interface Counters {
  packets: number;
  bytes: number;
}

export interface AddressMatch {
  value: string;
  negated: boolean;
}

export interface SetMatch {
  name: string;
  /** `src`, `dst`, `src,dst` … as written after the set name. */
  flags: string;
  negated: boolean;
}

export interface MarkMatch {
  value: number;
  /** 0xffffffff when the rule gave no mask. */
  mask: number;
  negated: boolean;
}

export interface RuleMatches {
  source: AddressMatch | null;
  destination: AddressMatch | null;
  protocol: AddressMatch | null;
  inInterface: AddressMatch | null;
  outInterface: AddressMatch | null;
  /** `--dport`, or `--dports` of `-m multiport`, as written (`53`, `80,443`, `30000:32767`). */
  dport: AddressMatch | null;
  sport: AddressMatch | null;
  /** Every `-m comment --comment`, unquoted, in order. Felix's `cali:<hash>` rule id is one of them. */
  comments: string[];
  sets: SetMatch[];
  marks: MarkMatch[];
  ctstate: { states: string[]; negated: boolean } | null;
}

export interface RuleTarget {
  /** `-j` jumps (and returns); `-g` goes to a chain and never returns to this one. */
  kind: 'jump' | 'goto';
  name: string;
  /** The target's own options, in order (`--reject-with icmp-port-unreachable`, `--set-xmark 0x10000/0x10000`). */
  args: string[];
  /** `--to-destination` of DNAT. */
  toDestination: string | null;
  /** MARK's `--set-xmark` / `--set-mark` value and mask. */
  setMark: { value: number; mask: number } | null;
}

export interface IptablesRule {
  table: string;
  chain: string;
  /** 0-based position in the chain, as iptables-save printed it. */
  position: number;
  /** The rule line without its counters: `-A chain …`. */
  raw: string;
  /** Arguments after `-A chain`, unquoted. */
  args: string[];
  matches: RuleMatches;
  target: RuleTarget | null;
  /** null when the save was taken without `-c`. */
  packets: number | null;
  bytes: number | null;
}

export interface IptablesChain {
  name: string;
  /** `ACCEPT`/`DROP` for built-in chains, null for user chains (`-`). */
  policy: string | null;
  /** The policy line's counters (`:FORWARD DROP [12:720]`); null for user chains and saves without counters. */
  policyCounters: Counters | null;
  rules: IptablesRule[];
}

export interface IptablesTable {
  name: string;
  chains: Map<string, IptablesChain>;
}

export interface UnparsedLine {
  lineNumber: number;
  line: string;
}

export interface IptablesSave {
  /** By table name, in the order they appeared. */
  tables: Map<string, IptablesTable>;
  unparsed: UnparsedLine[];
  /** Whether any counters were seen (`iptables-save -c`). */
  withCounters: boolean;
}

export interface ParseOptions {
  /** Table for rules seen before any `*table` header (a grep'd excerpt). Default `filter`. */
  defaultTable?: string;
}

const RULE = /^(?:\[(?<pkts>\d+):(?<bytes>\d+)\]\s+)?-A\s+(?<chain>\S+)(?:\s+(?<rest>.*))?$/;
const CHAIN = /^:(?<chain>\S+)\s+(?<policy>\S+)(?:\s+\[(?<pkts>\d+):(?<bytes>\d+)\])?\s*$/;
const TABLE = /^\*(?<table>\S+)\s*$/;

/**
 * Splits rule arguments the way iptables-save wrote them: words separated by spaces, and double-quoted strings in
 * which `\"` and `\\` stand for `"` and `\` (xtables' save_string escaping). A line without quotes takes the fast
 * path of a plain split.
 */
export function tokenizeRule(text: string): string[] {
  if (!text.includes('"')) return text.split(' ').filter((t) => t !== '');
  const out: string[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    while (i < n && (text[i] === ' ' || text[i] === '\t')) i++;
    if (i >= n) break;
    let token = '';
    while (i < n && text[i] !== ' ' && text[i] !== '\t') {
      if (text[i] === '"') {
        i++;
        while (i < n && text[i] !== '"') {
          if (text[i] === '\\' && i + 1 < n) i++;
          token += text[i];
          i++;
        }
        i++; // closing quote (or end of an unterminated string)
      } else {
        token += text[i];
        i++;
      }
    }
    out.push(token);
  }
  return out;
}

/** A rule that matches everything (no options yet); the Felix nftables reader fills one per rule too. */
export function emptyMatches(): RuleMatches {
  return {
    source: null,
    destination: null,
    protocol: null,
    inInterface: null,
    outInterface: null,
    dport: null,
    sport: null,
    comments: [],
    sets: [],
    marks: [],
    ctstate: null,
  };
}

/** `0x10000/0x10000`, `0x4000`, `16384` → value and mask. */
export function parseMarkValue(text: string): { value: number; mask: number } | null {
  const [v, m] = text.split('/');
  const value = Number(v);
  const mask = m === undefined ? 0xffffffff : Number(m);
  if (!Number.isFinite(value) || !Number.isFinite(mask)) return null;
  return { value: value >>> 0, mask: mask >>> 0 };
}

/** Options that take one value and that we read into `matches`; `!` before either the option or the value negates. */
const SINGLE: Record<
  string,
  keyof Pick<RuleMatches, 'source' | 'destination' | 'protocol' | 'inInterface' | 'outInterface' | 'dport' | 'sport'>
> = {
  '-s': 'source',
  '--source': 'source',
  '-d': 'destination',
  '--destination': 'destination',
  '-p': 'protocol',
  '--protocol': 'protocol',
  '-i': 'inInterface',
  '--in-interface': 'inInterface',
  '-o': 'outInterface',
  '--out-interface': 'outInterface',
  '--dport': 'dport',
  '--dports': 'dport',
  '--destination-port': 'dport',
  '--destination-ports': 'dport',
  '--sport': 'sport',
  '--sports': 'sport',
  '--source-port': 'sport',
  '--source-ports': 'sport',
};

/** Reads the arguments after `-A chain` into matches and target. */
export function readRuleArgs(args: readonly string[]): { matches: RuleMatches; target: RuleTarget | null } {
  const matches = emptyMatches();
  let target: RuleTarget | null = null;
  let negate = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '!') {
      negate = true;
      continue;
    }
    const key = SINGLE[a];
    if (key !== undefined) {
      let value = args[i + 1] ?? '';
      let neg = negate;
      if (value === '!') {
        neg = true;
        value = args[i + 2] ?? '';
        i++;
      }
      matches[key] = { value, negated: neg };
      i++;
    } else if (a === '--comment') {
      matches.comments.push(args[i + 1] ?? '');
      i++;
    } else if (a === '--match-set') {
      matches.sets.push({ name: args[i + 1] ?? '', flags: args[i + 2] ?? '', negated: negate });
      i += 2;
    } else if (a === '--mark' && target === null) {
      const m = parseMarkValue(args[i + 1] ?? '');
      if (m) matches.marks.push({ ...m, negated: negate });
      i++;
    } else if (a === '--ctstate' || a === '--state') {
      matches.ctstate = { states: (args[i + 1] ?? '').split(','), negated: negate };
      i++;
    } else if (a === '-j' || a === '--jump' || a === '-g' || a === '--goto') {
      const targetArgs = args.slice(i + 2);
      target = {
        kind: a === '-g' || a === '--goto' ? 'goto' : 'jump',
        name: args[i + 1] ?? '',
        args: targetArgs,
        toDestination: null,
        setMark: null,
      };
      for (let j = 0; j < targetArgs.length; j++) {
        const t = targetArgs[j]!;
        if (t === '--to-destination') target.toDestination = targetArgs[j + 1] ?? null;
        if (t === '--set-xmark' || t === '--set-mark') target.setMark = parseMarkValue(targetArgs[j + 1] ?? '');
      }
      break; // everything after the target belongs to it
    }
    negate = false;
  }
  return { matches, target };
}

export function parseIptablesSave(text: string, options: ParseOptions = {}): IptablesSave {
  const tables = new Map<string, IptablesTable>();
  const unparsed: UnparsedLine[] = [];
  let withCounters = false;
  let current: IptablesTable | null = null;
  const table = (name: string): IptablesTable => {
    let t = tables.get(name);
    if (!t) {
      t = { name, chains: new Map() };
      tables.set(name, t);
    }
    return t;
  };
  const chainOf = (t: IptablesTable, name: string): IptablesChain => {
    let c = t.chains.get(name);
    if (!c) {
      c = { name, policy: null, policyCounters: null, rules: [] };
      t.chains.set(name, c);
    }
    return c;
  };
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.trim();
    if (line === '' || line.startsWith('#')) {
      if (line.startsWith('# ')) unparsed.push({ lineNumber: n + 1, line });
      continue;
    }
    const first = line[0];
    if (first === '-' || first === '[') {
      const m = RULE.exec(line);
      if (!m?.groups) {
        unparsed.push({ lineNumber: n + 1, line });
        continue;
      }
      const t = current ?? table(options.defaultTable ?? 'filter');
      const c = chainOf(t, m.groups.chain!);
      const rest = m.groups.rest ?? '';
      const args = tokenizeRule(rest);
      const { matches, target } = readRuleArgs(args);
      const counted = m.groups.pkts !== undefined;
      if (counted) withCounters = true;
      c.rules.push({
        table: t.name,
        chain: c.name,
        position: c.rules.length,
        raw: rest === '' ? `-A ${c.name}` : `-A ${c.name} ${rest}`,
        args,
        matches,
        target,
        packets: counted ? Number(m.groups.pkts) : null,
        bytes: counted ? Number(m.groups.bytes) : null,
      });
      continue;
    }
    if (first === ':') {
      const m = CHAIN.exec(line);
      if (!m?.groups) {
        unparsed.push({ lineNumber: n + 1, line });
        continue;
      }
      const c = chainOf(current ?? table(options.defaultTable ?? 'filter'), m.groups.chain!);
      c.policy = m.groups.policy === '-' ? null : m.groups.policy!;
      if (m.groups.pkts !== undefined) {
        withCounters = true;
        if (c.policy !== null) c.policyCounters = { packets: Number(m.groups.pkts), bytes: Number(m.groups.bytes) };
      }
      continue;
    }
    if (first === '*') {
      const m = TABLE.exec(line);
      if (m?.groups) {
        current = table(m.groups.table!);
        continue;
      }
    }
    if (line === 'COMMIT') {
      current = null;
      continue;
    }
    unparsed.push({ lineNumber: n + 1, line });
  }
  return { tables, unparsed, withCounters };
}

/** The rules of one chain of one table, or an empty list. */
export function chainRules(save: IptablesSave, tableName: string, chain: string): IptablesRule[] {
  return save.tables.get(tableName)?.chains.get(chain)?.rules ?? [];
}
