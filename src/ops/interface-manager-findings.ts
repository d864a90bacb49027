/**
 * A host network manager that manages Calico's devices: NetworkManager or systemd-networkd taking `cali*`,
 * `vxlan.calico`, `tunl0` … as its own (DHCP, addresses, routes), which removes what Felix programs. Calico's docs
 * tell users to mark them unmanaged. Pure; a node without the tools has no such facts and no finding.
 */
import type { Finding } from '../model/report.ts';
import { isCalicoDevice } from '../calico/naming.ts';
import type { ManagedDevice } from '../parse/interface-managers.ts';

export type InterfaceManager = 'NetworkManager' | 'systemd-networkd';

/** One tool's answer on one node: the command as run and the devices it listed. */
export interface InterfaceManagerReading {
  tool: InterfaceManager;
  command: string;
  devices: ManagedDevice[];
}

/** Where Calico says so, quoted in the evidence. */
export const CALICO_NETWORKMANAGER_DOC =
  'https://docs.tigera.io/calico/latest/operations/troubleshoot/troubleshooting#configure-networkmanager';
const FIX: Record<InterfaceManager, string> = {
  NetworkManager:
    '/etc/NetworkManager/conf.d/calico.conf: [keyfile] unmanaged-devices=interface-name:cali*;interface-name:tunl*;interface-name:vxlan.calico;interface-name:vxlan-v6.calico;interface-name:wireguard.cali;interface-name:wg-v6.cali',
  'systemd-networkd': 'a .network file whose [Match] Name=cali* tunl* vxlan.calico … has [Link] Unmanaged=yes',
};

/**
 * States in which the tool is configuring the device right now (a problem); any other state but unmanaged means it
 * claims the device and may at any moment (a warning).
 */
function activelyConfigures(tool: InterfaceManager, state: string): boolean {
  if (tool === 'NetworkManager')
    return (
      (state.startsWith('connect') && state !== 'connected (externally)') ||
      state.startsWith('deactivating') ||
      state.startsWith('ip-')
    );
  return state === 'configuring' || state === 'configured';
}

export function interfaceManagerFindings(node: string, readings: readonly InterfaceManagerReading[] | null): Finding[] {
  const out: Finding[] = [];
  for (const r of readings ?? []) {
    const claimed = r.devices.filter((d) => isCalicoDevice(d.device) && d.state !== 'unmanaged');
    if (claimed.length === 0) continue;
    const active = claimed.filter((d) => activelyConfigures(r.tool, d.state));
    const names = claimed.map((d) => `${d.device} (${d.state})`).join(', ');
    out.push({
      severity: active.length > 0 ? 'error' : 'warning',
      code: 'interface_manager_owns_calico_device',
      message: `${r.tool} on ${node} manages Calico's ${claimed.length === 1 ? 'device' : 'devices'} ${names}: it can remove the addresses and routes Felix programs there; Calico's docs say to mark them unmanaged`,
      evidence: [
        `${r.command} on ${node}:`,
        ...claimed.map((d) => d.line),
        `Calico: ${CALICO_NETWORKMANAGER_DOC} — ${FIX[r.tool]}`,
      ].join('\n'),
    });
  }
  return out;
}
