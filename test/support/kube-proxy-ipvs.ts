/**
 * kube-proxy's IPVS-mode KUBE-IPVS-FILTER as iptables-restore input, line for line what pkg/proxy/ipvs/proxier.go's
 * writeIptablesRules writes: RETURN for every Service set, then REJECT of NEW connections to any address kube-proxy
 * bound to kube-ipvs0 (KUBE-IPVS-IPS).
 */
export const KUBE_IPVS_FILTER = [
  '*filter',
  ':KUBE-IPVS-FILTER - [0:0]',
  '-A INPUT -m comment --comment "kubernetes ipvs access filter" -j KUBE-IPVS-FILTER',
  '-A KUBE-IPVS-FILTER -m set --match-set KUBE-LOAD-BALANCER dst,dst -j RETURN',
  '-A KUBE-IPVS-FILTER -m set --match-set KUBE-CLUSTER-IP dst,dst -j RETURN',
  '-A KUBE-IPVS-FILTER -m set --match-set KUBE-EXTERNAL-IP dst,dst -j RETURN',
  '-A KUBE-IPVS-FILTER -m set --match-set KUBE-EXTERNAL-IP-LOCAL dst,dst -j RETURN',
  '-A KUBE-IPVS-FILTER -m set --match-set KUBE-HEALTH-CHECK-NODE-PORT dst -j RETURN',
  '-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst -j REJECT',
  'COMMIT',
  '',
].join('\n');
