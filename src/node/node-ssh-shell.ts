/**
 * Kept for callers written before the node layer was split up (src/cli/deps.ts): the settings-first constructor over
 * SshPool + SshNodeShell. New code builds an SshPool and passes it to SshNodeShell.
 */
import { SshNodeShell, type SshNodeShellOptions } from './ssh-node-shell.ts';
import { SshPool } from './ssh-pool.ts';
import type { SshSettings } from './ssh-settings.ts';

export class NodeSshShell extends SshNodeShell {
  constructor(settings: SshSettings, options: SshNodeShellOptions = {}) {
    super(new SshPool(settings), options);
  }
}
