"""What one cell defines and uses at the top level, from its code as IPython runs it.

The cell goes through IPython's own input transformations first (`%time x = f()` becomes
`get_ipython().run_line_magic('time', 'x = f()')`), then one ast walk in execution order:
a name read before the cell binds it is a use; a name bound is a definition. Function and
lambda bodies are deferred: the globals they read count as uses of the defining cell (they
are read when it is called), the ones they declare `global` and assign count as definitions.
Comprehensions, lambdas and class bodies do not leak their names. `df["a"] = 1`, `obj.x = 1`
and calls of well-known mutating methods (`lst.append(x)`) use and redefine the object;
the variable snapshot after each execution catches the mutations code hides (service.py).
"""

from __future__ import annotations

import ast
import builtins
import re
import shlex
from dataclasses import dataclass, field
from functools import lru_cache

from IPython.core.inputtransformer2 import TransformerManager

#: magics whose argument or body is Python run in the user's namespace
_DEFINING_MAGICS = frozenset({"time", "capture", "prun"})
#: magics whose code runs in a namespace of its own: it reads globals, binds nothing
_READING_MAGICS = frozenset({"timeit"})
#: methods that change their object in place (the snapshot catches the others)
MUTATING_METHODS = frozenset(
    {
        "append",
        "extend",
        "insert",
        "remove",
        "pop",
        "popitem",
        "clear",
        "update",
        "setdefault",
        "sort",
        "reverse",
        "add",
        "discard",
        "difference_update",
        "intersection_update",
        "symmetric_difference_update",
        "appendleft",
        "extendleft",
        "popleft",
        "rotate",
        "fill",
        "resize",
        "put",
        "itemset",
        "setflags",
        "set_index",
        "rename",
    }
)
_BUILTINS = frozenset(dir(builtins))
_IPYTHON_NAMES = frozenset({"get_ipython", "display", "In", "Out", "exit", "quit"})
_HISTORY_NAME = re.compile(r"^_(_{0,2}|i{1,3}|i?\d+|oh|ih|dh)$")


@dataclass(frozen=True)
class CellNames:
    """A cell's top-level names. `star`: a star import may define anything. `error`: the
    cell does not parse (nothing is known about it)."""

    defines: frozenset[str] = frozenset()
    uses: frozenset[str] = frozenset()
    mutates: frozenset[str] = frozenset()
    star: bool = False
    error: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "defines": sorted(self.defines),
            "uses": sorted(self.uses),
            "mutates": sorted(self.mutates),
            "star": self.star,
            "error": self.error,
        }


@lru_cache(maxsize=4096)
def analyze(source: str) -> CellNames:
    """The names `source` defines and uses (cached: cells are analysed again per plan).
    IPython's transformations only rewrite what is not valid Python (magics, `!cmd`, `x?`,
    prompts, an indented first line), so valid cells skip them (half the cost)."""
    try:
        tree = ast.parse(source)  # plain Python: IPython would leave it as it is
    except (SyntaxError, ValueError):
        try:
            tree = ast.parse(TransformerManager().transform_cell(source))
        except (SyntaxError, ValueError) as error:
            return CellNames(error=f"{type(error).__name__}: {error}")
    walker = _TopLevel()
    walker.run(tree.body)
    return walker.result()


def _ignored(name: str) -> bool:
    return name in _BUILTINS or name in _IPYTHON_NAMES or bool(_HISTORY_NAME.match(name))


def _root_name(node: ast.expr) -> str | None:
    """`df` for `df`, `df["a"]`, `df.a.b`, `df[0][1]`."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


@dataclass
class _Scope:
    """A function/lambda/comprehension body: what it binds, reads and declares."""

    bound: set[str] = field(default_factory=set)
    read: set[str] = field(default_factory=set)
    globals_: set[str] = field(default_factory=set)
    nonlocals: set[str] = field(default_factory=set)


class _TopLevel(ast.NodeVisitor):
    """Walks module-level code in execution order; nested scopes go to _Nested."""

    def __init__(self) -> None:
        self.defined: set[str] = set()  # bound so far in this cell
        self.defines: set[str] = set()
        self.uses: set[str] = set()
        self.mutates: set[str] = set()
        self.deferred: set[str] = set()  # globals read by function bodies
        self.star = False

    def run(self, body: list[ast.stmt]) -> None:
        for statement in body:
            self.visit(statement)

    def result(self) -> CellNames:
        uses = self.uses | (self.deferred - self.defined)
        return CellNames(
            defines=frozenset(n for n in self.defines if not _HISTORY_NAME.match(n)),
            uses=frozenset(n for n in uses if not _ignored(n)),
            mutates=frozenset(self.mutates),
            star=self.star,
        )

    # -- names ---------------------------------------------------------------------------

    def read(self, name: str) -> None:
        if name not in self.defined:
            self.uses.add(name)

    def bind(self, name: str) -> None:
        self.defined.add(name)
        self.defines.add(name)

    def mutate(self, name: str) -> None:
        self.read(name)
        self.mutates.add(name)
        self.bind(name)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self.read(node.id)
        else:  # Store or Del: the binding changes
            self.bind(node.id)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self._target(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        self._target(node)

    def _target(self, node: ast.Attribute | ast.Subscript) -> None:
        self.generic_visit(node)
        if not isinstance(node.ctx, ast.Load):
            root = _root_name(node)
            if root is not None:
                self.mutate(root)

    # -- statements whose value runs before their targets are bound ---------------------

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self.visit(target)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            self.read(node.target.id)
            self.bind(node.target.id)
        else:
            self.visit(node.target)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
        self.visit(node.annotation)
        if node.value is not None or not isinstance(node.target, ast.Name):
            self.visit(node.target)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self.bind(node.target.id)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        self.visit(node.target)
        self.run(node.body)
        self.run(node.orelse)

    visit_AsyncFor = visit_For

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self.visit(item.context_expr)
            if item.optional_vars is not None:
                self.visit(item.optional_vars)
        self.run(node.body)

    visit_AsyncWith = visit_With

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        had = node.name in self.defined if node.name else False
        if node.name:
            self.defined.add(node.name)  # `e` is unbound again when the handler ends
        self.run(node.body)
        if node.name and not had:
            self.defined.discard(node.name)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.bind(alias.asname or alias.name.split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name == "*":
                self.star = True
            else:
                self.bind(alias.asname or alias.name)

    def visit_Global(self, node: ast.Global) -> None:
        pass  # at the top level, a no-op

    def visit_Call(self, node: ast.Call) -> None:
        if self._magic(node):
            return
        self.generic_visit(node)
        func = node.func
        inplace = any(
            k.arg == "inplace" and isinstance(k.value, ast.Constant) and k.value.value is True
            for k in node.keywords
        )
        if isinstance(func, ast.Attribute) and (func.attr in MUTATING_METHODS or inplace):
            root = _root_name(func.value)
            if root is not None:
                self.mutate(root)

    def _magic(self, node: ast.Call) -> bool:
        """`get_ipython().run_line_magic(name, arg)` / `run_cell_magic(name, line, body)`:
        Python arguments of known magics are analysed as code, other magics read nothing."""
        func = node.func
        if not (
            isinstance(func, ast.Attribute)
            and func.attr in ("run_line_magic", "run_cell_magic")
            and isinstance(func.value, ast.Call)
            and isinstance(func.value.func, ast.Name)
            and func.value.func.id == "get_ipython"
        ):
            return False
        args = [a.value if isinstance(a, ast.Constant) else None for a in node.args]
        if not args or not all(isinstance(a, str) for a in args):
            return True
        name, code = str(args[0]), str(args[-1])
        if name in _DEFINING_MAGICS or name in _READING_MAGICS:
            if name == "capture" and len(args) == 3:
                self._capture_target(str(args[1]))
            try:
                body = ast.parse(code).body
            except SyntaxError:
                return True
            if name in _READING_MAGICS:
                nested = _Nested()
                nested.run_body(body)
                self.uses |= nested.scope.read - nested.scope.bound - self.defined
            else:
                self.run(body)
        return True

    def _capture_target(self, line: str) -> None:
        try:
            words = [w for w in shlex.split(line) if not w.startswith("-")]
        except ValueError:
            return
        if words and words[0].isidentifier():
            self.bind(words[0])

    # -- scopes of their own -------------------------------------------------------------

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for decorator in node.decorator_list:
            self.visit(decorator)
        self._arguments(node.args)
        if node.returns is not None:
            self.visit(node.returns)
        self._function_body(node.args, node.body)
        self.bind(node.name)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._arguments(node.args)
        self._function_body(node.args, [ast.Expr(node.body)])

    def _arguments(self, args: ast.arguments) -> None:
        """Defaults and annotations run when the function is defined."""
        for default in [*args.defaults, *args.kw_defaults]:
            if default is not None:
                self.visit(default)
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
            if arg is not None and arg.annotation is not None:
                self.visit(arg.annotation)

    def _function_body(self, args: ast.arguments, body: list[ast.stmt]) -> None:
        nested = _Nested()
        nested.bind_arguments(args)
        nested.run_body(body)
        scope = nested.scope
        local = (scope.bound - scope.globals_) | scope.nonlocals
        self.deferred |= scope.read - local
        for name in scope.globals_ & scope.bound:
            self.defines.add(name)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expr in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
            self.visit(expr)
        nested = _Nested(class_body=True)
        nested.run_body(node.body)
        scope = nested.scope
        self.uses |= scope.read - scope.bound - self.defined
        self.deferred |= nested.deferred
        self.defines |= scope.globals_ & scope.bound
        self.bind(node.name)

    def _comprehension(
        self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp
    ) -> None:
        nested = _Nested()
        nested.visit(node)
        scope = nested.scope
        self.uses |= scope.read - scope.bound - self.defined
        for name in nested.walrus:  # `[y := f(x) for x in xs]` binds y here
            self.bind(name)

    visit_ListComp = _comprehension
    visit_SetComp = _comprehension
    visit_GeneratorExp = _comprehension
    visit_DictComp = _comprehension

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.pattern is not None:
            self.visit(node.pattern)
        if node.name is not None:
            self.bind(node.name)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name is not None:
            self.bind(node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        self.generic_visit(node)
        if node.rest is not None:
            self.bind(node.rest)

    def visit_TypeAlias(self, node: ast.AST) -> None:  # Python >= 3.12: `type X = ...`
        name = getattr(node, "name", None)
        value = getattr(node, "value", None)
        if isinstance(value, ast.expr):  # evaluated lazily: its globals are deferred reads
            nested = _Nested()
            nested.visit(value)
            self.deferred |= nested.scope.read
        if isinstance(name, ast.Name):
            self.bind(name.id)


class _Nested(ast.NodeVisitor):
    """A function, lambda, comprehension or class body: which names it binds and reads,
    whatever the order (Python decides a function's locals for the whole body)."""

    def __init__(self, class_body: bool = False) -> None:
        self.scope = _Scope()
        self.class_body = class_body
        self.deferred: set[str] = set()  # globals read by methods of a class body
        self.walrus: set[str] = set()

    def run_body(self, body: list[ast.stmt]) -> None:
        for statement in body:
            self.visit(statement)

    def bind_arguments(self, args: ast.arguments) -> None:
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
            if arg is not None:
                self.scope.bound.add(arg.arg)

    def visit_Name(self, node: ast.Name) -> None:
        target = self.scope.read if isinstance(node.ctx, ast.Load) else self.scope.bound
        target.add(node.id)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.target, ast.Name):
            self.scope.read.add(node.target.id)
        self.generic_visit(node)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self.walrus.add(node.target.id)
        self.scope.bound.add(node.target.id)

    def visit_Global(self, node: ast.Global) -> None:
        self.scope.globals_.update(node.names)

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        self.scope.nonlocals.update(node.names)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.scope.bound.add(alias.asname or alias.name.split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            self.scope.bound.add(alias.asname or alias.name)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self.scope.bound.add(node.name)
        self.generic_visit(node)

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        self.generic_visit(node)
        if node.name is not None:
            self.scope.bound.add(node.name)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name is not None:
            self.scope.bound.add(node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        self.generic_visit(node)
        if node.rest is not None:
            self.scope.bound.add(node.rest)

    def _inner(self, nested: _Nested, defaults: list[ast.expr | None]) -> None:
        """A scope inside this one: its free reads are reads of this scope (a class body
        is skipped by its methods' lookups, so they go straight to deferred)."""
        for default in defaults:
            if default is not None:
                self.visit(default)
        scope = nested.scope
        local = (scope.bound - scope.globals_) | scope.nonlocals
        free = scope.read - local
        if self.class_body:
            self.deferred |= free
        else:
            self.scope.read |= free
        self.scope.globals_ |= scope.globals_ & scope.bound

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for decorator in node.decorator_list:
            self.visit(decorator)
        nested = _Nested()
        nested.bind_arguments(node.args)
        nested.run_body(node.body)
        self._inner(nested, [*node.args.defaults, *node.args.kw_defaults])
        self.scope.bound.add(node.name)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        nested = _Nested()
        nested.bind_arguments(node.args)
        nested.visit(node.body)
        self._inner(nested, [*node.args.defaults, *node.args.kw_defaults])

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expr in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
            self.visit(expr)
        nested = _Nested(class_body=True)
        nested.run_body(node.body)
        self.scope.read |= nested.scope.read - nested.scope.bound
        self.scope.read |= nested.deferred
        self.scope.bound.add(node.name)

    def _comprehension(
        self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp
    ) -> None:
        nested = _Nested()
        for generator in node.generators:
            nested.visit(generator)
        for part in ("elt", "key", "value"):
            child = getattr(node, part, None)
            if isinstance(child, ast.AST):
                nested.visit(child)
        walrus = nested.walrus
        nested.scope.bound -= walrus
        self.scope.read |= nested.scope.read - nested.scope.bound
        self.scope.bound |= walrus
        self.walrus |= walrus

    visit_ListComp = _comprehension
    visit_SetComp = _comprehension
    visit_GeneratorExp = _comprehension
    visit_DictComp = _comprehension
