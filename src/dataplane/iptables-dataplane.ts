/** kube-proxy's iptables mode: nat holds the DNAT path, filter its REJECTs for Services without endpoints. */
import { iptablesSave } from '../node/catalogue.ts';
import type { ServiceDataplane } from './service-dataplane.ts';
import { kubeProxyWalk, nodePortsInSave } from './iptables-walk.ts';

export const iptablesDataplane: ServiceDataplane = {
  mode: 'iptables',
  commands: (family = 4) => [iptablesSave('nat', { family }), iptablesSave('filter', { family })],
  walk: ([nat = '', filter = ''], entry) => kubeProxyWalk(`${nat}\n${filter}`, entry),
  nodePorts: ([nat = '']) => nodePortsInSave(nat),
};
