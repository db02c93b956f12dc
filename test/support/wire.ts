// The wire codecs (client ids, control datagrams, the peer header) in one import, for the tests that
// build and check datagrams byte by byte.
export * from '../../protocol/wire/client-id.js';
export * from '../../protocol/wire/control-datagram.js';
export * from '../../protocol/wire/peer-header.js';
