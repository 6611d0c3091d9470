/**
 * When open Data Viewers read their rows again: once the server listed a
 * kernel's variables anew and no execution started on it for a moment, so a
 * burst of cells costs the kernel one page read per viewer, not one per cell
 * (each read runs in the kernel beside the next cell). The viewers show
 * their stale marker meanwhile.
 */
export class QuietRefresh {
  /**
   * @param delayMs - how long a kernel must stay without a new execution.
   * @param refresh - reads the viewers of a kernel again.
   */
  constructor(
    private readonly _delayMs: number,
    private readonly _refresh: (kernelId: string) => void
  ) {}

  /**
   * The server has a new snapshot of the kernel's variables.
   */
  updated(kernelId: string): void {
    this._arm(kernelId);
  }

  /**
   * An execution started on the kernel: a pending read waits for quiet again.
   */
  started(kernelId: string): void {
    if (this._timers.has(kernelId)) {
      this._arm(kernelId);
    }
  }

  dispose(): void {
    this._timers.forEach(timer => clearTimeout(timer));
    this._timers.clear();
  }

  private _arm(kernelId: string): void {
    clearTimeout(this._timers.get(kernelId));
    const timer = setTimeout(() => {
      this._timers.delete(kernelId);
      this._refresh(kernelId);
    }, this._delayMs);
    this._timers.set(kernelId, timer);
  }

  private _timers = new Map<string, ReturnType<typeof setTimeout>>();
}
