"""Config discovery for lint: nearest file wins per tool, request options win over files,
nothing is read outside the root, and results are cached by the files' mtimes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from jupyter_sidecar_ext.lint.config import ConfigError, ConfigFinder, build_spec
from jupyter_sidecar_ext.lint.format import TOOLS, FormatSpec, format_cell

UNSORTED = "from os import sep, path\nx = {'a':1}"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def spec(finder: ConfigFinder, path: str, options: object = None) -> FormatSpec:
    directory = finder.directory_for(path)
    return build_spec(finder.find(directory), options, TOOLS, directory)


def test_no_config_means_black_defaults_and_isort_profile_black(tmp_path: Path) -> None:
    found = spec(ConfigFinder(tmp_path), "nb.ipynb")
    assert found.black == () and dict(found.isort) == {"profile": "black"}
    assert found.directory == str(tmp_path.resolve())


def test_nearest_pyproject_wins(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "[tool.black]\nline-length = 100\n")
    write(
        tmp_path / "a/pyproject.toml",
        "[tool.black]\nline-length = 60\nskip-string-normalization = true\n",
    )
    write(tmp_path / "a/b/pyproject.toml", "[project]\nname = 'no-black-here'\n")
    finder = ConfigFinder(tmp_path)
    assert dict(spec(finder, "a/b/c/nb.ipynb").black) == {
        "line_length": 60,
        "skip_string_normalization": True,
    }
    assert dict(spec(finder, "nb.ipynb").black) == {"line_length": 100}
    # isort follows black's line length when it has no config of its own
    assert dict(spec(finder, "nb.ipynb").isort) == {"profile": "black", "line_length": 100}


def test_black_and_isort_are_found_separately(tmp_path: Path) -> None:
    write(
        tmp_path / "pyproject.toml", "[tool.black]\nline-length = 70\ntarget-version = ['py310']\n"
    )
    write(tmp_path / "sub/.isort.cfg", "[settings]\nforce_single_line = true\n")
    found = spec(ConfigFinder(tmp_path), "sub/nb.ipynb")
    assert dict(found.black) == {"line_length": 70, "target_versions": ("py310",)}
    assert found.isort_file == str((tmp_path / "sub/.isort.cfg").resolve()) and found.isort == ()
    assert format_cell(UNSORTED, found).source == (
        'from os import path\nfrom os import sep\n\nx = {"a": 1}'
    )


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (".isort.cfg", "[isort]\nforce_single_line = true\n"),
        ("pyproject.toml", "[tool.isort]\nforce_single_line = true\n"),
        ("setup.cfg", "[isort]\nforce_single_line = true\n"),
        ("setup.cfg", "[tool:isort]\nforce_single_line = true\n"),
    ],
)
def test_isort_config_files(tmp_path: Path, name: str, text: str) -> None:
    write(tmp_path / name, text)
    found = spec(ConfigFinder(tmp_path), "nb.ipynb")
    assert found.isort_file.endswith(name)
    assert format_cell(UNSORTED, found).source.startswith("from os import path\nfrom os import sep")


def test_isort_prefers_isort_cfg_in_one_directory(tmp_path: Path) -> None:
    write(tmp_path / "setup.cfg", "[isort]\nforce_single_line = true\n")
    write(tmp_path / ".isort.cfg", "[settings]\nline_length = 30\n")
    assert spec(ConfigFinder(tmp_path), "nb.ipynb").isort_file.endswith(".isort.cfg")


def test_request_options_win(tmp_path: Path) -> None:
    write(
        tmp_path / "pyproject.toml",
        "[tool.black]\nline-length = 100\n[tool.isort]\nprofile = 'google'\n",
    )
    found = spec(
        ConfigFinder(tmp_path),
        "nb.ipynb",
        {"black": {"line-length": 20}, "isort": {"profile": "black", "force_single_line": True}},
    )
    assert dict(found.black) == {"line_length": 20}
    assert dict(found.isort) == {"profile": "black", "force_single_line": True}
    assert format_cell("f(argument_one, argument_two)", found).source == (
        "f(\n    argument_one,\n    argument_two,\n)"
    )


def test_search_stops_at_the_root(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "[tool.black]\nline-length = 42\n")
    root = tmp_path / "root"
    finder = ConfigFinder(root)
    (root / "sub").mkdir(parents=True)
    assert spec(finder, "sub/nb.ipynb").black == ()


def test_search_stops_at_a_repository(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "[tool.black]\nline-length = 42\n")
    (tmp_path / "repo/.git").mkdir(parents=True)
    assert spec(ConfigFinder(tmp_path), "repo/nb.ipynb").black == ()
    assert dict(spec(ConfigFinder(tmp_path), "nb.ipynb").black) == {"line_length": 42}


@pytest.mark.parametrize("path", ["../nb.ipynb", "a/../../nb.ipynb", "/../../etc/nb.ipynb"])
def test_paths_outside_the_root_are_refused(tmp_path: Path, path: str) -> None:
    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    with pytest.raises(ConfigError, match="outside the server's root"):
        ConfigFinder(root).directory_for(path)


def test_a_symlinked_directory_pointing_out_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    write(outside / "pyproject.toml", "[tool.black]\nline-length = 42\n")
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(outside, root / "link")
    with pytest.raises(ConfigError, match="outside the server's root"):
        ConfigFinder(root).directory_for("link/nb.ipynb")


def test_unresolvable_paths_are_refused(tmp_path: Path) -> None:
    os.symlink(tmp_path / "loop", tmp_path / "loop")
    with pytest.raises(ConfigError, match="cannot resolve path"):
        ConfigFinder(tmp_path).directory_for("loop/nb.ipynb")
    with pytest.raises(ConfigError, match="cannot resolve path"):
        ConfigFinder(tmp_path).directory_for("a\x00b/nb.ipynb")


def test_a_symlinked_config_file_pointing_out_is_not_read(tmp_path: Path) -> None:
    outside = write(tmp_path / "outside/pyproject.toml", "[tool.black]\nline-length = 42\n")
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(outside, root / "pyproject.toml")
    os.symlink(tmp_path / "outside" / "missing.cfg", root / "setup.cfg")  # dangling
    assert spec(ConfigFinder(root), "nb.ipynb").black == ()


def test_a_symlink_inside_the_root_is_followed(tmp_path: Path) -> None:
    write(tmp_path / "shared.toml", "[tool.black]\nline-length = 42\n")
    os.symlink(tmp_path / "shared.toml", tmp_path / "pyproject.toml")
    assert dict(spec(ConfigFinder(tmp_path), "nb.ipynb").black) == {"line_length": 42}


def test_cached_until_a_file_changes(tmp_path: Path) -> None:
    config = write(tmp_path / "pyproject.toml", "[tool.black]\nline-length = 42\n")
    finder = ConfigFinder(tmp_path)
    first = finder.find(tmp_path)
    assert finder.find(tmp_path) is first  # nothing changed: the cached result
    config.write_text("[tool.black]\nline-length = 43\n")
    os.utime(config, ns=(config.stat().st_atime_ns, config.stat().st_mtime_ns + 10**9))
    assert dict(finder.find(tmp_path).black) == {"line_length": 43}
    write(tmp_path / "sub/pyproject.toml", "[tool.black]\nline-length = 44\n")
    assert dict(finder.find(tmp_path / "sub").black) == {"line_length": 44}


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("pyproject.toml", "[tool.black\n", "not valid TOML"),
        ("pyproject.toml", "[tool.black]\nline-length = 'long'\n", "positive integer"),
        ("pyproject.toml", "[tool.black]\ntarget-version = ['py2']\n", "unknown value 'PY2'"),
        ("setup.cfg", "[isort\n", "cannot be parsed"),
        ("setup.cfg", "[isort]\nline_length = many\n", "isort: invalid literal"),
        (".isort.cfg", "[settings]\nprofile = nope\n", "isort: Specified profile of nope"),
    ],
)
def test_broken_config_is_a_clear_error(tmp_path: Path, name: str, text: str, message: str) -> None:
    write(tmp_path / name, text)
    with pytest.raises(ConfigError, match=message):
        spec(ConfigFinder(tmp_path), "nb.ipynb")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ([], "options must be an object"),
        ({"ruff": {}}, "unknown options section 'ruff'"),
        ({"black": []}, "black options must be an object"),
        ({"black": {"line_length": "88"}}, "positive integer"),
        ({"black": {"line_length": 0}}, "positive integer"),
        ({"black": {"preview": "yes"}}, "true or false"),
        ({"black": {"target_versions": ["py99"]}}, "unknown value 'PY99'"),
        ({"black": {"fast": True}}, "unknown black option 'fast'"),
        ({"isort": {"settings_path": "/etc"}}, "cannot be set in a request"),
        ({"isort": {"src_paths": ["/"]}}, "cannot be set in a request"),
        ({"isort": {"bogus": 1}}, "unknown isort option 'bogus'"),
        ({"isort": {"profile": "nope"}}, "isort: Specified profile of nope"),
        ({"isort": {"line_length": {"a": 1}}}, "must be a string, number"),
    ],
)
def test_bad_options(tmp_path: Path, options: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        spec(ConfigFinder(tmp_path), "nb.ipynb", options)


def test_no_root_means_no_discovery() -> None:
    finder = ConfigFinder(None)
    assert finder.directory_for("../anything.ipynb") is None
    assert build_spec(finder.find(None), None, TOOLS, None).directory == ""
