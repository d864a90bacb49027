/** Public API of the pcap decoder and flow summarizer. */
export {
  DEFAULT_SAMPLE_SIZE,
  DEFAULT_VXLAN_PORTS,
  MAX_SAMPLE_SIZE,
  MAX_WARNINGS,
  formatTimestamp,
  linkTypeName,
  summarizeCapture,
  summarizeCaptureFile,
  summaryToJson,
} from './summarize-capture.ts';
export type {
  CaptureSummary,
  FlowProto,
  FlowSummary,
  FlowTunnel,
  Handshake,
  SamplePacket,
  SummarizeOptions,
} from './summarize-capture.ts';
export { MAX_CAPTURED_LENGTH, MAX_FLOWS } from './engine/constants.ts';
export { MAX_PCAPNG_BLOCK_BYTES } from './capture-reader.ts';
