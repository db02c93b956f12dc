// The wire codecs (client ids, control datagrams, the peer header) in one import, for the tests that
// build and check datagrams byte by byte.
export * from '../../reflector/wire/client-id.js';
export * from '../../reflector/wire/control-datagram.js';
export * from '../../reflector/wire/peer-header.js';
