/**
 * DelayedBadge: a status badge ("busy", "stale") that shows only once its
 * condition has held for a moment. A quick cell (most cells) makes the
 * kernel busy and the listed values stale for a few milliseconds: showing
 * and hiding the badges for it flickers and costs the page a layout and a
 * paint beside every run, while the cell's result is being shown. A badge
 * that is shown hides at once when its condition ends.
 */
export class DelayedBadge {
  /**
   * @param node - the badge (its `hidden` is what this class writes).
   * @param delayMs - how long the condition must hold before it shows.
   * @param onDue - the delay has passed: render again (the owner calls
   *   {@link set} with the condition as it is then, on its next frame).
   */
  constructor(
    readonly node: HTMLElement,
    private readonly _delayMs: number,
    private readonly _onDue: () => void
  ) {
    node.hidden = true;
  }

  /**
   * The badge's condition as it is now.
   */
  set(on: boolean): void {
    if (!on) {
      this._cancel();
      this._due = false;
      if (!this.node.hidden) {
        this.node.hidden = true;
      }
      return;
    }
    if (!this.node.hidden) {
      return;
    }
    if (this._due) {
      this.node.hidden = false;
    } else if (this._timer === undefined) {
      this._timer = setTimeout(() => {
        this._timer = undefined;
        this._due = true;
        this._onDue();
      }, this._delayMs);
    }
  }

  dispose(): void {
    this._cancel();
  }

  private _cancel(): void {
    if (this._timer !== undefined) {
      clearTimeout(this._timer);
      this._timer = undefined;
    }
  }

  private _due = false;
  private _timer: ReturnType<typeof setTimeout> | undefined = undefined;
}
