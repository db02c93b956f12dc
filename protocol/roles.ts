// Client roles (design §2) and counts of clients by role: the vocabulary of the capacity model.

/** What a client does with the mesh: send and receive (the default), only receive, or only send. */
export type Role = 'sendrecv' | 'recvonly' | 'sendonly';

export const ROLES: readonly Role[] = ['sendrecv', 'recvonly', 'sendonly'];

/** How many clients of each role (of a mesh, or of one reflector). */
export interface RoleCounts {
  sendrecv: number;
  recvonly: number;
  sendonly: number;
}

/** A client the model can place or migrate: its id and its role. */
export interface Client {
  id: string;
  role: Role;
}

export function isRole(value: unknown): value is Role {
  return value === 'sendrecv' || value === 'recvonly' || value === 'sendonly';
}

/** Role counts with the given values; missing roles count 0. */
export function roleCounts(counts: Partial<RoleCounts> = {}): RoleCounts {
  return { sendrecv: counts.sendrecv ?? 0, recvonly: counts.recvonly ?? 0, sendonly: counts.sendonly ?? 0 };
}

/** n sendrecv clients: the case of formulas (1)–(4). */
export function allSendRecv(n: number): RoleCounts {
  return roleCounts({ sendrecv: n });
}

export function totalClients(counts: RoleCounts): number {
  return counts.sendrecv + counts.recvonly + counts.sendonly;
}

/** Counts the roles of a list of clients. */
export function countRoles(clients: Iterable<{ role: Role }>): RoleCounts {
  const counts = roleCounts();
  for (const client of clients) counts[client.role] += 1;
  return counts;
}

export function assertRoleCounts(counts: RoleCounts): void {
  for (const role of ROLES) {
    const value = counts[role];
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`the number of ${role} clients must be a whole number >= 0, got ${value}`);
    }
  }
}
