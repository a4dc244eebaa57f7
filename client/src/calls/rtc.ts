// The slice of WebRTC the calls module uses, as its own small interfaces: the SDK also compiles
// without DOM types (Node, the root tsconfig), and React Native's react-native-webrtc is passed in as
// `rtc` rather than found on globalThis. A browser's RTCPeerConnection fits these shapes as it is.

export type SdpType = 'offer' | 'answer' | 'pranswer' | 'rollback';

export interface SessionDescriptionInit {
  type: SdpType;
  sdp?: string;
}

export interface IceCandidateInit {
  candidate?: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
  usernameFragment?: string | null;
}

export interface IceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export type IceTransportPolicy = 'all' | 'relay';

export interface PeerConnectionConfig {
  iceServers?: IceServer[];
  iceTransportPolicy?: IceTransportPolicy;
}

export interface DataChannelInit {
  ordered?: boolean;
  maxPacketLifeTime?: number;
  maxRetransmits?: number;
  protocol?: string;
}

/** An event as the calls module reads it: only the fields it needs, each optional. */
export interface RtcEvent {
  candidate?: IceCandidateInit | null;
  channel?: DataChannelLike;
  track?: unknown;
  streams?: readonly unknown[];
  data?: unknown;
}

export type RtcListener = (event: RtcEvent) => void;

export interface DataChannelLike {
  readonly label: string;
  readonly readyState: string;
  send(data: string): void;
  close(): void;
  addEventListener(type: string, listener: RtcListener): void;
  removeEventListener(type: string, listener: RtcListener): void;
}

export interface PeerConnectionLike {
  readonly connectionState: string;
  readonly iceConnectionState: string;
  readonly signalingState: string;
  readonly localDescription: SessionDescriptionInit | null;
  readonly remoteDescription: SessionDescriptionInit | null;
  createDataChannel(label: string, init?: DataChannelInit): DataChannelLike;
  addTrack(track: never, ...streams: never[]): unknown;
  createOffer(options?: { iceRestart?: boolean }): Promise<SessionDescriptionInit>;
  createAnswer(): Promise<SessionDescriptionInit>;
  setLocalDescription(description: SessionDescriptionInit): Promise<void>;
  setRemoteDescription(description: SessionDescriptionInit): Promise<void>;
  addIceCandidate(candidate: IceCandidateInit): Promise<void>;
  /** Absent in some older WebRTC implementations; the SDK then asks createOffer for an ICE restart. */
  restartIce?(): void;
  getStats(): Promise<unknown>;
  close(): void;
  addEventListener(type: string, listener: RtcListener): void;
  removeEventListener(type: string, listener: RtcListener): void;
}

export type PeerConnectionConstructor = new (config: PeerConnectionConfig) => PeerConnectionLike;

/** What `new Signalbox({ rtc })` takes: react-native-webrtc's exports fit (`{ RTCPeerConnection }`). */
export interface RtcImplementation {
  RTCPeerConnection: PeerConnectionConstructor;
}

/** A media stream as `stream` options take it: its tracks are added to the call. */
export interface MediaStreamLike {
  getTracks(): unknown[];
}

/** The RTCPeerConnection to use: the injected one, or the environment's own; null where there is none (Node). */
export function resolvePeerConnection(rtc: RtcImplementation | undefined): PeerConnectionConstructor | null {
  if (rtc?.RTCPeerConnection) return rtc.RTCPeerConnection;
  const global = (globalThis as { RTCPeerConnection?: PeerConnectionConstructor }).RTCPeerConnection;
  return global ?? null;
}
