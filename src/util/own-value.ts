/**
 * Lookups keyed by what a client sent (a model alias, an id): a plain object's inherited members
 * (`constructor`, `__proto__`, `toString`, `hasOwnProperty`) must read as absent, not as a config entry.
 */
export function ownValue<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}
