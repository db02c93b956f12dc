// What the client tools tell a user whose join failed: the mesh refused (full, draining), no reflector
// answered, or something else — each with what to do about it.
import { MeshError } from '../client/mesh-client.js';

export function describeJoinError(err: unknown, joinFlag = '--join'): Error {
  if (!(err instanceof MeshError)) return err instanceof Error ? err : new Error(String(err));
  if (err.statusCode === 503) {
    return new Error(`the mesh refused the client (${err.code}): ${err.message}`);
  }
  if (err.statusCode === 401) {
    return new Error(`the mesh refused the client's token (${err.code}): ${err.message}; pass a valid token with --token or RMESH_TOKEN (mint one with "rmesh token")`);
  }
  if (err.statusCode === 403) {
    return new Error(`the mesh refused the role (${err.code}): ${err.message}`);
  }
  if (err.code === 'RMESH_UNREACHABLE') {
    return new Error(`no reflector answered: ${err.message}; check that ${joinFlag} names a running reflector's control port`);
  }
  return new Error(`joining the mesh failed (${err.code}): ${err.message}`);
}
