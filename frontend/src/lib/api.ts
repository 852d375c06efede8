// Glue between the generated REST client (src/api/rest, never edited) and the stores: where the
// API lives, how the token is attached, and one error type carrying the API's `detail` sentence.
import { client } from '../api/rest/client.gen'

export class ApiError extends Error {
  readonly status: number
  readonly detail: string

  constructor(status: number, detail: string) {
    super(detail)
    this.name = 'ApiError'
    this.status = status
    this.detail = detail
  }
}

/**
 * Point the generated client at the API. The UI is served by the API itself (/ui), so the default
 * base is the page's own origin; the token getter is read per request so a re-login applies at
 * once. The client only attaches it to routes whose OpenAPI entry declares the bearer scheme.
 */
export function configureApi(getToken: () => string | null, baseUrl = ''): void {
  client.setConfig({ baseUrl, auth: () => getToken() ?? undefined })
}

interface Result<T> {
  data?: T
  error?: unknown
  response?: Response
}

/** Return the body of a generated call, or throw ApiError with the API's explanation. */
export async function unwrap<T>(call: Promise<Result<T>>): Promise<T> {
  let result: Result<T>
  try {
    result = await call
  } catch (err) {
    throw new ApiError(0, `the API is unreachable (${err instanceof Error ? err.message : String(err)})`)
  }
  const status = result.response?.status ?? 0
  if (result.error !== undefined || status >= 400 || status === 0) {
    throw new ApiError(status, describeError(result.error, status))
  }
  return result.data as T
}

function describeError(error: unknown, status: number): string {
  if (typeof error === 'object' && error !== null && 'detail' in error) {
    const detail = (error as { detail: unknown }).detail
    if (typeof detail === 'string') return detail
    return JSON.stringify(detail)
  }
  if (typeof error === 'string' && error) return error
  return status ? `HTTP ${status}` : 'no response from the API'
}

/** A short human sentence for any thrown value (stores keep it for the UI's error banners). */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) return err.detail
  if (err instanceof Error) return err.message
  return String(err)
}
