// Identifiers every side checks the same way: the API schemas, the reflector's --id flag, the docs
// (docs/protocol.md §1).

/** A reflector id: 1–63 of A-Z a-z 0-9 . _ : - (a pod name, or ADDRESS:CONTROLPORT). */
export const REFLECTOR_ID_PATTERN = /^[A-Za-z0-9._:-]{1,63}$/;
