/**
 * What Calico names and addresses on a node, as Felix and the CNI plugin make them. Production code reads nodes by
 * these names; the lab builds its nodes with the same ones, so both import them from here.
 */
import { createHash } from 'node:crypto';

/** Calico's VXLAN defaults (Felix: VXLANVNI 4096, VXLANPort 4789, device vxlan.calico; IPv6: vxlan-v6.calico). */
export const CALICO_VXLAN = { device: 'vxlan.calico', deviceV6: 'vxlan-v6.calico', vni: 4096, port: 4789 } as const;
/** Calico's IP-in-IP device. */
export const CALICO_IPIP_DEVICE = 'tunl0';
/** The tunnel devices Felix may own on a node. */
export const CALICO_TUNNEL_DEVICES: readonly string[] = [
  CALICO_VXLAN.device,
  CALICO_VXLAN.deviceV6,
  CALICO_IPIP_DEVICE,
];
/** Calico's WireGuard devices (Felix's wireguardInterfaceName / wireguardInterfaceNameV6 defaults). */
export const CALICO_WIREGUARD_DEVICES: readonly string[] = ['wireguard.cali', 'wg-v6.cali'];

/**
 * A device Felix or Calico's CNI plugin owns: a workload's `cali*` veth, a tunnel or WireGuard device. Calico's docs
 * tell NetworkManager to leave exactly these alone (`unmanaged-devices=interface-name:cali*;interface-name:tunl*;
 * interface-name:vxlan.calico;interface-name:vxlan-v6.calico;interface-name:wireguard.cali;interface-name:wg-v6.cali`).
 */
export function isCalicoDevice(name: string): boolean {
  return (
    name.startsWith('cali') ||
    name.startsWith('tunl') ||
    CALICO_TUNNEL_DEVICES.includes(name) ||
    CALICO_WIREGUARD_DEVICES.includes(name)
  );
}

/** Calico answers pods' ARP for this gateway by proxy ARP on the host side of the veth. */
export const CALICO_POD_GATEWAY = '169.254.1.1';
/**
 * A pod's IPv6 default gateway: the link-local address the kernel derives (EUI-64) from the cali interface's MAC
 * ee:ee:ee:ee:ee:ee, so the host answers neighbour solicitations for it without proxy NDP.
 */
export const CALICO_POD_GATEWAY_V6 = 'fe80::ecee:eeff:feee:eeee';

/** The gateway a pod's default route of that family goes via. */
export function calicoPodGateway(family: 4 | 6): string {
  return family === 6 ? CALICO_POD_GATEWAY_V6 : CALICO_POD_GATEWAY;
}

/** Calico's host-side veth name: "cali" + the first 11 hex digits of sha1("<namespace>.<pod>") (libcalico-go VethNameForWorkload). */
export function caliInterfaceName(namespace: string, pod: string): string {
  return `cali${createHash('sha1').update(`${namespace}.${pod}`).digest('hex').slice(0, 11)}`;
}
