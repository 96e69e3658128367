/** Data classes, lowest to highest. A scope's ceiling allows its class and every lower one. */
export const DATA_CLASSES = ['public', 'internal', 'confidential', 'restricted'] as const;
export type DataClass = (typeof DATA_CLASSES)[number];

export function dataClassRank(dataClass: DataClass): number {
  return DATA_CLASSES.indexOf(dataClass);
}

/** True when `dataClass` is at or below `ceiling`. */
export function dataClassWithin(dataClass: DataClass, ceiling: DataClass): boolean {
  const rank = dataClassRank(dataClass);
  const ceilingRank = dataClassRank(ceiling);
  // An unknown class (a bad value that slipped past the types) is within nothing.
  return rank >= 0 && ceilingRank >= 0 && rank <= ceilingRank;
}
