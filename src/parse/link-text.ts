/** `ip -o link show` text, for nodes without `ip -j`: name, UP flag and MTU of each interface. Pure. */
import type { LinkFacts } from './ip-json.ts';

const LINK = /^\d+:\s+(?<name>[^:@\s]+)(?:@\S+)?:\s+<(?<flags>[^>]*)>.*?\bmtu (?<mtu>\d+)/;

export function parseIpLinkText(text: string): { links: LinkFacts[]; unparsed: string[] } {
  const links: LinkFacts[] = [];
  const unparsed: string[] = [];
  for (const raw of text.replace(/\r/g, '').split('\n')) {
    if (!raw.trim()) continue;
    const m = LINK.exec(raw.trim());
    if (!m?.groups) {
      // `ip link` without -o continues each interface on indented lines (link/ether …): not a new interface.
      if (!/^\s/.test(raw)) unparsed.push(raw);
      continue;
    }
    links.push({ name: m.groups.name!, up: m.groups.flags!.split(',').includes('UP'), mtu: Number(m.groups.mtu) });
  }
  return { links, unparsed };
}
