/** The node layer: SSH settings, connection pool, host key checking, the command catalogue, the shell, netns discovery. */
export type { CaptureSpec, CaptureStream, CommandResult, NodeCommand, NodeShell, NodeTarget } from './types.ts';
export type { SshEndpoint, SshJumpHost, SshNodeOverride, SshSettings } from './ssh-settings.ts';
export { DEFAULT_SSH_PORT, describeSshSettings, jumpEndpoint, resolveEndpoint } from './ssh-settings.ts';
export type { HostKeyCheck, HostKeyVerifier, KnownHostEntry, KnownHostsFile } from './known-hosts.ts';
export { checkHostKey, hostKeyName, keyFingerprint, knownHostsVerifier, loadKnownHosts, parseKnownHosts } from './known-hosts.ts';
export { KILL_AFTER_SECONDS, remoteArgv, remoteCommandLine, shellQuote } from './remote-command.ts';
export * as catalogue from './catalogue.ts';
export { CAPTURE_LIMITS, captureFilter, inNetns, netnsExec, validateNetnsRef } from './catalogue.ts';
export { DEFAULT_MAX_CHANNELS_PER_NODE, SshPool, type SshPoolOptions } from './ssh-pool.ts';
export { SshNodeShell, type CommandAuditEvent, type SshNodeShellOptions } from './ssh-node-shell.ts';
export type { NetnsDiscovery, PodNetns, PodRef, PodSandboxContainer } from './netns-discovery.ts';
export { discoverPodNetns } from './netns-discovery.ts';
