/**
 * The capture window a command may ask for. Its own module so that config.ts (read by every process, the `pcap`
 * command too) does not load the command grammar and, through it, the cron parser (~12 ms of start-up).
 */
/** The deployment's default and ceiling (config.ts reads them), or a cluster's. */
export interface CaptureBounds {
  defaultSeconds: number;
  maxSeconds: number;
  /** Whose ceiling it is when not the deployment's ("cluster prod-eu"): named when a command asks for more. */
  owner?: string;
}

/** The bounds of the cluster a command names with --cluster (undefined: it names none; the caller's default). */
export type CaptureBoundsFor = (cluster: string | undefined) => CaptureBounds;

/** K8SNET_CAPTURE_SECONDS and K8SNET_CAPTURE_MAX_SECONDS when unset. */
export const DEFAULT_CAPTURE_BOUNDS: CaptureBounds = { defaultSeconds: 5, maxSeconds: 30 };
