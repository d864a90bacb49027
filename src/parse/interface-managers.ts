/**
 * What the host's network managers say about each device: NetworkManager's `nmcli -t -f DEVICE,TYPE,STATE,CONNECTION
 * device status` (terse: fields split at ':', a literal ':' or '\' escaped with '\') and systemd-networkd's
 * `networkctl list --no-legend` (`IDX LINK TYPE OPERATIONAL SETUP`, the header and "N links listed." tolerated).
 * Pure; lines that are neither are kept in `unparsed`.
 */

export interface ManagedDevice {
  device: string;
  type: string;
  /** NetworkManager's STATE (`unmanaged`, `connected`, `connecting (getting IP configuration)` …) or networkd's SETUP (`unmanaged`, `configuring`, `configured`, `failed` …). */
  state: string;
  /** NetworkManager's connection profile ('' when none); networkd's OPERATIONAL state. */
  detail: string;
  line: string;
}

export interface ParsedDevices {
  devices: ManagedDevice[];
  unparsed: string[];
}

/** nmcli's terse split: ':' separates, '\:' and '\\' are the characters themselves. */
function splitTerse(line: string): string[] {
  const fields: string[] = [];
  let current = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === '\\' && i + 1 < line.length) current += line[++i]!;
    else if (c === ':') {
      fields.push(current);
      current = '';
    } else current += c;
  }
  fields.push(current);
  return fields;
}

export function parseNmcliDeviceStatus(text: string): ParsedDevices {
  const devices: ManagedDevice[] = [];
  const unparsed: string[] = [];
  for (const line of text.replace(/\r/g, '').split('\n')) {
    if (!line.trim()) continue;
    const fields = splitTerse(line);
    if (fields.length !== 4 || !fields[0] || !fields[2]) {
      unparsed.push(line);
      continue;
    }
    const [device, type, state, connection] = fields as [string, string, string, string];
    // nmcli's non-terse output writes "--" for no connection; terse output leaves it empty.
    devices.push({ device, type, state, detail: connection === '--' ? '' : connection, line });
  }
  return { devices, unparsed };
}

const NETWORKCTL_ROW =
  /^\s*(?<index>\d+)\s+(?<link>\S+)\s+(?<type>\S+)\s+(?<operational>\S+)\s+(?<setup>\S+)(?:\s+\(.*\))?\s*$/;
const NETWORKCTL_HEADER = /^\s*IDX\s+LINK\s+TYPE\s+OPERATIONAL\s+SETUP\s*$/;
const NETWORKCTL_FOOTER = /^\s*\d+ links? listed\.\s*$/;

export function parseNetworkctlList(text: string): ParsedDevices {
  const devices: ManagedDevice[] = [];
  const unparsed: string[] = [];
  for (const line of text.replace(/\r/g, '').split('\n')) {
    if (!line.trim() || NETWORKCTL_HEADER.test(line) || NETWORKCTL_FOOTER.test(line)) continue;
    const m = NETWORKCTL_ROW.exec(line);
    if (!m?.groups) {
      unparsed.push(line);
      continue;
    }
    const { link, type, operational, setup } = m.groups as Record<string, string>;
    devices.push({ device: link!, type: type!, state: setup!, detail: operational!, line: line.trim() });
  }
  return { devices, unparsed };
}
