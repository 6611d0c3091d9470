/**
 * Shapes of the server's dataflow answers (`GET .../kernels/{id}/dataflow`,
 * `POST .../kernels/{id}/plan`) and of the markers shown on cells.
 */

/**
 * Why a recorded cell is stale: `name` was redefined by execution
 * `execution_count` of cell `cell_id` (at `at`) after the cell ran.
 */
export interface IStaleReason {
  name: string;
  cell_id: string;
  execution_count: number | null;
  at: string | null;
}

/**
 * A recorded cell's dataflow, from its latest execution in the kernel's
 * current run.
 */
export interface IDataflowCell {
  id: string;
  execution_count: number | null;
  /**
   * The code as it ran (absent from older servers).
   */
  source?: string;
  defines: string[];
  /**
   * Names read before the cell defines them.
   */
  uses: string[];
  stale_because: IStaleReason[];
  /**
   * Names used that only executions of deleted or since-edited cells defined.
   */
  hidden_names: string[];
  analysed: boolean;
  error?: string | null;
}

/**
 * Which cell's execution fed which names to which cell.
 */
export interface IDataflowEdge {
  from: string;
  to: string;
  names: string[];
}

/**
 * `GET api/sidecar/kernels/{kernel_id}/dataflow`.
 */
export interface IDataflow {
  kernel_id: string;
  cells: IDataflowCell[];
  edges: IDataflowEdge[];
}

/**
 * Which way a plan goes from its target cell.
 */
export type PlanDirection = 'upstream' | 'downstream';

/**
 * Body of `POST api/sidecar/kernels/{kernel_id}/plan`: the notebook's current
 * code cells in order.
 */
export interface IPlanRequest {
  cells: Array<{ id: string; source: string }>;
  target: string;
  direction: PlanDirection;
}

/**
 * Answer of `POST .../plan`: the cell ids to run, in order.
 */
export interface IPlan {
  kernel_id: string;
  target: string;
  direction: PlanDirection;
  cells: string[];
}

/**
 * One reason a cell's output may be out of date.
 */
export type OutdatedReason =
  /**
   * `name` was redefined by another cell's later execution.
   */
  | {
      kind: 'redefined';
      name: string;
      cellId: string;
      executionCount: number | null;
    }
  /**
   * `names` come from cell `cellId`, itself out of date.
   */
  | {
      kind: 'upstream';
      names: string[];
      cellId: string;
      executionCount: number | null;
    }
  /**
   * The cell's source changed since it ran.
   */
  | { kind: 'edited' }
  /**
   * The cell uses `name`, which no cell of the notebook defines any more.
   */
  | { kind: 'hidden'; name: string };

/**
 * What a cell's marker shows: `hidden` when it reads hidden state, else
 * `stale`; every reason goes into its tooltip.
 */
export interface ICellMarker {
  kind: 'stale' | 'hidden';
  reasons: OutdatedReason[];
}
