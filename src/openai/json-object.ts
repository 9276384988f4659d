/** A parsed JSON value that is an object (not null, not an array): what a member can be read from. */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
