import { Signalbox, type Call, type CallOptions, type IncomingCall, type KeyValueStorage, type RtcImplementation } from '../../client/src/index.js';

/**
 * A headless device on the Signalbox SDK: it signs in (or resumes the session kept in its storage),
 * makes sure this device holds the account's key, answers every call from its connections and echoes
 * each data-channel message back on the channel it came from. What an IoT device or a bot needs.
 *
 * Everything platform-specific comes in from outside: the WebRTC classes (`rtc`, werift in Node) and
 * an async key-value storage (a file here, AsyncStorage in React Native). The SDK finds nothing else.
 */
export interface NodePeerOptions {
  baseUrl: string;
  username: string;
  password: string;
  storage: KeyValueStorage;
  rtc: RtcImplementation;
  /** 'relay' for every call this device answers or makes: all media through the TURN server. */
  iceTransportPolicy?: CallOptions['iceTransportPolicy'];
  /** Usernames whose connection requests are accepted (pending ones at start and new ones as they come). */
  acceptRequestsFrom?: readonly string[];
  /** One line per thing that happened; default: nothing. */
  log?: (line: string) => void;
  /** How this device shows in the account's device list. */
  deviceName?: string;
}

export class NodePeer {
  /** The calls answered or made, newest last; each is dropped when it closes. */
  readonly calls = new Set<Call>();

  private constructor(
    readonly sb: Signalbox,
    private readonly options: NodePeerOptions,
  ) {}

  /** Signs in (or resumes), ensures the key, starts polling and answering. */
  static async start(options: NodePeerOptions): Promise<NodePeer> {
    const log = options.log ?? (() => {});
    const sb = new Signalbox({ baseUrl: options.baseUrl, storage: options.storage, rtc: options.rtc });
    const resumed = await sb.restore();
    if (resumed && resumed.username !== options.username) await sb.logout(); // the storage belongs to someone else
    if (!sb.user) {
      await sb.login({ username: options.username, password: options.password, device: { name: options.deviceName ?? 'node-peer', platform: 'node' } });
    }
    log(`${resumed ? 'resumed' : 'signed in'} as ${sb.user!.username}, device ${sb.deviceId}`);
    // Throws key_elsewhere when another device holds the account's key: move it here with
    // keys.import() or devices.requestLink(), or start over with keys.ensure({replace: true}).
    const key = await sb.keys.ensure();
    log(`key ${key.fingerprint}`);

    const peer = new NodePeer(sb, options);
    sb.on('call', (incoming) => void peer.answer(incoming));
    sb.on('event', (event) => {
      if (event.type !== 'connection.requested') return;
      const from = (event.payload as { from?: unknown } | null)?.from;
      if (typeof from === 'string') void peer.acceptRequest(from);
    });
    sb.on('error', (err) => log(`error ${err.code}: ${err.message}`));
    sb.on('state', (state) => log(`state ${state}`));
    sb.start();
    for (const request of (await sb.connections.pending()).incoming) await peer.acceptRequest(request.from);
    return peer;
  }

  /** Calls `username` (one of this account's connections); the call echoes like an answered one. */
  async call(username: string, options: Omit<CallOptions, 'iceTransportPolicy'> = {}): Promise<Call> {
    const call = await this.sb.call(username, { ...options, ...this.policy() });
    this.keep(call);
    return call;
  }

  /** Stops polling and hangs up every call; the session and key stay in storage for the next start. */
  async stop(): Promise<void> {
    await Promise.all([...this.calls].map((call) => call.hangup())); // each resolves once its bye is sent
    await this.sb.stop();
  }

  private policy(): Pick<CallOptions, 'iceTransportPolicy'> {
    return this.options.iceTransportPolicy ? { iceTransportPolicy: this.options.iceTransportPolicy } : {};
  }

  private async answer(incoming: IncomingCall): Promise<void> {
    const log = this.options.log ?? (() => {});
    log(`ringing: ${incoming.from} (device ${incoming.fromDevice}, call ${incoming.sessionId})`);
    try {
      this.keep(await incoming.accept(this.policy()));
      log(`connected: ${incoming.from} (call ${incoming.sessionId})`);
    } catch (err) {
      log(`not answered: ${(err as { code?: string }).code ?? String(err)}`);
    }
  }

  /** Echoes every message on the call's data channel back to the peer. */
  private keep(call: Call): void {
    this.calls.add(call);
    call.on('close', (info) => {
      this.calls.delete(call);
      this.options.log?.(`closed: ${call.peer} (${info.reason}, by ${info.by})`);
    });
    const channel = call.channel;
    if (!channel) return;
    channel.addEventListener('message', (event) => {
      const text = typeof event.data === 'string' ? event.data : String(event.data); // werift hands binary as a Buffer
      this.options.log?.(`message from ${call.peer} (call ${call.sessionId}): ${text}`);
      if (channel.readyState === 'open') channel.send(text);
    });
  }

  private async acceptRequest(from: string): Promise<void> {
    if (!this.options.acceptRequestsFrom?.includes(from)) return;
    try {
      await this.sb.connections.respond(from, 'accept');
      this.options.log?.(`connected with ${from}`);
    } catch (err) {
      this.options.log?.(`could not accept ${from}: ${(err as { code?: string }).code ?? String(err)}`);
    }
  }
}
