"""The student handout: starter files derived from ``reference/``, and how to self-check.

`write_handout` (the ``grader assign`` command) writes three files:

- ``<assignment>.py``: the reference module with every solution region
  removed. A region is the lines between a ``# BEGIN SOLUTION`` and a
  ``# END SOLUTION`` marker line. Inside a function it becomes
  ``raise NotImplementedError`` (indented like the region); at module level
  it becomes ``NAME = None`` for each public name it assigns. Signatures,
  docstrings, the hint comments above the regions and the helpers without a
  region stay as they are. Names imported from another reference module
  (``from reference.backprop_lab import ...``) are inlined together with
  what they use from that module, their own regions removed too, because a
  submission is one file and the sandbox cannot import ``reference``.
- ``<assignment>.ipynb``: the same starter as an nbformat 4 notebook, a
  Markdown cell with the title and instructions, then one code cell per
  function or region.
- ``README.md``: how to run ``grader check`` and the titles of the public
  checks, read from the check files with `ast` (never imported). The checks
  themselves stay in the grader's installation: nothing hidden, no expected
  value and no reference body is copied into the handout.

The assignment's ``[starter]`` table may set ``reference`` (the module's path
from the repository root; default ``reference/<id with _ for ->.py``),
``instructions`` (the student-facing text; default the assignment's
description) and ``reference_docstring`` (whether the reference module's
docstring, minus its first line, is published too; default true, which is
how the quiz's exam options reach the student).
"""

from __future__ import annotations

import ast
import os
import re
import textwrap
from pathlib import Path

import nbformat

from grader.config.assignment import REPO_ROOT, Assignment, load_assignment
from grader.errors import ConfigurationError
from grader.source.pyparse import bound_names
from grader.files import write_text_atomic

_MARKER = re.compile(r"^([ \t]*)# (BEGIN|END) SOLUTION[ \t]*$")
_STARTER_KEYS = {"reference": str, "instructions": str, "reference_docstring": bool}
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
# pytest's default collection rules (the runner passes no ini file).
_CHECK_FILES = ("test_*.py", "*_test.py")


class HandoutError(ConfigurationError):
    """A handout that cannot be made; the message names the file and what to fix."""


# ------------------------------------------------------------ solution regions


def strip_solutions(source: str, filename: str = "<reference>") -> str:
    """`source` with every solution region replaced by its placeholder (see the module docstring)."""
    regions = _regions(source, filename)  # marker mistakes first: they are the likelier cause of a parse error
    return _apply(source, _region_edits(_parse(source, filename), regions, filename))


def _regions(source: str, filename: str) -> list[tuple[int, int, str]]:
    """The (BEGIN line, END line, indentation) of every region, checked for balance."""
    regions, open_at = [], None
    for number, line in enumerate(source.splitlines(), start=1):
        match = _MARKER.match(line)
        if match is None:
            continue
        indent, kind = match.groups()
        if kind == "BEGIN":
            if open_at is not None:
                raise HandoutError(f"{filename}:{number}: BEGIN SOLUTION inside the region opened at line {open_at[0]}")
            open_at = (number, indent)
        elif open_at is None:
            raise HandoutError(f"{filename}:{number}: END SOLUTION without a BEGIN SOLUTION")
        else:
            if indent != open_at[1]:
                raise HandoutError(f"{filename}:{number}: END SOLUTION is indented differently from its "
                                   f"BEGIN SOLUTION at line {open_at[0]}")
            regions.append((open_at[0], number, indent))
            open_at = None
    if open_at is not None:
        raise HandoutError(f"{filename}:{open_at[0]}: BEGIN SOLUTION is never closed")
    return regions


def _region_edits(tree: ast.Module, regions: list[tuple[int, int, str]],
                  filename: str) -> list[tuple[int, int, list[str]]]:
    """The `_apply` edits that replace each region of `tree` by its placeholder."""
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    return [(first, last, _placeholder(parents, first, last, indent, filename))
            for first, last, indent in regions]


def _placeholder(parents: dict[ast.AST, ast.AST], first: int, last: int, indent: str, filename: str) -> list[str]:
    """The lines that replace the region between marker lines `first` and `last`.

    `parents` maps every node of the module but the module itself to its parent.
    """
    inside = [n for n in parents if isinstance(n, ast.stmt) and first < n.lineno < last]
    outer = [n for n in inside if parents[n] not in inside]
    if not outer:
        raise HandoutError(f"{filename}:{first}: the solution region holds no statement")
    for node in outer:
        if node.end_lineno >= last or parents[node] is not parents[outer[0]]:
            raise HandoutError(f"{filename}:{node.lineno}: a statement crosses the solution region's "
                               f"boundary (lines {first}-{last}); put the markers around whole statements")
    container = parents[outer[0]]
    if isinstance(container, ast.Module):
        return [_none_assignment(node, name) for node in outer for name in bound_names(node)
                if not name.startswith("_")]
    ancestor = container
    while ancestor is not None and not isinstance(ancestor, _FUNCTIONS):
        ancestor = parents.get(ancestor)
    if ancestor is None:
        raise HandoutError(f"{filename}:{first}: a solution region must sit in a function body or at "
                           f"module level")
    return [f"{indent}raise NotImplementedError"]


def _none_assignment(node: ast.stmt, name: str) -> str:
    """``NAME = None``; a name the solution defines as a function says so, with its signature."""
    if isinstance(node, _FUNCTIONS):
        return f"{name} = None  # replace by a function: def {name}({ast.unparse(node.args)}): ..."
    return f"{name} = None"


def _apply(source: str, edits: list[tuple[int, int, list[str]]]) -> str:
    """Replace 1-based inclusive line ranges by new lines; the ranges must not overlap."""
    lines = source.splitlines()
    for first, last, new in sorted(edits, reverse=True):
        lines[first - 1:last] = new
    return "\n".join(lines) + "\n"


def _parse(source: str, filename: str) -> ast.Module:
    """`source` parsed; a syntax error becomes a HandoutError naming the file and line."""
    try:
        return ast.parse(source, filename=filename)
    except SyntaxError as exc:
        raise HandoutError(f"{filename}:{exc.lineno}: does not parse: {exc.msg}") from None


# ------------------------------------------------------- reference modules


def module_source(path: Path, *, strip: bool = True, _seen: tuple[Path, ...] = ()) -> str:
    """The module at `path` as one self-contained file: reference imports inlined, regions removed if `strip`."""
    path = Path(path).resolve()
    if path in _seen:
        raise HandoutError(f"{path}: reference modules import each other in a cycle")
    filename = _shown(path)
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise HandoutError(f"{filename}: cannot read the reference module: {exc.strerror}") from None
    regions = _regions(source, filename)
    tree = _parse(source, filename)
    lines = source.splitlines()
    edits = _region_edits(tree, regions, filename) if strip else []
    for node in ast.walk(tree):
        module = _reference_import(node)
        if module is None:
            continue
        if node not in tree.body or not isinstance(node, ast.ImportFrom) or module == "reference":
            raise HandoutError(f"{filename}:{node.lineno}: only a top-level `from reference.<module> import "
                               f"<names>` can be inlined into the starter")
        block = _inlined(REPO_ROOT / (module.replace(".", "/") + ".py"), [a.name for a in node.names],
                         tree, strip, (*_seen, path))
        # The block brings its own blank lines after it; the import's would add to them.
        last = node.end_lineno
        while last < len(lines) and not lines[last].strip():
            last += 1
        edits.append((node.lineno, last, block))
    return _apply(source, edits)


def _reference_import(node: ast.AST) -> str | None:
    """The module name when `node` imports from the ``reference`` package, else None."""
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        module = node.module
    elif isinstance(node, ast.Import):
        module = next((a.name for a in node.names if a.name.split(".")[0] == "reference"), None)
    else:
        return None
    return module if module and module.split(".")[0] == "reference" else None


def _inlined(path: Path, names: list[str], target: ast.Module, strip: bool, seen: tuple[Path, ...]) -> list[str]:
    """The lines that replace ``from <module> import names``: those names and what they use."""
    full_source = module_source(path, strip=False, _seen=seen)
    wanted = _closure(_parse(full_source, _shown(path)), names)
    taken = {name for node in target.body if not isinstance(node, (ast.Import, ast.ImportFrom))
             for name in bound_names(node)}
    clashes = sorted(wanted & taken)
    if clashes:
        raise HandoutError(f"{_shown(path)}: inlining it would redefine {', '.join(clashes)} of the importing module")
    imported = {name for node in target.body if isinstance(node, (ast.Import, ast.ImportFrom))
                for name in bound_names(node)}
    source = module_source(path, strip=True, _seen=seen) if strip else full_source
    tree = _parse(source, _shown(path))
    lines = source.splitlines()
    header = (f"From {_shown(path)}: {', '.join(names)} and what they use. Write the functions that raise "
              f"NotImplementedError here too; your own solution of that part will do.")
    block = textwrap.wrap(header, width=77, initial_indent="# ", subsequent_indent="# ") + [""]
    previous = None
    for node in tree.body:
        bound = set(bound_names(node))
        if not bound & wanted or isinstance(node, ast.ImportFrom) and node.module == "__future__":
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)) and bound <= imported:
            continue
        # PEP 8 layout: two blank lines around definitions, one between imports and constants.
        if isinstance(node, (*_FUNCTIONS, ast.ClassDef)) or isinstance(previous, (*_FUNCTIONS, ast.ClassDef)):
            block += ["", ""]
        elif previous is not None and _is_import(node) != _is_import(previous):
            block += [""]
        block += lines[_first_line(node, lines) - 1:node.end_lineno]
        previous = node
    return block + ["", ""]


def _is_import(node: ast.stmt) -> bool:
    """Whether `node` is an import statement."""
    return isinstance(node, (ast.Import, ast.ImportFrom))


def _closure(tree: ast.Module, names: list[str]) -> set[str]:
    """`names` and every module-level name of `tree` they use, directly or not."""
    defined = {name: node for node in tree.body for name in bound_names(node)}
    missing = [name for name in names if name not in defined]
    if missing:
        raise HandoutError(f"cannot inline {', '.join(missing)}: not defined at module level")
    wanted, pending = set(), list(names)
    while pending:
        name = pending.pop()
        if name in wanted:
            continue
        wanted.add(name)
        used = {n.id for n in ast.walk(defined[name]) if isinstance(n, ast.Name)}
        pending.extend(used & defined.keys())
    return wanted


def _first_line(node: ast.stmt, lines: list[str]) -> int:
    """A statement's first line, including its decorators and the comment lines right above it."""
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    while first > 1 and lines[first - 2].lstrip().startswith("#"):
        first -= 1
    return first


def _shown(path: Path) -> str:
    """`path` relative to the repository when it is inside it (error messages stay short)."""
    try:
        return Path(path).resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return str(path)


# ------------------------------------------------------------------ starter


def starter_config(assignment: Assignment) -> dict:
    """The [starter] table with its defaults filled in, validated (the error names the file and key)."""
    where = assignment.folder / "assignment.toml"
    table = dict(assignment.starter)
    for key, value in table.items():
        kind = _STARTER_KEYS.get(key)
        if kind is None:
            raise HandoutError(f"{where}: [starter] has unknown key `{key}`; allowed: {', '.join(_STARTER_KEYS)}")
        if not isinstance(value, kind):
            raise HandoutError(f"{where}: [starter] `{key}` must be a {kind.__name__}, found {value!r}")
    config = {"reference": f"reference/{assignment.id.replace('-', '_')}.py",
              "instructions": assignment.description, "reference_docstring": True}
    config.update(table)
    path = REPO_ROOT / config["reference"]
    if not path.is_file():
        raise HandoutError(f"{where}: assignment {assignment.id!r} has no reference module {config['reference']} "
                           f"to make a starter from (set [starter] `reference`)")
    config["path"] = path
    return config


def solution_source(assignment: Assignment | str) -> str:
    """The reference as one self-contained file, solutions kept (what full marks look like)."""
    assignment = _load(assignment)
    return module_source(starter_config(assignment)["path"], strip=False)


def starter_source(assignment: Assignment | str) -> str:
    """The starter ``.py``: the reference without its solutions, under a docstring for the student."""
    assignment = _load(assignment)
    config = starter_config(assignment)
    filename = config["reference"]
    body = module_source(config["path"], strip=True)
    tree = _parse(body, filename)
    docstring = _as_docstring(_intro(assignment, config, _inventory(tree), markdown=False))
    edits = [(1, 0, docstring.splitlines())]
    if ast.get_docstring(tree, clean=False) is not None:
        edits = [(tree.body[0].lineno, tree.body[0].end_lineno, docstring.splitlines())]
    source = _apply(body, edits)
    _verify(source, assignment, filename)
    return source


def _verify(source: str, assignment: Assignment, filename: str) -> None:
    """Refuse a starter that leaks a marker or a reference import, or lacks a required name."""
    tree = _parse(source, f"the starter made from {filename}")
    if any(_MARKER.match(line) for line in source.splitlines()):
        raise HandoutError(f"{filename}: a solution marker survived in the starter")
    if any(_reference_import(node) for node in ast.walk(tree)):
        raise HandoutError(f"{filename}: the starter still imports from `reference`")
    defined = {name for node in tree.body for name in bound_names(node)}
    missing = [group for group in assignment.required_functions if not set(group.split("|")) & defined]
    if missing:
        raise HandoutError(f"{filename}: the starter does not define {', '.join(missing)}, which "
                           f"{assignment.id}'s assignment.toml requires")


def _inventory(tree: ast.Module) -> dict[str, list[str]]:
    """The starter's top-level names by role: functions and classes to complete ("stubs"),
    ``NAME = None`` placeholders ("names"), and functions and classes given whole ("given")."""
    inventory: dict[str, list[str]] = {"stubs": [], "names": [], "given": []}
    for node in tree.body:
        if _is_placeholder(node):
            inventory["names"] += [name for name in bound_names(node) if not name.startswith("_")]
        elif isinstance(node, (*_FUNCTIONS, ast.ClassDef)):
            stubbed = any(isinstance(n, ast.Raise) and isinstance(n.exc, ast.Name)
                          and n.exc.id == "NotImplementedError" for n in ast.walk(node))
            inventory["stubs" if stubbed else "given"].append(node.name)
    return inventory


def _is_placeholder(node: ast.stmt) -> bool:
    """Whether `node` is a ``NAME = None`` left where a module-level solution region was."""
    return isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and node.value.value is None


def _intro(assignment: Assignment, config: dict, inventory: dict[str, list[str]], *, markdown: bool) -> str:
    """The title and instructions, as Markdown for the notebook or plain text for the docstring."""
    code = (lambda name: f"`{name}`") if markdown else (lambda name: name)
    parts = [f"# {assignment.title}" if markdown else assignment.title, config["instructions"].strip()]
    work = inventory["stubs"] + inventory["names"]
    if work:
        kinds = [f"`{kind}`" for kind, key in (("raise NotImplementedError", "stubs"), ("NAME = None", "names"))
                 if inventory[key]]
        guide = ("the docstrings state the contracts and the comments above the placeholders are the "
                 "chapter's hints" if inventory["stubs"] else "the comment above each one says what it is")
        parts.append(f"You write: {', '.join(map(code, work))}. Replace each {' and each '.join(kinds)} "
                     f"with your code; {guide}.")
    given = inventory["given"]
    if given:
        parts.append(f"Given, ready to use: {', '.join(map(code, given))}.")
    if config["reference_docstring"]:
        notes = (ast.get_docstring(_parse(config["path"].read_text(encoding="utf-8"), config["reference"])) or "")
        notes = notes.partition("\n")[2].strip()
        if notes:
            parts += [_markdown_paragraph(p) for p in notes.split("\n\n")] if markdown else [notes]
    extension = "ipynb" if markdown else "py"
    parts.append(f"Check your work with `grader check {assignment.id}.{extension} -a {assignment.id}`: "
                 f"it runs the public checks listed in README.md, in a sandbox.")
    return "\n\n".join(parts)


def _markdown_paragraph(paragraph: str) -> str:
    """A docstring paragraph for Markdown: indented layout (a list of options) is kept verbatim."""
    if any(line.startswith((" ", "\t")) for line in paragraph.splitlines()):
        return f"```text\n{paragraph}\n```"
    return paragraph


def _as_docstring(text: str) -> str:
    """`text` as a module docstring, long paragraphs wrapped at 79 columns."""
    paragraphs = []
    for paragraph in text.split("\n\n"):
        if any(line.startswith((" ", "\t")) for line in paragraph.splitlines()):
            paragraphs.append(paragraph)
        else:
            # A line break inside `code` would read as two words: keep each span on one line.
            joined = re.sub(r"`[^`]*`", lambda m: m.group(0).replace(" ", "\0"), " ".join(paragraph.split()))
            paragraphs.append(textwrap.fill(joined, width=79, break_on_hyphens=False).replace("\0", " "))
    body = "\n\n".join(paragraphs).replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    return f'"""{body}\n"""'


def _load(assignment: Assignment | str) -> Assignment:
    """An Assignment from its id, or the Assignment itself."""
    return load_assignment(assignment) if isinstance(assignment, str) else assignment


# ----------------------------------------------------------------- notebook


def starter_notebook(assignment: Assignment | str, source: str | None = None) -> nbformat.NotebookNode:
    """The starter as an nbformat 4 notebook: the instructions, then one code cell per definition or region."""
    assignment = _load(assignment)
    config = starter_config(assignment)
    source = starter_source(assignment) if source is None else source
    tree = _parse(source, f"the starter of {assignment.id}")
    cells = [nbformat.v4.new_markdown_cell(_intro(assignment, config, _inventory(tree), markdown=True))]
    cells += [nbformat.v4.new_code_cell(code) for code in code_cells(source)]
    notebook = nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"}})
    nbformat.validate(notebook)
    return notebook


def code_cells(source: str) -> list[str]:
    """`source` without its docstring, split into cells: the imports and constants before the
    first definition, then each definition, and each run of statements between definitions
    (a module-level region's placeholders stay together), with the comments above them."""
    tree = _parse(source, "<starter>")
    lines = source.splitlines()
    body = tree.body[1:] if ast.get_docstring(tree, clean=False) is not None else tree.body
    definitions = (*_FUNCTIONS, ast.ClassDef)
    groups: list[list[ast.stmt]] = []
    for index, node in enumerate(body):
        previous = groups[-1][-1] if groups else None
        # Simple statements share a cell when they sit on consecutive lines (a region's
        # placeholders), and the imports and constants before the first definition share
        # one; a placeholder after a blank line starts its own cell, as its region was one.
        preamble = not any(isinstance(n, definitions) for n in body[:index]) and not _is_placeholder(node)
        joins = (previous is not None and not isinstance(node, definitions) and not isinstance(previous, definitions)
                 and (preamble or _first_line(node, lines) == previous.end_lineno + 1))
        if joins:
            groups[-1].append(node)
        else:
            groups.append([node])
    # Each cell runs from the end of the previous one, so the comments between
    # two definitions go with the one below them.
    start = tree.body[0].end_lineno + 1 if body is not tree.body else 1
    texts = []
    for group in groups:
        texts.append("\n".join(lines[start - 1:group[-1].end_lineno]).strip("\n"))
        start = group[-1].end_lineno + 1
    if texts and "\n".join(lines[start - 1:]).strip():
        texts[-1] += "\n" + "\n".join(lines[start - 1:]).rstrip()
    return [text for text in texts if text.strip()]


# ------------------------------------------------------------ public checks


def public_checks(checks_dir: Path) -> list[tuple[str, str]]:
    """(check id, title) of every check marked ``@pytest.mark.public``, read with `ast`, never imported.

    The id is ``file.py::function`` (``file.py::Class::method`` in a class), the title the
    first line of the docstring (the function's name without one), as the grader shows it.
    """
    found = []
    files = sorted({p for pattern in _CHECK_FILES for p in Path(checks_dir).rglob(pattern)})
    for path in files:
        relative = path.relative_to(checks_dir).as_posix()
        tree = _parse(path.read_text(encoding="utf-8"), relative)
        module_public = _has_public_mark(tree.body)
        for node in tree.body:
            if isinstance(node, _FUNCTIONS) and node.name.startswith("test"):
                if module_public or _is_public(node.decorator_list):
                    found.append((f"{relative}::{node.name}", _title(node)))
            elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                class_public = module_public or _is_public(node.decorator_list) or _has_public_mark(node.body)
                found += [(f"{relative}::{node.name}::{item.name}", _title(item)) for item in node.body
                          if isinstance(item, _FUNCTIONS) and item.name.startswith("test")
                          and (class_public or _is_public(item.decorator_list))]
    return found


def _is_public(decorators: list[ast.expr]) -> bool:
    """Whether one of `decorators` is ``pytest.mark.public`` (or ``mark.public``, called or not)."""
    for decorator in decorators:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(target, ast.Attribute) and target.attr == "public" \
                and isinstance(target.value, (ast.Attribute, ast.Name)) \
                and getattr(target.value, "attr", getattr(target.value, "id", None)) == "mark":
            return True
    return False


def _has_public_mark(body: list[ast.stmt]) -> bool:
    """Whether `body` assigns ``pytestmark`` the public mark (alone or in a list)."""
    for node in body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytestmark"
                                                for t in node.targets):
            value = node.value
            marks = value.elts if isinstance(value, (ast.List, ast.Tuple)) else [value]
            if _is_public(marks):
                return True
    return False


def _title(node: ast.AST) -> str:
    """A check's title as the grader shows it: its docstring's first line, else its name."""
    doc = (ast.get_docstring(node) or "").strip()
    return doc.splitlines()[0] if doc else node.name


def checking_guide(assignment: Assignment | str) -> str:
    """README.md of the handout: the files, how to self-check, and the public checks by rubric item."""
    assignment = _load(assignment)
    name = assignment.id
    lines = [f"# {assignment.title}", "", assignment.description, "", "## Files", "",
             f"- `{name}.py`: the starter as a Python file.",
             f"- `{name}.ipynb`: the same starter as a Jupyter notebook.",
             "", "Work in either one and hand in that one file (not this folder: it holds both).",
             "", "## Checking your work", "",
             "Run the self-check on your file whenever you like:", "", "```",
             f"grader check {name}.py -a {name}", f"grader check {name}.ipynb -a {name}", "```", "",
             "It runs your code in a sandbox against the public checks below and shows what passed, "
             "what failed and a hint. Your grade also counts checks that are not listed here, so passing "
             "the public checks is a good sign, not a guarantee.", "", "## Public checks", ""]
    checks = public_checks(assignment.checks_dir)
    for heading, titles in _by_rubric_item(assignment, checks):
        lines.append(f"### {heading}")
        lines.append("")
        lines += [f"- {title}" for title in titles] or ["- (no public check)"]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _by_rubric_item(assignment: Assignment, checks: list[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    """Check titles grouped under their rubric item (or their file when there is no rubric), deduplicated."""
    from grader.config.rubric import RubricError, rubric_for
    try:
        items = rubric_for(assignment.rubric).items
    except RubricError:
        items = ()
    groups: dict[str, list[str]] = {}
    for item in items:
        heading = f"{item.title} ({item.points:g} points)"
        groups[heading] = []
        if item.source == "quality":
            groups[heading].append(f"Not a check: {item.description or 'an automatic estimate from your source.'}")
    for check_id, title in checks:
        owner = next((item for item in items if item.matches(check_id)
                      or any(s.startswith(check_id + "[") for s in item.checks)), None)
        heading = f"{owner.title} ({owner.points:g} points)" if owner else check_id.partition("::")[0]
        if title not in groups.setdefault(heading, []):
            groups[heading].append(title)
    return list(groups.items())


# ---------------------------------------------------------------- the files


def write_handout(assignment_id: str, outdir: str | os.PathLike, *, force: bool = False) -> list[Path]:
    """Write the starter .py and .ipynb and README.md into `outdir` (created if missing); returns the paths.

    Existing files are overwritten only with `force`. Everything is built
    before anything is written, so a failure leaves `outdir` as it was.
    """
    assignment = load_assignment(assignment_id)
    source = starter_source(assignment)
    contents = {f"{assignment.id}.py": source,
                f"{assignment.id}.ipynb": nbformat.writes(starter_notebook(assignment, source)) + "\n",
                "README.md": checking_guide(assignment)}
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise HandoutError(f"{outdir} exists and is not a folder")
    paths = [outdir / name for name in contents]
    existing = [p.name for p in paths if p.exists() or p.is_symlink()]
    if existing and not force:
        raise HandoutError(f"{outdir} already has {', '.join(existing)}; use --force to overwrite")
    for path, text in zip(paths, contents.values()):
        write_text_atomic(path, text)
    return paths
