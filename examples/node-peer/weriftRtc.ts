import { RTCPeerConnection, type RTCPeerConnectionConfig } from 'werift';
import type { RtcImplementation } from '../../client/src/index.js';

/**
 * werift (pure TypeScript WebRTC for Node) as the SDK's `rtc`: its RTCPeerConnection already has the
 * W3C surface the SDK uses (addEventListener for icecandidate/datachannel/connectionstatechange, the
 * data channel's open/message events, candidates as {candidate, sdpMid, sdpMLineIndex}), so it is
 * passed in as it is. The only addition is werift's own settings, which a browser has no equivalent for:
 * they are merged into every configuration the SDK builds (iceServers, iceTransportPolicy).
 */
export interface WeriftSettings {
  /**
   * Bind every ICE and TURN socket to this IPv4 address (e.g. '127.0.0.1' where the TURN server is on
   * loopback). Default: werift's own choice (all interfaces).
   */
  bindAddress?: string;
  /** UDP ports werift may use, [min, max] (min < max), for a firewall that opens a range. */
  portRange?: [number, number];
  /** IPv6 candidates; off by default: a device behind a TURN server on IPv4 gains nothing from them. */
  ipv6?: boolean;
}

export function weriftRtc(settings: WeriftSettings = {}): RtcImplementation {
  const extra: Partial<RTCPeerConnectionConfig> = {
    iceUseIpv6: settings.ipv6 ?? false,
    ...(settings.bindAddress ? { iceInterfaceAddresses: { udp4: settings.bindAddress }, iceAdditionalHostAddresses: [settings.bindAddress] } : {}),
    ...(settings.portRange ? { icePortRange: settings.portRange } : {}),
  };
  class ConfiguredPeerConnection extends RTCPeerConnection {
    constructor(config: RTCPeerConnectionConfig = {}) {
      super({ ...extra, ...config });
    }
  }
  return { RTCPeerConnection: ConfiguredPeerConnection };
}
