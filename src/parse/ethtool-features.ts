/**
 * `ethtool -k IF` ("Features for vxlan.calico:" then "name: on|off [fixed]" lines, sub-features indented). Pure; lines
 * that are not a feature are kept, not dropped.
 */
export interface EthtoolFeature {
  on: boolean;
  /** `[fixed]`: the driver does not let it change. */
  fixed: boolean;
  /** The line as printed, trimmed (evidence). */
  line: string;
}

export interface EthtoolFeatures {
  interface: string | null;
  features: Record<string, EthtoolFeature>;
  unparsed: string[];
}

const FEATURE = /^\s*(?<name>[a-z0-9][a-z0-9_-]*):\s+(?<state>on|off)(?:\s+\[(?<note>[a-z ]+)\])?\s*$/;
const HEADER = /^Features for (?<ifname>\S+):\s*$/;

export function parseEthtoolFeatures(text: string): EthtoolFeatures {
  const out: EthtoolFeatures = { interface: null, features: {}, unparsed: [] };
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const header = HEADER.exec(line);
    if (header) {
      out.interface = header.groups!.ifname!;
      continue;
    }
    const m = FEATURE.exec(line);
    if (!m?.groups) {
      out.unparsed.push(line);
      continue;
    }
    out.features[m.groups.name!] = { on: m.groups.state === 'on', fixed: m.groups.note === 'fixed', line: line.trim() };
  }
  return out;
}
