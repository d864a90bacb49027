/**
 * Reads BIRD's protocols on a node wherever its client lives. On a Calico node the control socket
 * (/var/run/calico/bird.ctl) is on the host, mounted from calico-node, but `birdcl` usually exists only inside the
 * calico-node container; a host with bird2 installed has it (or `birdc`) itself. So: host birdcl, host birdc, then
 * `crictl exec <calico-node container> birdcl` — each from the catalogue, each failure kept for the evidence.
 */
import type { NodeShell, NodeTarget } from '../node/types.ts';
import {
  CALICO_BIRD6_SOCKET,
  CALICO_BIRD_SOCKET,
  birdShowProtocols,
  crictlCalicoNodeContainers,
  crictlExecBirdShowProtocols,
} from '../node/catalogue.ts';
import { containersFromCrictlPs } from '../parse/runtime-sandbox.ts';
import { bgpSessions, parseBirdProtocols, type BirdProtocols } from '../parse/bird.ts';
import { validateContainerId } from '../validate.ts';
import { describeError } from '../errors.ts';
import { runOk } from './node-facts.ts';

/** The container calico/node's manifest and the operator both name `calico-node`. */
const CALICO_NODE_CONTAINER = 'calico-node';

export type BirdRead =
  { bird: BirdProtocols; via: string; failed: string[] } | { bird: null; error: string; failed: string[] };

/** The running calico-node container's id from `crictl ps -o json` (exact name: crictl's --name is a regex). */
export function calicoNodeContainerId(crictlPsJson: string): string | null {
  for (const c of containersFromCrictlPs(crictlPsJson)) {
    if (c.name !== CALICO_NODE_CONTAINER || c.state !== 'CONTAINER_RUNNING') continue;
    try {
      return validateContainerId(c.id);
    } catch {
      continue; // not an id we would pass to crictl exec
    }
  }
  return null;
}

/** BIRD's protocols for `family`: BIRD's socket for IPv4, BIRD6's (bird6.ctl, calico/node's IPv6 daemon) for IPv6. */
export async function readBirdProtocols(
  shell: NodeShell,
  node: NodeTarget,
  signal: AbortSignal,
  family: 4 | 6 = 4,
): Promise<BirdRead> {
  const socket = family === 6 ? CALICO_BIRD6_SOCKET : CALICO_BIRD_SOCKET;
  const daemon = family === 6 ? 'BIRD6' : 'BIRD';
  const failed: string[] = [];
  for (const tool of ['birdcl', 'birdc'] as const) {
    try {
      const text = await runOk(shell, node, birdShowProtocols({ all: true, tool, socket }), signal);
      return { bird: parseBirdProtocols(text), via: `host ${tool}`, failed };
    } catch (err) {
      failed.push(`host ${tool}: ${describeError(err)}`);
    }
  }
  try {
    const id = calicoNodeContainerId(await runOk(shell, node, crictlCalicoNodeContainers(), signal));
    if (id === null) failed.push(`crictl: no running ${CALICO_NODE_CONTAINER} container`);
    else {
      const text = await runOk(shell, node, crictlExecBirdShowProtocols(id, { socket }), signal);
      return { bird: parseBirdProtocols(text), via: `crictl exec ${id.slice(0, 13)} birdcl`, failed };
    }
  } catch (err) {
    failed.push(`crictl: ${describeError(err)}`);
  }
  return { bird: null, error: `${daemon} not readable on ${node.name}: ${failed.join('; ')}`, failed };
}

export interface BgpSessionJson {
  name: string;
  neighbor: string | null;
  state: string;
  lastError: string | null;
}

/** BIRD's BGP sessions as the results show them (routes' `bgp`, trace's `bgp`). */
export function sessionsJson(bird: BirdProtocols): BgpSessionJson[] {
  return bgpSessions(bird).map((b) => ({
    name: b.name,
    neighbor: b.neighborAddress,
    state: b.session,
    lastError: b.lastError,
  }));
}

export const SESSION_COLUMNS = ['PROTOCOL', 'NEIGHBOR', 'STATE', 'LAST ERROR'];
export const sessionRow = (b: BgpSessionJson): string[] => [b.name, b.neighbor ?? '-', b.state, b.lastError ?? ''];
