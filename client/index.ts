// The client SDK's public entry (package.json "exports": "reflector-mesh/client"): what an application
// that joins a mesh needs, and nothing of the daemon. The SDK depends only on protocol/ (checked by
// scripts/check-imports.js).
export { MeshClient, isTokenRefusal } from './mesh-client.js';
export * from './types.js';
export { ERROR_CODES, type ErrorCode } from '../protocol/errors.js';
export { ROLES } from '../protocol/roles.js';
