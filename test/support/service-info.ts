/** A NodePort Service as the cluster adapter returns it (src/cluster/types.ts ServiceInfo), for unit tests. */
import type { ServiceInfo } from '../../src/cluster/types.ts';

export function nodePortService(s: {
  name: string;
  clusterIP: string;
  selector: Record<string, string>;
  port: number;
  targetPort: number;
  nodePort: number;
}): ServiceInfo {
  return {
    name: s.name,
    namespace: 'default',
    type: 'NodePort',
    clusterIP: s.clusterIP,
    clusterIPs: [s.clusterIP],
    selector: s.selector,
    ports: [{ name: null, protocol: 'TCP', port: s.port, targetPort: s.targetPort, nodePort: s.nodePort }],
    externalTrafficPolicy: 'Cluster',
  };
}
