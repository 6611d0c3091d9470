"""What the sidecar records: the output rules (output_area), the shadow notebook (pure), and
the SQLite store that keeps recorded cells across server restarts."""
