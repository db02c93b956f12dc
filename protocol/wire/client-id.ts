// Client ids: 48-bit unsigned integers, chosen at random by the admitting reflector and kept for the
// life of a session, across migrations. 48 bits fit a JavaScript number exactly, so the hot path reads
// them with readUIntBE without allocating, and random ids collide with negligible probability.
import { randomBytes } from 'node:crypto';

export const CLIENT_ID_BYTES = 6;
const HEX_LENGTH = CLIENT_ID_BYTES * 2;

export function randomClientId(): number {
  return randomBytes(CLIENT_ID_BYTES).readUIntBE(0, CLIENT_ID_BYTES);
}

/** The JSON form: 12 lower-case hex digits. */
export function formatClientId(id: number): string {
  return id.toString(16).padStart(HEX_LENGTH, '0');
}

/** Parses the JSON form; returns undefined for anything that is not exactly 12 hex digits. */
export function parseClientId(text: string): number | undefined {
  if (!/^[0-9a-f]{12}$/.test(text)) return undefined;
  return Number.parseInt(text, 16);
}
