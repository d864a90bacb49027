/** Calico's overlays and what each costs in MTU (outer IPv4 + UDP + VXLAN + inner Ethernet = 50; outer IPv4 = 20). */
export type OverlayMode = 'vxlan' | 'ipip' | 'none';

export const OVERLAY_OVERHEAD: Record<OverlayMode, number> = { vxlan: 50, ipip: 20, none: 0 };

/** VXLAN over IPv6 (vxlan-v6.calico): outer IPv6 40 + UDP 8 + VXLAN 8 + inner Ethernet 14 (Felix's MTU detection). */
export const VXLAN_V6_OVERHEAD = 70;
