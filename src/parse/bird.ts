/**
 * BIRD's `show protocols [all [NAME]]` (birdcl / birdc), as BIRD 1.6 (Calico's calico-bird, `BIRD v0.3.3+birdv1.6.8`)
 * and BIRD 2 print it → one record per protocol, with the BGP details `all` adds (state, neighbour, last error). Pure.
 * Lines it cannot read are kept in `unparsed`. Reply codes (`2002-`, `1002-`, a leading space) that the control
 * socket sends raw, and which some pasted outputs keep, are stripped first.
 *
 *   BIRD 1.6: name     proto    table    state  since       info
 *             Mesh_10_0_5_102 BGP      master   start  07:05:27    Active        Socket: Connection refused
 *   BIRD 2:   Name       Proto      Table      State  Since         Info
 *             Mesh_10_254_0_12 BGP        ---        up     10:22:31.123  Established
 */
import { isIP } from 'node:net';

export interface BirdProtocol {
  name: string;
  /** BGP, Kernel, Device, Direct, Static … as printed. */
  proto: string;
  table: string;
  /** BIRD's protocol state: up, start, down, flush … */
  state: string;
  since: string;
  /** The info column: `Established`, `Active`, `Connect`, `OpenSent`, `Passive` … for BGP (the BGP state). */
  info: string;
  /** What the info column says after the BGP state (`Socket: Connection refused`), or `Last error:` from `all`. */
  lastError: string | null;
  /** `BGP state:` from `all` (absent without it: then info's first word is the BGP state). */
  bgpState: string | null;
  /** `Neighbor address:` from `all`, else the address Calico's protocol name carries (Mesh_10_0_0_1 → 10.0.0.1). */
  neighborAddress: string | null;
  neighborAs: number | null;
  /** `Routes: 3 imported, 0 filtered, 1 exported` from `all`. */
  routesImported: number | null;
  routesExported: number | null;
}

export interface BirdProtocols {
  /** `BIRD 2.0.12` / `BIRD v0.3.3+birdv1.6.8` from the greeting, when printed. */
  version: string | null;
  protocols: BirdProtocol[];
  unparsed: string[];
}

/** Calico's BGP protocol names (confd's bird.cfg.template): Mesh_ (node-to-node mesh), Node_ (per-node peer), Global_. */
const CALICO_PEER_NAME = /^(?<kind>Mesh|Node|Global)_(?<address>\d+_\d+_\d+_\d+|[0-9a-f_]+)$/i;
const REPLY_CODE = /^(?:\d{4}[- ]| (?=\S))/;
const GREETING = /^(?<version>BIRD \S+) ready\.$/;
const HEADER = /^name\s+proto\s+table\s+state\s+since\s+info\s*$/i;
/** `since` is one token (10:22:31, 10:22:31.123, 2018-01-18) or a date and a time (`iso long`). */
const PROTOCOL_LINE =
  /^(?<name>\S+)\s+(?<proto>[A-Z][A-Za-z0-9]*)\s+(?<table>\S+)\s+(?<state>up|down|start|stop|flush|feed|wait)\s+(?<since>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?|\S+)(?:\s+(?<info>.*?))?\s*$/;
const DETAIL = /^\s+(?<key>[A-Za-z][A-Za-z .]*?):\s*(?<value>.*?)\s*$/;
const ROUTES = /(?<imported>\d+) imported(?:, \d+ filtered)?, (?<exported>\d+) exported/;
/** BGP's FSM states as BIRD prints them in the info column (RFC 4271 §8.2.2, plus BIRD's Idle/Passive). */
const BGP_STATES = ['Idle', 'Connect', 'Active', 'OpenSent', 'OpenConfirm', 'Established', 'Close', 'Passive', 'Down'];

/** The peer address in a Calico protocol name: confd writes each `.` (bird.cfg) or `:` (bird6.cfg) as `_`. */
function addressFromName(name: string): string | null {
  const m = CALICO_PEER_NAME.exec(name);
  if (!m?.groups) return null;
  const a = m.groups.address!;
  if (/^\d+_\d+_\d+_\d+$/.test(a)) return a.replaceAll('_', '.');
  const v6 = a.replaceAll('_', ':');
  return isIP(v6) === 6 ? v6 : null;
}

function splitInfo(info: string): { state: string | null; rest: string | null } {
  const [first, ...rest] = info.split(/\s+/);
  if (first && BGP_STATES.includes(first)) return { state: first, rest: rest.join(' ').trim() || null };
  return { state: null, rest: info || null };
}

export function parseBirdProtocols(text: string): BirdProtocols {
  const protocols: BirdProtocol[] = [];
  const unparsed: string[] = [];
  let version: string | null = null;
  let current: BirdProtocol | null = null;
  for (const rawLine of text.split('\n')) {
    const line = rawLine.replace(/\r$/, '');
    if (line.trim() === '') continue;
    // A code-prefixed line (raw socket) loses its code; a detail line keeps its indentation.
    const coded = /^\d{4}[- ]/.test(line);
    const stripped = coded ? line.slice(5) : line;
    if (line.trim() === '0000') continue;
    const greeting = GREETING.exec(stripped.trim());
    if (greeting) {
      version = greeting.groups!.version!;
      continue;
    }
    if (HEADER.test(stripped.trim())) continue;
    if (stripped.trim() === 'Access restricted') continue;
    const detail = /^\s{2,}|^\t/.test(stripped) ? DETAIL.exec(stripped) : null;
    if (detail && current) {
      const key = detail.groups!.key!;
      const value = detail.groups!.value!;
      if (key === 'BGP state') current.bgpState = value;
      else if (key === 'Neighbor address') current.neighborAddress = value.split('%')[0]!;
      else if (key === 'Neighbor AS') current.neighborAs = Number(value);
      else if (key === 'Last error') current.lastError = value;
      else if (key === 'Routes') {
        const r = ROUTES.exec(value);
        if (r) {
          current.routesImported = Number(r.groups!.imported);
          current.routesExported = Number(r.groups!.exported);
        }
      }
      continue;
    }
    if (detail) {
      unparsed.push(line);
      continue;
    }
    const m = PROTOCOL_LINE.exec(stripped.replace(REPLY_CODE, '').trimStart());
    if (m?.groups) {
      const g = m.groups;
      const info = (g.info ?? '').trim();
      const isBgp = g.proto === 'BGP';
      const split = isBgp ? splitInfo(info) : { state: null, rest: null };
      current = {
        name: g.name!,
        proto: g.proto!,
        table: g.table!,
        state: g.state!,
        since: g.since!,
        info,
        lastError: split.rest,
        bgpState: null,
        neighborAddress: isBgp ? addressFromName(g.name!) : null,
        neighborAs: null,
        routesImported: null,
        routesExported: null,
      };
      protocols.push(current);
      continue;
    }
    // Detail lines we do not read (Description, Preference, filters, route change stats, timers…) are not lost
    // information for our purposes, but anything else is kept.
    if (/^\s/.test(stripped) && current) continue;
    unparsed.push(line);
  }
  return { version, protocols, unparsed };
}

/** The BGP sessions among the protocols, with the state to judge them by (the `all` detail, else the info column). */
export function bgpSessions(parsed: BirdProtocols): (BirdProtocol & { session: string })[] {
  return parsed.protocols
    .filter((p) => p.proto === 'BGP')
    .map((p) => ({
      ...p,
      session: p.bgpState ?? splitInfo(p.info).state ?? (p.state === 'up' ? 'Established' : p.state),
    }));
}
