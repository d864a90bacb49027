/**
 * The numbers the capture engine (engine.ts, compiled to WebAssembly) and its Node side (../capture-engine.ts) agree
 * on: protocol and link-type numbers, the decoded packet's fields, the problem codes and the engine's memory layout.
 * Plain integer constants only, so the same file is valid AssemblyScript and valid TypeScript.
 */

export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
/** DLT_RAW as most systems number it (12) and as OpenBSD does (14); LINKTYPE_RAW is 101. */
export const LINKTYPE_RAW_12 = 12;
export const LINKTYPE_RAW_14 = 14;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LOOP = 108;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;

export const TUNNEL_NONE = 0;
export const TUNNEL_VXLAN = 1;
export const TUNNEL_IPIP = 2;

export const PROTO_ICMP = 1;
export const PROTO_IPIP = 4;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const PROTO_IPV6 = 41;
export const PROTO_ICMPV6 = 58;

/** Bits of the packet's badChecksums: an IPv4 header, a UDP datagram (any layer, outer VXLAN UDP included). */
export const BAD_IPV4_HEADER_CHECKSUM = 1;
export const BAD_UDP_CHECKSUM = 2;

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_IPV6 = 0x86dd;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;

/** Fragment state of the innermost IP packet. */
export const FRAGMENT_NONE = 0;
export const FRAGMENT_FIRST = 1;
export const FRAGMENT_LATER = 2;

/** libpcap's MAXIMUM_SNAPLEN (pcap-int.h): no valid capture holds a larger packet record. */
export const MAX_CAPTURED_LENGTH = 262144;
/**
 * Distinct flows kept per summary. A few seconds' capture on a busy node holds hundreds of flows; 10 000 keeps the
 * table (≈ 2.3 MB) and the JSON bounded, and everything past it is still counted as "other".
 */
export const MAX_FLOWS = 10000;

/** Bits of a flow's flagsSeen, in the order of summarize-capture's TCP_FLAG_NAMES. */
export const SEEN_SYN = 1;
export const SEEN_SYN_ACK = 2;
export const SEEN_ACK = 4;
export const SEEN_FIN = 8;
export const SEEN_RST = 16;
export const SEEN_PSH = 32;
export const SEEN_URG = 64;
export const SEEN_ECE = 128;
export const SEEN_CWR = 256;

// Problem codes: the first problem met in a packet (capture-engine.ts holds their phrases).
export const PROBLEM_NONE = 0;
export const PROBLEM_SLL = 1;
export const PROBLEM_SLL2 = 2;
export const PROBLEM_EMPTY_RAW = 3;
export const PROBLEM_LOOPBACK = 4;
export const PROBLEM_LINK_TYPE = 5;
export const PROBLEM_ETHERNET = 6;
export const PROBLEM_VLAN = 7;
export const PROBLEM_IPV4_HEADER = 8;
export const PROBLEM_IPV4_VERSION = 9;
export const PROBLEM_IPV4_IHL = 10;
export const PROBLEM_IPV4_OPTIONS = 11;
export const PROBLEM_IPV4_TOTAL = 12;
export const PROBLEM_IPV6_HEADER = 13;
export const PROBLEM_IPV6_VERSION = 14;
export const PROBLEM_IPV6_FRAGMENT = 15;
export const PROBLEM_IPV6_EXTENSION = 16;
export const PROBLEM_IPV6_EXTENSIONS = 17;

// The decoded packet: 32-bit words at PACKET (index × 4). Addresses are big-endian words; IPv4 uses word 0 only.
/** 0 when no IP layer was decoded (ARP, other ethertypes, malformed), else 4 or 6 (innermost layer). */
export const P_IP_VERSION = 0;
export const P_SRC = 1; // 4 words
export const P_DST = 5; // 4 words
export const P_PROTO = 9;
/** IP total length (v4) or 40 + payload length (v6) of the innermost packet. */
export const P_IP_LENGTH = 10;
export const P_FRAGMENT = 11;
/** Ports are valid when hasPorts (TCP/UDP with the first 4 bytes captured). */
export const P_HAS_PORTS = 12;
export const P_SPORT = 13;
export const P_DPORT = 14;
/** TCP fields are valid when hasTcpFlags. */
export const P_HAS_TCP_FLAGS = 15;
export const P_TCP_FLAGS = 16;
export const P_SEQ = 17;
export const P_ACK = 18;
export const P_WINDOW = 19;
/** Transport payload bytes on the wire (from the IP lengths, not the snap length). */
export const P_PAYLOAD_LENGTH = 20;
export const P_HAS_ICMP = 21;
export const P_ICMP_TYPE = 22;
export const P_ICMP_CODE = 23;
export const P_HAS_ICMP_ECHO = 24;
export const P_ICMP_ID = 25;
export const P_ICMP_SEQ = 26;
export const P_TRANSPORT_TRUNCATED = 27;
export const P_BAD_CHECKSUMS = 28;
export const P_UDP_CHECKSUMS_VERIFIED = 29;
/** The outermost tunnel, its outer addresses and (VXLAN) outer ports, VNI and flags. */
export const P_TUNNEL = 30;
export const P_OUTER_VERSION = 31;
export const P_OUTER_SRC = 32; // 4 words
export const P_OUTER_DST = 36; // 4 words
export const P_OUTER_SPORT = 40;
export const P_OUTER_DPORT = 41;
export const P_VNI = 42;
export const P_VXLAN_FLAGS = 43;
/** When no IP was found: the innermost ethertype (0 for unknown link types) and where it starts, from the frame's start. */
export const P_ETHER_TYPE = 44;
export const P_L3_OFFSET = 45;
export const P_PROBLEM = 46;
/** Byte counts of the problem, -1 when they do not apply (signed). */
export const P_PROBLEM_HAVE = 47;
export const P_PROBLEM_NEED = 48;
export const P_CAPTURED_LENGTH = 49;
export const P_ORIGINAL_LENGTH = 50;
export const PACKET_WORDS = 64;

// The summary's counters: float64 slots at COUNTERS (index × 8).
export const C_PACKETS = 0;
export const C_BYTES = 1;
/** -1 until the first packet. */
export const C_FIRST_SEC = 2;
export const C_FIRST_NSEC = 3;
export const C_LAST_SEC = 4;
export const C_LAST_NSEC = 5;
export const C_NON_IP = 6;
export const C_MALFORMED = 7;
export const C_BAD_UDP = 8;
export const C_BAD_IP = 9;
export const C_OTHER_PACKETS = 10;
export const C_OTHER_BYTES = 11;
export const C_FLOWS = 12;
export const COUNTER_SLOTS = 16;

/** Words per flow key: version<<8|proto, port<<16|port, side 0's 4 address words, side 1's 4. */
export const KEY_WORDS = 10;

// A flow record at FLOW_RECORDS + id × FLOW_BYTES: float64 fields, then 32-bit ones (byte offsets).
export const R_PACKETS = 0;
export const R_BYTES = 8;
export const R_PACKETS_SIDE0 = 16;
export const R_PACKETS_SIDE1 = 24;
export const R_RESETS = 32;
export const R_RETRANSMISSIONS = 40;
export const R_FRAGMENTS = 48;
export const R_FIRST_SEC = 56;
export const R_FIRST_NSEC = 64;
export const R_LAST_SEC = 72;
export const R_LAST_NSEC = 80;
export const R_FLAGS_SEEN = 88;
/** Side (0 or 1) that started the flow: the first pure SYN's sender, else inferred from a SYN-ACK, else the first packet's. */
export const R_INITIATOR = 92;
export const R_INITIATOR_FROM_SYN = 96;
/** Per side bits (1 << side). */
export const R_SYN_FROM = 100;
export const R_SYN_ACK_FROM = 104;
export const R_HANDSHAKE_COMPLETE = 108;
/** Per side: whether a sequence number was seen, and the highest sequence end (seq + data + SYN + FIN). */
export const R_SEQ_SEEN = 112;
export const R_MAX_END0 = 116;
export const R_MAX_END1 = 120;
/** The first tunnelled packet's tunnel (TUNNEL_*), its sender's side, outer version and addresses, and VNI. */
export const R_TUNNEL = 124;
export const R_TUNNEL_SIDE = 128;
export const R_OUTER_VERSION = 132;
export const R_OUTER_SRC = 136; // 4 words
export const R_OUTER_DST = 152; // 4 words
export const R_VNI = 168;
export const FLOW_BYTES = 176;

/** Open-addressing slots (flow id + 1, 0 = empty): a power of two, at least twice MAX_FLOWS. */
export const SLOT_COUNT = 32768;

// Memory layout (byte addresses). The room at the end is the caller's: the capture file's read buffers.
/** A frame from outside the memory (a stream's chunk) is copied here before it is decoded. */
export const FRAME_SCRATCH = 0;
export const PACKET = 262144; // FRAME_SCRATCH + MAX_CAPTURED_LENGTH
export const COUNTERS = 262400; // PACKET + PACKET_WORDS × 4
/** 65536 flags, one per UDP port: which destination (or source) ports carry VXLAN. */
export const VXLAN_PORTS = 262528; // COUNTERS + COUNTER_SLOTS × 8
export const FLOW_SLOTS = 328064; // VXLAN_PORTS + 65536
export const FLOW_KEYS = 459136; // FLOW_SLOTS + SLOT_COUNT × 4
export const FLOW_RECORDS = 859136; // FLOW_KEYS + MAX_FLOWS × KEY_WORDS × 4
export const ROOM = 2621440; // FLOW_RECORDS + MAX_FLOWS × FLOW_BYTES (2 619 136), rounded up to a 64 KiB page
export const WASM_PAGE_BYTES = 65536;
