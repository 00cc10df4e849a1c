/** Response bodies as JSON: a leaf, so the transport policies and the error parser share it. */

/** A response body as JSON, or undefined when it is empty or not JSON. */
export function parseJson(text: string | undefined): unknown {
  if (!text) return undefined
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
