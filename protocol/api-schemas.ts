// TypeBox schemas of the control API (docs/protocol.md §3): the one source of the JSON shapes that the
// reflector validates, the OpenAPI document describes and the client SDK types its calls with.
import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';
import { ROLES } from './roles.js';
import { REFLECTOR_ID_PATTERN } from './ids.js';

export const ClientIdText = Type.String({ pattern: '^[0-9a-f]{12}$', description: '48-bit client id, 12 lower-case hex digits' });
export const ReflectorIdText = Type.String({ pattern: REFLECTOR_ID_PATTERN.source, description: 'reflector id' });
/** The role of a client (protocol/roles.ts), as the API validates it. */
export const RoleSchema = Type.Union([Type.Literal(ROLES[0]), Type.Literal(ROLES[1]), Type.Literal(ROLES[2])]);

export const ReflectorInfo = Type.Object(
  {
    id: ReflectorIdText,
    address: Type.String({ minLength: 1, maxLength: 255 }),
    dataPort: Type.Integer({ minimum: 1, maximum: 65535 }),
    controlPort: Type.Integer({ minimum: 1, maximum: 65535 }),
    rtp: Type.Boolean(),
  },
  { additionalProperties: false },
);
export type ReflectorInfo = Static<typeof ReflectorInfo>;

export const ErrorBody = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String(),
  error: Type.String(),
  message: Type.String(),
});
export type ErrorBody = Static<typeof ErrorBody>;

/** The error answers a route can give, each an ErrorBody: for its response schema and the OpenAPI document. */
export function errorResponses<const C extends readonly number[]>(...codes: C): Record<C[number], typeof ErrorBody> {
  return Object.fromEntries(codes.map((c) => [c, ErrorBody])) as Record<C[number], typeof ErrorBody>;
}

// --- clients

export const JoinRequest = Type.Object(
  {
    role: Type.Optional(RoleSchema),
    name: Type.Optional(Type.String({ maxLength: 128 })),
    origin: Type.Optional(
      Type.String({
        pattern: '^[0-9a-f]{12}$',
        description:
        "a client failing over: the client id of its first session. Its peer copies carry it, and no reflector delivers them to a session with that origin, so a session it left is never sent the client's own datagrams",
      }),
    ),
  },
  { additionalProperties: false },
);
export type JoinRequest = Static<typeof JoinRequest>;

export const JoinResponse = Type.Object({
  clientId: ClientIdText,
  sessionKey: Type.String(),
  role: RoleSchema,
  reflector: ReflectorInfo,
  reflectors: Type.Array(ReflectorInfo),
  keepaliveIntervalMs: Type.Integer(),
  idleTimeoutMs: Type.Integer(),
  registrationDeadlineMs: Type.Integer(),
});
export type JoinResponse = Static<typeof JoinResponse>;

export const SessionParams = Type.Object({ clientId: ClientIdText });

/** Payloads of the Server-Sent Events on /v1/sessions/{clientId}/events. */
export interface ReflectorsEvent {
  reflectors: ReflectorInfo[];
}
export interface MigrateEvent {
  migrationId: string;
  to: ReflectorInfo;
}
export interface ByeEvent {
  reason: string;
}

// --- peers

/**
 * The most clients a reflector may report to its peers. Far above what one reflector can serve (a full
 * mesh of n clients sends about n² streams), it keeps the capacity model's arithmetic on the sums of
 * peers' reports within safe integers: an unbounded count made /metrics fail for every scrape.
 */
export const MAX_REPORTED_CLIENTS = 1_000_000;
const ClientCount = Type.Integer({ minimum: 0, maximum: MAX_REPORTED_CLIENTS });

/** Whether a peer's answer carries a client count this reflector can use (answers are not schema-checked). */
export function isClientCount(n: unknown): n is number {
  return Value.Check(ClientCount, n);
}

export const HelloRequest = Type.Object(
  { reflector: ReflectorInfo, clients: ClientCount, introduce: Type.Boolean() },
  { additionalProperties: false },
);
export type HelloRequest = Static<typeof HelloRequest>;
export const HelloResponse = Type.Object({
  reflector: ReflectorInfo,
  clients: ClientCount,
  peers: Type.Array(ReflectorInfo),
});
export type HelloResponse = Static<typeof HelloResponse>;

export const PeerKeepalive = Type.Object(
  {
    id: ReflectorIdText,
    clients: ClientCount,
    draining: Type.Boolean(),
    generation: Type.Optional(Type.Integer({ minimum: 0, description: 'grows whenever the sender\'s client count changes' })),
  },
  { additionalProperties: false },
);
export type PeerKeepalive = Static<typeof PeerKeepalive>;

export const ByeRequest = Type.Object({ id: ReflectorIdText }, { additionalProperties: false });

export const AdmitRequest = Type.Object(
  {
    clientId: ClientIdText,
    sessionKey: Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' }),
    role: RoleSchema,
    name: Type.Optional(Type.String({ maxLength: 128, description: 'the client\'s name from its join, kept across migrations' })),
    owner: Type.Optional(
      Type.Object(
        { subject: Type.Optional(Type.String({ minLength: 1, maxLength: 160 })), source: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })) },
        { additionalProperties: false, description: 'who the session counts against (its token subject, its join\'s source address): the session caps (docs/security.md)' },
      ),
    ),
    migrationId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    from: Type.Optional(ReflectorIdText),
    origin: Type.Optional(Type.String({ pattern: '^[0-9a-f]{12}$', description: "the client's origin id (JoinRequest.origin), kept across migrations" })),
    nonces: Type.Optional(
      Type.Array(Type.String({ pattern: '^[0-9]{1,20}$' }), {
        maxItems: 2,
        description:
          'a migration: the last control-datagram nonce the sender accepted, per port index (decimal); the target accepts only greater ones, so a datagram captured earlier cannot be replayed to it',
      }),
    ),
  },
  { additionalProperties: false },
);
export type AdmitRequest = Static<typeof AdmitRequest>;

export const AdmitResponse = Type.Object({
  clientId: ClientIdText,
  clients: ClientCount,
  generation: Type.Integer({ minimum: 0 }),
});
export type AdmitResponse = Static<typeof AdmitResponse>;

export const MovedRequest = Type.Object(
  { clientId: ClientIdText, migrationId: Type.String({ minLength: 1, maxLength: 64 }) },
  { additionalProperties: false },
);
export type MovedRequest = Static<typeof MovedRequest>;

export const OffloadRequest = Type.Object(
  { to: ReflectorIdText, count: Type.Integer({ minimum: 0, maximum: 100000 }) },
  { additionalProperties: false },
);
export type OffloadRequest = Static<typeof OffloadRequest>;

// --- admin

const Counts = Type.Object({ client: Type.Number(), peer: Type.Number() });
export const StatusResponse = Type.Object({
  reflector: ReflectorInfo,
  draining: Type.Boolean(),
  dataPlane: Type.String(),
  clients: Type.Array(
    Type.Object({
      clientId: ClientIdText,
      name: Type.Optional(Type.String()),
      role: RoleSchema,
      state: Type.Union([Type.Literal('reserved'), Type.Literal('active'), Type.Literal('departing')]),
      endpoints: Type.Array(Type.Object({ address: Type.String(), port: Type.Integer() })),
      datagramsIn: Type.Number(),
      datagramsOut: Type.Number(),
      datagramsRateLimited: Type.Optional(Type.Number({ description: 'Of datagramsIn, those the per-client rate limit dropped.' })),
      lastHeardMs: Type.Number(),
    }),
  ),
  peers: Type.Array(
    Type.Object({
      id: ReflectorIdText,
      address: Type.String(),
      dataPort: Type.Integer(),
      controlPort: Type.Integer(),
      rtp: Type.Boolean(),
      clients: Type.Integer(),
      draining: Type.Boolean(),
      lastHeardMs: Type.Number(),
    }),
  ),
  counters: Type.Object({
    datagramsIn: Counts,
    datagramsOut: Counts,
    bytesIn: Counts,
    bytesOut: Counts,
    dropped: Type.Record(Type.String(), Type.Number()),
  }),
  outboundStreams: Type.Number(),
  outboundBitsPerSecond: Type.Number(),
  awaitingPeerList: Type.Optional(
    Type.Boolean({ description: 'Started with --await-peer-list and no peer list received yet (PUT /v1/peers): not ready until one comes, even an empty one.' }),
  ),
  outboundRateStreams: Type.Optional(
    Type.Number({
      description:
        'The outbound stream count to divide outboundBitsPerSecond by: the larger of the counts at the start and end of the second it was measured over (reflector/outbound-rate.ts). Absent from reflectors older than it.',
    }),
  ),
  uptimeSeconds: Type.Number(),
  meshKeys: Type.Optional(
    Type.Object(
      {
        current: Type.String({ description: 'Id of the key this reflector signs with (16 hex digits, reveals nothing of the key), or "open".' }),
        accepted: Type.Array(Type.String(), { description: 'Ids of the verify-only keys of a rotation\'s overlap; "open" when unsigned traffic is accepted.' }),
      },
      { description: 'The mesh keys in force (docs/security.md "Rotating the mesh key").' },
    ),
  ),
});
export type StatusResponse = Static<typeof StatusResponse>;

export const PeerList = Type.Object({ peers: Type.Array(ReflectorInfo, { maxItems: 1024 }) }, { additionalProperties: false });
export type PeerList = Static<typeof PeerList>;

export const MigrateRequest = Type.Object({ to: ReflectorIdText }, { additionalProperties: false });
export const MigrateResponse = Type.Object({ migrationId: Type.String(), durationMs: Type.Number() });
export type MigrateResponse = Static<typeof MigrateResponse>;

export const DrainRequest = Type.Object(
  { exclude: Type.Optional(Type.Array(ReflectorIdText, { maxItems: 1024 })) },
  { additionalProperties: false },
);
export const DrainResponse = Type.Object({ clients: Type.Integer() });
