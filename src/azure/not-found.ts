/**
 * "Not found", handled one way: every Azure client (ARM and Storage) reports it as an error whose
 * `statusCode` is 404 (RestError from @azure/core-rest-pipeline, StorageError from @azure/storage-blob).
 */

export function isNotFound(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { statusCode?: unknown }).statusCode === 404
  )
}

/** The resource a GET returns, or undefined when Azure answers 404; any other error is rethrown. */
export async function getOrUndefined<T>(read: Promise<T>): Promise<T | undefined> {
  try {
    return await read
  } catch (error) {
    if (isNotFound(error)) return undefined
    throw error
  }
}
