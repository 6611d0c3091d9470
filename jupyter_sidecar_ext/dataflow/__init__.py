"""Dataflow between cells: what each execution defines and uses, which recorded cells are
stale, and which cells to run for a cell's inputs or dependents (README "Dataflow")."""
