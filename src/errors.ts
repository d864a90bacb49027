/**
 * One error base for the whole project (the node-slack-sdk shape): a stable `code` callers switch on,
 * a message that is safe to show a user, whether a retry can help, and the foreign error as `cause`.
 * Adapters (Kubernetes, ssh2, ioredis) translate their errors into these at their edge.
 */
export type K8snetErrorCode =
  | 'invalid_input'
  | 'config'
  | 'not_found'
  | 'cluster_api'
  | 'ssh_connect'
  | 'ssh_host_key'
  | 'ssh_command'
  | 'timeout'
  | 'pcap_format'
  | 'lab'
  | 'unauthorized'
  | 'internal';

export interface K8snetErrorOptions {
  retryable?: boolean;
  cause?: unknown;
}

export class K8snetError extends Error {
  readonly code: K8snetErrorCode;
  readonly retryable: boolean;

  constructor(code: K8snetErrorCode, message: string, options: K8snetErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'K8snetError';
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

/** Bad input from a user or from the cluster: nothing was run. */
export class InvalidInputError extends K8snetError {
  readonly field: string;
  constructor(field: string, message: string) {
    super('invalid_input', `${field}: ${message}`);
    this.name = 'InvalidInputError';
    this.field = field;
  }
}

export function isK8snetError(err: unknown): err is K8snetError {
  return err instanceof K8snetError;
}

/** A short, user-safe description of any thrown value. */
export function describeError(err: unknown): string {
  if (err instanceof K8snetError) return err.message;
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}
