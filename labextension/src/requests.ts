import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import {
  API_NAMESPACE,
  IKernelSummary,
  IShadowCell,
  IShadowNotebook
} from './tokens';

/**
 * Call the sidecar server extension's REST API.
 *
 * @param endPoint Path below `api/sidecar` (empty for `api/sidecar` itself).
 * @param init Initial values for the request (method, body, ...).
 * @param settings Server connection settings; the application's by default.
 * @returns The decoded JSON body of the response.
 * @throws ServerConnection.NetworkError when the server cannot be reached.
 * @throws ServerConnection.ResponseError when the response status is not 2xx;
 *   its message is the `message` field of the JSON error body.
 */
export async function requestAPI<T>(
  endPoint = '',
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, API_NAMESPACE, endPoint);

  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }

  const text = await response.text();
  let data: unknown = text;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      if (response.ok) {
        throw new ServerConnection.ResponseError(
          response,
          `Invalid JSON in the response of ${url}`
        );
      }
    }
  }

  if (!response.ok) {
    const message =
      typeof data === 'object' && data !== null && 'message' in data
        ? String((data as { message: unknown }).message)
        : text || response.statusText;
    throw new ServerConnection.ResponseError(response, message);
  }

  return data as T;
}

/**
 * The server's record of a kernel's executions (`null` if the server has none:
 * an unknown kernel, or a server without the sidecar extension).
 */
export async function fetchShadowNotebook(
  kernelId: string
): Promise<IShadowNotebook | null> {
  return orNullIfMissing(
    requestAPI<IShadowNotebook>(
      `kernels/${encodeURIComponent(kernelId)}/notebook`
    )
  );
}

/**
 * The server's record of one cell of a kernel (`null` if it has none).
 */
export async function fetchShadowCell(
  kernelId: string,
  cellId: string
): Promise<IShadowCell | null> {
  return orNullIfMissing(
    requestAPI<IShadowCell>(
      `kernels/${encodeURIComponent(kernelId)}/cells/${encodeURIComponent(cellId)}`
    )
  );
}

/**
 * Kernels that recorded cells for a notebook path, newest first when the
 * server says so.
 *
 * Servers that ignore the `path` query answer with every kernel: the list is
 * filtered here too, so both kinds of servers give the same answer.
 */
export async function fetchKernelsForPath(
  path: string
): Promise<IKernelSummary[]> {
  const query = URLExt.objectToQueryString({ path });
  const kernels = await orNullIfMissing(
    requestAPI<IKernelSummary[]>(`kernels${query}`)
  );
  return Array.isArray(kernels)
    ? kernels.filter(kernel => kernel.path === path)
    : [];
}

async function orNullIfMissing<T>(request: Promise<T>): Promise<T | null> {
  try {
    return await request;
  } catch (error) {
    if (
      error instanceof ServerConnection.ResponseError &&
      error.response.status === 404
    ) {
      return null;
    }
    throw error;
  }
}
