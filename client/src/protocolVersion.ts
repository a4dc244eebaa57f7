// The version of the client protocol (docs/protocol.md): what goes inside a signal's payload and how a
// receiver checks it. `major.minor`: the major changes when a client of the previous one can no longer
// talk to this one (a new envelope or call message format); the minor when rules are added or made
// precise without changing a byte on the wire. docs/protocol.md states it at its top and every file in
// docs/protocol-vectors/ carries it; `npm run vectors` writes them again when it changes.
export const PROTOCOL_VERSION = '1.1';
