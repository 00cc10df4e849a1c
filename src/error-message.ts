/**
 * The message of whatever was thrown: an Error's message, anything else as text. The one home for
 * it, so no step casts what it caught (`(e as Error).message` reads `undefined`, or throws, when a
 * library throws a string or nothing).
 */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
