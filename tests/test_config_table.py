"""The README's settings tables are the traits' (regenerate with
`python -m jupyter_sidecar_ext.config_table --write README.md`)."""

from __future__ import annotations

from pathlib import Path

from jupyter_server.extension.application import ExtensionApp
from traitlets import Int
from traitlets.config import Configurable

from jupyter_sidecar_ext import config_table
from jupyter_sidecar_ext.app import SidecarApp
from jupyter_sidecar_ext.legacy_settings import RENAMED, LegacySettings

README = Path(__file__).parent.parent / "README.md"


def test_the_readme_table_is_the_traits_table() -> None:
    readme = README.read_text(encoding="utf-8")
    assert config_table.in_readme(readme) == config_table.markdown(), (
        "README.md's settings tables differ from the traits: run "
        "`python -m jupyter_sidecar_ext.config_table --write README.md`"
    )


def test_every_class_the_app_builds_is_in_the_table() -> None:
    built = set(SidecarApp.classes) - set(ExtensionApp.classes)
    assert built <= set(config_table.CONFIGURABLES)


def test_a_new_trait_shows_in_the_table() -> None:
    class Service(Configurable):
        budget = Int(3, config=True, help="How | much.")
        internal = Int(4, help="Not a setting.")

    table = config_table.class_table(Service)
    assert "| `budget` | Int | `3` | How \\| much. |" in table
    assert "internal" not in table


def test_every_old_name_is_a_deprecated_trait_with_a_new_home() -> None:
    old_traits = LegacySettings.class_own_traits(config=True)
    assert set(old_traits) == set(RENAMED)
    by_name = {cls.__name__: cls for cls in config_table.CONFIGURABLES}
    for old, (clsname, new) in RENAMED.items():
        assert new in by_name[clsname].class_own_traits(config=True), old
        assert not SidecarApp.class_own_traits().get(old), old


def test_write_updates_only_the_block(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    stale = f"# Title\n\n{config_table.BEGIN}\nold\n{config_table.END}\n\nafter\n"
    readme.write_text(stale, encoding="utf-8")
    assert config_table.write(readme)
    text = readme.read_text(encoding="utf-8")
    assert text == f"# Title\n\n{config_table.markdown()}\n\nafter\n"
    assert not config_table.write(readme)  # nothing left to change
