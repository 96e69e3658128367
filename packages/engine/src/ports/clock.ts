/** Time as a port, so tests can move it (expiry, last-used) without sleeping. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
