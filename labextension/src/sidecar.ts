/**
 * Sidecar: the {@link ISidecar} the main plugin provides. It asks the server
 * extension once what it offers, and listens to the event stream once for
 * all plugins.
 */

import type { Event } from '@jupyterlab/services';
import type { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import {
  asCellChanged,
  asExecutionFinished,
  asVariablesUpdated,
  IEmission
} from './events';
import type {
  ICellChangedEvent,
  IExecutionFinishedEvent,
  IServerInfo,
  ISidecar,
  ISidecarRequests,
  IVariablesUpdatedEvent,
  SidecarFeature
} from './tokens';

export class Sidecar implements ISidecar, IDisposable {
  constructor(options: Sidecar.IOptions) {
    this.requests = options.requests;
    this._stream = options.events;
    this._stream.connect(this._onEmission, this);
    this.ready = this._probe();
  }

  readonly requests: ISidecarRequests;
  readonly ready: Promise<void>;

  get version(): string | null {
    return this._info?.version ?? null;
  }

  get features(): readonly string[] {
    return this._info?.features ?? [];
  }

  hasFeature(name: SidecarFeature): boolean {
    return this.features.includes(name);
  }

  get cellChanged(): ISignal<ISidecar, ICellChangedEvent> {
    return this._cellChanged;
  }

  get executionFinished(): ISignal<ISidecar, IExecutionFinishedEvent> {
    return this._executionFinished;
  }

  get variablesUpdated(): ISignal<ISidecar, IVariablesUpdatedEvent> {
    return this._variablesUpdated;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._stream.disconnect(this._onEmission, this);
    Signal.clearData(this);
  }

  /**
   * Ask the server extension who it is, and say it in the console.
   */
  private async _probe(): Promise<void> {
    try {
      const info = await this.requests.info();
      this._info = {
        version: String(info.version),
        features: Array.isArray(info.features) ? info.features.map(String) : []
      };
      console.log(
        `jupyter-sidecar-ext: server sidecar ${this._info.version} ` +
          `(${this._info.features.join(', ')})`
      );
    } catch (reason) {
      console.warn(
        'jupyter-sidecar-ext: the server extension jupyter_sidecar_ext did not answer.',
        reason
      );
    }
  }

  private _onEmission(_: unknown, emission: Event.Emission): void {
    const data = emission as unknown as IEmission;
    const cell = asCellChanged(data);
    if (cell) {
      this._cellChanged.emit(cell);
      return;
    }
    const finished = asExecutionFinished(data);
    if (finished) {
      this._executionFinished.emit(finished);
      return;
    }
    const variables = asVariablesUpdated(data);
    if (variables) {
      this._variablesUpdated.emit(variables);
    }
  }

  private _info: IServerInfo | null = null;
  private _isDisposed = false;
  private _stream: ISignal<unknown, Event.Emission>;
  private _cellChanged = new Signal<ISidecar, ICellChangedEvent>(this);
  private _executionFinished = new Signal<ISidecar, IExecutionFinishedEvent>(
    this
  );
  private _variablesUpdated = new Signal<ISidecar, IVariablesUpdatedEvent>(
    this
  );
}

export namespace Sidecar {
  export interface IOptions {
    /**
     * The service manager's event stream.
     */
    events: ISignal<unknown, Event.Emission>;
    requests: ISidecarRequests;
  }
}
