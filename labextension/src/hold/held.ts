/**
 * Runs held until a notebook's kernel can take them: JupyterLab drops a run
 * issued while its session has no kernel connection yet ("Initializing"), so
 * the hold plugin keeps it here, in order, and sends it once the session has
 * a kernel connection. Pure bookkeeping (no JupyterLab objects) so it can be
 * unit tested.
 */

/**
 * What the hold needs of a kernel connection (`Kernel.IKernelConnection`).
 */
export interface IKernelLike {
  readonly connectionStatus: string;
  readonly status: string;
}

/**
 * Whether a kernel connection takes requests now: it exists and is not dead
 * or given up. While it connects it queues what it is sent and sends it once
 * connected, as it does for every run JupyterLab issues once the connection
 * exists; so held runs go to it as soon as it exists, before any later run,
 * and keep their order.
 */
export function isKernelUsable(
  kernel: IKernelLike | null | undefined
): boolean {
  return (
    !!kernel &&
    kernel.connectionStatus !== 'disconnected' &&
    kernel.status !== 'dead'
  );
}

/**
 * What becomes of a notebook's held runs now: sent (the kernel takes them),
 * dropped (no kernel will: the user chose none, or it died), or kept waiting.
 */
export type HeldFate = 'send' | 'drop' | 'wait';

export function fateOfHeldRuns(session: {
  isReady: boolean;
  hasNoKernel: boolean;
  kernel: IKernelLike | null | undefined;
}): HeldFate {
  if (
    (session.isReady && session.hasNoKernel) ||
    session.kernel?.status === 'dead'
  ) {
    return 'drop';
  }
  return isKernelUsable(session.kernel) ? 'send' : 'wait';
}

/**
 * Something that can be held: a cell, which may be deleted meanwhile.
 */
export interface IHoldable {
  readonly isDisposed: boolean;
}

/**
 * One notebook's held runs, first in first out.
 */
export class HeldRuns<T extends IHoldable> {
  /**
   * Held runs, oldest first.
   */
  get size(): number {
    return this._items.length;
  }

  hold(item: T): void {
    this._items.push(item);
  }

  /**
   * Take every held run that still exists, oldest first (each once, as often
   * as it was held).
   */
  release(): T[] {
    const items = this._items.filter(item => !item.isDisposed);
    this._items = [];
    return items;
  }

  /**
   * Whether `item` is held.
   */
  has(item: T): boolean {
    return this._items.includes(item);
  }

  private _items: T[] = [];
}
