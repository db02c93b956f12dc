// A client's session routes (event stream, leave) authenticate with the session key the join gave it,
// as a bearer token, compared in constant time (bearer.ts).
import { unauthorized, unknownClient } from '../../protocol/errors.js';
import type { Session, Sessions } from '../sessions.js';
import { parseClientId } from '../../protocol/wire/client-id.js';
import { bearerMatches } from './bearer.js';

/** The session of `clientIdText` if `authorization` carries its key; throws 404 (no such session) or 401. */
export function authorizeSession(sessions: Pick<Sessions, 'get'>, clientIdText: string, authorization: string | undefined): Session {
  const id = parseClientId(clientIdText);
  const session = id === undefined ? undefined : sessions.get(id);
  if (!session) throw unknownClient(clientIdText);
  if (!bearerMatches(authorization, session.keyText)) throw unauthorized(`client ${clientIdText} must authenticate with its session key`);
  return session;
}
