"""`jupyter sidecar ...`: the extension's command line (console script `jupyter-sidecar`).

One JupyterApp whose subcommands are apps of their own, so `kernels`, `execute`, `tail`,
`variables` or `notebook` can join `lint` later the same way.
"""

from __future__ import annotations

import sys
from typing import Any

from jupyter_core.application import JupyterApp

from . import __version__
from .cli_lint import LintApp


class SidecarCLI(JupyterApp):
    """`jupyter sidecar SUBCOMMAND`."""

    name = "jupyter-sidecar"
    version = __version__
    description = "Command-line tools of jupyter_sidecar_ext."
    subcommands: dict[str, Any] = {
        "lint": (LintApp, LintApp.description.splitlines()[0]),
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
