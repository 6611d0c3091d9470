"""`jupyter sidecar ...`: the extension's command line (console script `jupyter-sidecar`).

One JupyterApp whose subcommands are apps of their own: `kernels`, `execute`, `tail`,
`variables`, `notebook`, `dataflow` and `run` ask a running server (common.py, client.py),
`lint` works on files.
"""

from __future__ import annotations

import sys
from typing import Any

from jupyter_core.application import JupyterApp

from .._version import __version__
from .dataflow import DataflowApp, RunApp
from .execute import ExecuteApp
from .kernels import KernelsApp
from .lint import LintApp
from .notebook import NotebookApp
from .tail import TailApp
from .variables import VariablesApp


class SidecarCLI(JupyterApp):
    """`jupyter sidecar SUBCOMMAND`."""

    name = "jupyter-sidecar"
    version = __version__
    description = "Command-line tools of jupyter_sidecar_ext."
    subcommands: dict[str, Any] = {
        "kernels": (KernelsApp, KernelsApp.description.splitlines()[0]),
        "execute": (ExecuteApp, ExecuteApp.description.splitlines()[0]),
        "tail": (TailApp, TailApp.description.splitlines()[0]),
        "variables": (VariablesApp, VariablesApp.description.splitlines()[0]),
        "notebook": (NotebookApp, NotebookApp.description.splitlines()[0]),
        "lint": (LintApp, LintApp.description.splitlines()[0]),
        "dataflow": (DataflowApp, DataflowApp.description.splitlines()[0]),
        "run": (RunApp, RunApp.description.splitlines()[0]),
    }

    def start(self) -> None:
        if self.subapp is None:
            print("jupyter sidecar: give a subcommand:", file=sys.stderr)
            for name, (_, help_text) in self.subcommands.items():
                print(f"  {name:10} {help_text}", file=sys.stderr)
            self.exit(2)
        super().start()


def main(argv: list[str] | None = None) -> None:
    """Entry point of `jupyter-sidecar` (and so of `jupyter sidecar`)."""
    SidecarCLI.launch_instance(argv)


if __name__ == "__main__":
    main()
