"""MkDocs hook: the configuration reference, generated from execlab's pydantic models at build time.

A page containing the marker ``<!-- config-reference -->`` gets, in its place, one table per config section
(``Config`` and every nested model, found by walking the fields, so a broker's new section appears by itself):
key, type, default, constraints and the field's docstring.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import typing
from typing import Any

from pydantic import BaseModel

MARKER = "<!-- config-reference -->"


def field_docs(model: type[BaseModel]) -> dict[str, str]:
    """The docstring under each field of ``model`` (a string literal right after the annotated assignment)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(model)))
    except (OSError, TypeError):
        return {}
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    docs: dict[str, str] = {}
    for node, after in zip(body, [*body[1:], None], strict=True):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str)):
            docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def _models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models(arg)]


def _type(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f"`{getattr(a, 'value', a)!s}`" for a in typing.get_args(annotation))
    if origin is typing.Annotated:
        return _type(typing.get_args(annotation)[0])
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return " or ".join(_type(a) for a in typing.get_args(annotation))
    if origin is tuple:
        return "list of " + _type(typing.get_args(annotation)[0])
    if annotation is type(None):
        return "null"
    name = getattr(annotation, "__name__", str(annotation))
    return "secret (from `${ENV}`)" if name == "SecretStr" else name


def _default(field: Any) -> str:
    if field.is_required():
        return "required"
    value = field.default
    if isinstance(value, BaseModel):
        return "(section)"
    value = getattr(value, "value", value)
    return "null" if value is None else f"`{value}`"


def _metadata(annotation: Any) -> list[Any]:
    """Constraint objects inside ``Annotated[...]``, also when the annotation is ``Annotated[...] | None``."""
    if typing.get_origin(annotation) is typing.Annotated:
        return list(annotation.__metadata__)
    return [m for arg in typing.get_args(annotation) for m in _metadata(arg)]


def _constraints(field: Any) -> str:
    out = []
    for item in [*field.metadata, *_metadata(field.annotation)]:
        for attr, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            if getattr(item, attr, None) is not None:
                out.append(f"{sign} {getattr(item, attr):g}")
        if getattr(item, "pattern", None):
            out.append(f"pattern `{item.pattern}`")
    return ", ".join(out)


def config_reference() -> str:
    """Markdown tables of every config section, ``Config`` first, then its sections in field order."""
    from execlab._config import Config

    out: list[str] = []
    queue: list[tuple[str, type[BaseModel]]] = [("", Config)]
    seen: set[type[BaseModel]] = set()
    while queue:
        prefix, model = queue.pop(0)
        if model in seen:
            continue
        seen.add(model)
        docs = field_docs(model)
        title = f"`{prefix}`" if prefix else "top level"
        summary = (inspect.getdoc(model) or "").split("\n\n")[0].replace("\n", " ").replace("``", "`")
        out += [f"### {title}", "", f"{summary} (`{model.__name__}`)", "",
                "| key | type | default | allowed | meaning |", "|---|---|---|---|---|"]
        for name, field in model.model_fields.items():
            key = f"{prefix}.{name}" if prefix else name
            text = docs.get(name, field.description or "").replace("``", "`").replace("|", "\\|")
            out.append(f"| `{key}` | {_type(field.annotation)} | {_default(field)} | {_constraints(field)} | {text} |")
            queue += [(key, m) for m in _models(field.annotation)]
        out.append("")
    return "\n".join(out)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Replace the marker with the generated reference."""
    return markdown.replace(MARKER, config_reference()) if MARKER in markdown else markdown
