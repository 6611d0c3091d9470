"""KernelManagerAdapter (_managers.py): every kernel manager the server creates is adapted
while installed; the factory comes back on uninstall, unless something replaced it."""

from __future__ import annotations

from typing import Any

from jupyter_sidecar_ext._managers import KernelManagerAdapter


class Marking(KernelManagerAdapter):
    def adapt(self, kernel_manager: Any) -> None:
        kernel_manager.adapted = True


class Manager:
    """The part of a MultiKernelManager an adapter uses."""

    def __init__(self) -> None:
        self.kernel_manager_factory = self.build

    def build(self, **kwargs: Any) -> Any:
        return type("KernelManager", (), {"kwargs": kwargs})()


def test_each_new_kernel_manager_is_adapted_until_uninstalled() -> None:
    manager = Manager()
    original = manager.kernel_manager_factory
    adapter = Marking(manager)
    assert adapter.install()
    assert not adapter.install()  # once
    built = manager.kernel_manager_factory(connection_file="k.json")
    assert built.adapted and built.kwargs == {"connection_file": "k.json"}
    adapter.uninstall()
    assert manager.kernel_manager_factory == original
    assert not hasattr(manager.kernel_manager_factory(), "adapted")


def test_a_factory_replaced_meanwhile_is_left_in_place() -> None:
    manager = Manager()
    adapter = Marking(manager)
    adapter.install()

    def other(**kwargs: Any) -> Any:
        return None

    manager.kernel_manager_factory = other
    adapter.uninstall()
    assert manager.kernel_manager_factory is other
    assert not Marking(object()).install()  # no factory at all
