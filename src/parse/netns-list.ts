/** `ip netns list`, the namespace directories' listing and `ip -o addr show` → names, refs and addresses. Pure. */
import { netnsRefOrNull, parseJsonOrNull } from './runtime-sandbox.ts';

/** Names from `ip netns list` ("cni-1b2c (id: 0)" per line) or `ip -j netns list`; odd lines are skipped. */
export function netnsNamesFromList(text: string): string[] {
  const trimmed = text.trim();
  const names = trimmed.startsWith('[')
    ? ((parseJsonOrNull(trimmed) as { name?: string }[] | null) ?? []).map((n) => n.name ?? '')
    : trimmed.split('\n').map((l) => /^(?<name>\S+)(?:\s+\(id: \d+\))?\s*$/.exec(l.trim())?.groups?.name ?? '');
  return names.filter((n) => n && netnsRefOrNull(n) !== null);
}

/** Paths from `find /var/run/netns /var/run/docker/netns -mindepth 1 -maxdepth 1`, as namespace refs. */
export function netnsRefsFromDir(text: string): string[] {
  return text
    .split('\n')
    .map((l) => netnsRefOrNull(l.trim()))
    .filter((r): r is string => r !== null);
}

/** Addresses in `ip -o addr show` output ("2: eth0    inet 10.244.1.5/32 scope global eth0\ …"). */
export function addressesFromIpOneLine(text: string): { ifname: string; ip: string; prefix: number }[] {
  const out: { ifname: string; ip: string; prefix: number }[] = [];
  for (const m of text.matchAll(/^\d+:\s+(?<ifname>[^\s:]+)\s+inet6?\s+(?<ip>[0-9a-fA-F.:]+)\/(?<prefix>\d+)/gm)) {
    out.push({ ifname: m.groups!.ifname!.replace(/@.*$/, ''), ip: m.groups!.ip!, prefix: Number(m.groups!.prefix) });
  }
  return out;
}
