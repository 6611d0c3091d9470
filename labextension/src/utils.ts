/**
 * Small helpers shared by the plugins' models (pure: no JupyterLab imports).
 */

/**
 * Add a key to a set used as a bounded memory: the oldest keys are forgotten
 * past `max`, and a key added again counts as new.
 */
export function remember(set: Set<string>, key: string, max: number): void {
  set.delete(key);
  set.add(key);
  for (const oldest of set) {
    if (set.size <= max) {
      break;
    }
    set.delete(oldest);
  }
}

/**
 * The HTTP status of a failed request (`ServerConnection.ResponseError`), or
 * null for any other error. Duck-typed so that models stay free of
 * `@jupyterlab/services`.
 */
export function httpStatus(error: unknown): number | null {
  const response = (error as { response?: { status?: unknown } } | null)
    ?.response;
  return typeof response?.status === 'number' ? response.status : null;
}

/**
 * The message of an error, or the value itself as a string.
 */
export function errorMessage(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason);
}
