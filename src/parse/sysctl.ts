/** `sysctl key …` lines ("net.ipv4.ip_forward = 1"; an interface name's dots print as `/`: "net.ipv4.conf.vxlan/calico.rp_filter"). Pure. */
export function sysctlValues(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/^(?<key>[a-z0-9_./-]+)\s*=\s*(?<value>.*)$/gim))
    out[m.groups!.key!] = m.groups!.value!.trim();
  return out;
}
