/** @internal Bearer-token checks, shared by the HTTP routes and the gRPC service. */
import { timingSafeEqual } from 'node:crypto';

/** Whether `given` (an Authorization header or metadata value) carries `token`, compared in constant time. */
export function bearerMatches(given: string | undefined, token: string): boolean {
  if (given === undefined || !given.startsWith('Bearer ')) return false;
  const a = Buffer.from(given.slice(7));
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}
