/**
 * The one client of the server extension's REST API (`{base}api/sidecar`):
 * every call the labextension makes to the sidecar goes through here.
 */

import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import type { IDataflow, IPlan, IPlanRequest } from './dataflow/types';
import type { ILintedCell, ILintRequest } from './lint/types';
import type { IQueueInterrupt, IQueueState } from './queue/types';
import type {
  IKernelSummary,
  IShadowCell,
  IShadowNotebook
} from './restore/types';
import type { IServerInfo, ISidecarRequests } from './tokens';
import { httpStatus } from './utils';
import type {
  ChildKey,
  IChildrenPage,
  IRowsPage,
  IRowsQuery,
  IVariablesSnapshot,
  IVariableView
} from './variables/types';
import { childrenQuery, rowsQuery } from './variables/paths';

/**
 * Namespace of the server extension's REST API, relative to the base URL.
 */
export const API_NAMESPACE = 'api/sidecar';

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
 * {@link ISidecarRequests} over {@link requestAPI}.
 */
export class SidecarRequests implements ISidecarRequests {
  constructor(settings?: ServerConnection.ISettings) {
    this._settings = settings ?? ServerConnection.makeSettings();
  }

  info(): Promise<IServerInfo> {
    return this._get<IServerInfo>('');
  }

  notebook(kernelId: string): Promise<IShadowNotebook | null> {
    return orNullIfMissing(
      this._get<IShadowNotebook>(`${kernelPath(kernelId)}/notebook`)
    );
  }

  cell(kernelId: string, cellId: string): Promise<IShadowCell | null> {
    return orNullIfMissing(
      this._get<IShadowCell>(
        `${kernelPath(kernelId)}/cells/${encodeURIComponent(cellId)}`
      )
    );
  }

  /**
   * Servers that ignore the `path` query answer with every kernel: the list
   * is filtered here too, so both kinds of servers give the same answer.
   */
  async kernelsForPath(path: string): Promise<IKernelSummary[]> {
    const query = URLExt.objectToQueryString({ path });
    const kernels = await orNullIfMissing(
      this._get<IKernelSummary[]>(`kernels${query}`)
    );
    return Array.isArray(kernels)
      ? kernels.filter(kernel => kernel.path === path)
      : [];
  }

  variables(kernelId: string): Promise<IVariablesSnapshot> {
    return this._get<IVariablesSnapshot>(`${kernelPath(kernelId)}/variables`);
  }

  variable(kernelId: string, name: string): Promise<IVariableView> {
    return this._get<IVariableView>(
      `${kernelPath(kernelId)}/variables/${encodeURIComponent(name)}`
    );
  }

  children(
    kernelId: string,
    name: string,
    path: ChildKey[],
    offset: number,
    limit: number
  ): Promise<IChildrenPage> {
    return this._get<IChildrenPage>(
      `${kernelPath(kernelId)}/variables/${encodeURIComponent(name)}/children` +
        childrenQuery(path, offset, limit)
    );
  }

  rows(kernelId: string, name: string, query: IRowsQuery): Promise<IRowsPage> {
    return this._get<IRowsPage>(
      `${kernelPath(kernelId)}/variables/${encodeURIComponent(name)}/rows` +
        rowsQuery(query)
    );
  }

  async lint(request: ILintRequest): Promise<ILintedCell[]> {
    const reply = await requestAPI<{ cells: ILintedCell[] }>(
      'lint',
      { method: 'POST', body: JSON.stringify(request) },
      this._settings
    );
    if (!reply || !Array.isArray(reply.cells)) {
      throw new Error('the server sent no cells back');
    }
    if (reply.cells.length !== request.cells.length) {
      throw new Error(
        `the server sent ${reply.cells.length} cells back ` +
          `for ${request.cells.length}`
      );
    }
    return reply.cells;
  }

  queue(kernelId: string): Promise<IQueueState> {
    return this._get<IQueueState>(`${kernelPath(kernelId)}/queue`);
  }

  async removeFromQueue(kernelId: string, msgId: string): Promise<void> {
    await requestAPI<unknown>(
      `${kernelPath(kernelId)}/queue/${encodeURIComponent(msgId)}`,
      { method: 'DELETE' },
      this._settings
    );
  }

  async answerInput(kernelId: string, value: string): Promise<void> {
    await requestAPI<unknown>(
      `${kernelPath(kernelId)}/input`,
      { method: 'POST', body: JSON.stringify({ value }) },
      this._settings
    );
  }

  interruptQueue(
    kernelId: string,
    keepQueue: boolean
  ): Promise<IQueueInterrupt> {
    const query = URLExt.objectToQueryString({ continue: String(keepQueue) });
    return requestAPI<IQueueInterrupt>(
      `${kernelPath(kernelId)}/queue/interrupt${query}`,
      { method: 'POST' },
      this._settings
    );
  }

  dataflow(kernelId: string): Promise<IDataflow | null> {
    return orNullIfMissing(
      this._get<IDataflow>(`${kernelPath(kernelId)}/dataflow`)
    );
  }

  async plan(kernelId: string, request: IPlanRequest): Promise<IPlan> {
    const reply = await requestAPI<IPlan>(
      `${kernelPath(kernelId)}/plan`,
      { method: 'POST', body: JSON.stringify(request) },
      this._settings
    );
    if (!reply || !Array.isArray(reply.cells)) {
      throw new Error('the server sent no plan back');
    }
    return reply;
  }

  private _get<T>(endPoint: string): Promise<T> {
    return requestAPI<T>(endPoint, {}, this._settings);
  }

  private _settings: ServerConnection.ISettings;
}

function kernelPath(kernelId: string): string {
  return `kernels/${encodeURIComponent(kernelId)}`;
}

async function orNullIfMissing<T>(request: Promise<T>): Promise<T | null> {
  try {
    return await request;
  } catch (error) {
    if (httpStatus(error) === 404) {
      return null;
    }
    throw error;
  }
}
