#!/usr/bin/env python3
"""Checks schemas/openapi.json against the code.

1. The document is valid OpenAPI 3.1 (openapi-spec-validator).
2. Every operation has a unique operationId, a summary and a tag.
3. Every example in it fits its schema (jsonschema, draft 2020-12, formats checked).
4. Every route of the functions' route tables (`route("METHOD", "/path", ...)` in
   functions/*/src/**/*.rs) is an operation of the document, and every operation of the document
   is a route of some function, but for the explicit lists below. Path parameters compare by
   position only (`{id}` and `{name}` are the same).

Usage: scripts/check_openapi.py [schemas/openapi.json]   (exit 1 on any problem, naming it)
"""

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")

# Routes the document describes that no route table declares, because something other than a
# route table answers them. Empty today: the admin routes are in `map`'s table too.
SERVED_OUTSIDE_ROUTE_TABLES: set[tuple[str, str]] = set()

# PENDING: routes being added on other branches, described in the document ahead of their code.
# Delete each entry once its route table is merged (this script then says which ones to delete).
PENDING: set[tuple[str, str]] = set()

ROUTE_CALL = re.compile(r'\broute\(\s*"([A-Za-z]+)"\s*,\s*"([^"]+)"')


def shape(method: str, path: str) -> tuple[str, str]:
    """A route as compared: upper-case method, every path parameter as `{}`."""
    return method.upper(), re.sub(r"\{[^}/]*\}", "{}", path)


def code_routes() -> dict[tuple[str, str], str]:
    """Every route of the route tables, with where it is declared."""
    found = {}
    for rs in sorted(ROOT.glob("functions/*/src/**/*.rs")):
        text = rs.read_text(encoding="utf-8")
        for m in ROUTE_CALL.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            found[shape(m.group(1), m.group(2))] = f"{rs.relative_to(ROOT)}:{line} ({m.group(1)} {m.group(2)})"
    return found


def spec_operations(doc: dict) -> dict[tuple[str, str], str]:
    ops = {}
    for path, item in doc.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                ops[shape(method, path)] = f"{method.upper()} {path}"
    return ops


def validate_document(doc: dict, problems: list[str]) -> None:
    try:
        from openapi_spec_validator import OpenAPIV31SpecValidator
    except ImportError:
        problems.append("openapi-spec-validator is not installed: run `make setup` (scripts/setup.sh)")
        return
    if not str(doc.get("openapi", "")).startswith("3.1."):
        problems.append(f"`openapi` is {doc.get('openapi')!r}, not 3.1.x")
    errors = list(OpenAPIV31SpecValidator(doc).iter_errors())
    for e in errors[:20]:
        where = "/".join(str(p) for p in e.absolute_path) or "(root)"
        problems.append(f"not valid OpenAPI 3.1 at {where}: {e.message}")
    if len(errors) > 20:
        problems.append(f"... and {len(errors) - 20} more OpenAPI errors")


def lint_operations(doc: dict, problems: list[str]) -> None:
    seen: dict[str, str] = {}
    for path, item in doc.get("paths", {}).items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            label = f"{method.upper()} {path}"
            op_id = op.get("operationId")
            if not op_id:
                problems.append(f"{label} has no operationId")
            elif op_id in seen:
                problems.append(f"{label} repeats the operationId `{op_id}` of {seen[op_id]}")
            else:
                seen[op_id] = label
            if not op.get("summary"):
                problems.append(f"{label} has no summary")
            if not op.get("tags"):
                problems.append(f"{label} has no tag")


def pointer_token(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def check_examples(doc: dict, problems: list[str]) -> None:
    """Every `example` beside a `schema`, and every `examples` entry of a component schema, fits."""
    try:
        import jsonschema
    except ImportError:
        problems.append("jsonschema is not installed: run `make setup` (scripts/setup.sh)")
        return
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER

    def fits(pointer: str, instance, label: str) -> None:
        # The whole document is the root, so `#/components/...` references resolve.
        schema = dict(doc)
        schema["$ref"] = pointer
        validator = jsonschema.Draft202012Validator(schema, format_checker=checker)
        for e in list(validator.iter_errors(instance))[:3]:
            where = "/".join(str(p) for p in e.absolute_path) or "(top)"
            problems.append(f"example of {label} does not fit its schema at {where}: {e.message}")

    def walk(node, pointer: str) -> None:
        if isinstance(node, dict):
            if "schema" in node and "example" in node:
                schema, example = node["schema"], node["example"]
                if pointer.endswith("/application~1x-ndjson") and isinstance(example, str):
                    # One JSON value per line; the schema describes a line.
                    for n, line in enumerate(example.splitlines(), 1):
                        if line.strip():
                            try:
                                fits(f"{pointer}/schema", json.loads(line), f"{pointer} (line {n})")
                            except ValueError as e:
                                problems.append(f"example of {pointer}, line {n}, is not JSON: {e}")
                elif isinstance(schema, dict) and schema.get("type") == "string" and isinstance(example, str):
                    pass  # a text body (XML, CSV, HTML): the schema says only that it is text
                else:
                    fits(f"{pointer}/schema", example, pointer)
            for key, value in node.items():
                walk(value, f"{pointer}/{pointer_token(key)}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{pointer}/{i}")

    walk(doc.get("paths", {}), "#/paths")
    walk(doc.get("components", {}).get("responses", {}), "#/components/responses")
    walk(doc.get("components", {}).get("parameters", {}), "#/components/parameters")
    for name, schema in doc.get("components", {}).get("schemas", {}).items():
        for i, example in enumerate(schema.get("examples", [])):
            fits(f"#/components/schemas/{name}", example, f"components/schemas/{name} (examples/{i})")


def check_routes(doc: dict, problems: list[str], notes: list[str]) -> None:
    code = code_routes()
    spec = spec_operations(doc)
    forms = {
        shape(*entry.split(" ", 1))
        for entry in doc.get("x-ecoc-view-forms", {}).get("routes", [])
    }
    if not code:
        problems.append("no `route(\"METHOD\", \"/path\", ...)` found under functions/*/src: is this the repository root?")
    for key, where in sorted(code.items()):
        if key in spec:
            continue
        if key[1].startswith("/view/") and key[0] != "GET" and key in forms:
            continue
        if key[1].startswith("/view/") and key[0] != "GET":
            problems.append(
                f"{where}: a /view/ form route missing from the document: add `{key[0]} <path>` to "
                "x-ecoc-view-forms.routes in schemas/openapi.json"
            )
        else:
            problems.append(f"{where}: route missing from schemas/openapi.json")
    pending = {shape(*p) for p in PENDING}
    outside = {shape(*p) for p in SERVED_OUTSIDE_ROUTE_TABLES}
    for key, label in sorted(spec.items()):
        if key in code:
            if key in pending:
                notes.append(f"{label} is now declared by {code[key]}: delete it from PENDING in scripts/check_openapi.py")
            continue
        if key in pending or key in outside:
            continue
        problems.append(f"{label} is in schemas/openapi.json but no function declares it (route tables in functions/*/src)")
    for key in sorted(pending - spec.keys()):
        problems.append(f"PENDING lists {key[0]} {key[1]}, which schemas/openapi.json does not describe")


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "schemas" / "openapi.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        print(f"check_openapi: cannot read {path}: {e}", file=sys.stderr)
        return 1
    problems: list[str] = []
    notes: list[str] = []
    validate_document(doc, problems)
    lint_operations(doc, problems)
    check_examples(doc, problems)
    check_routes(doc, problems, notes)
    for note in notes:
        print(f"check_openapi: note: {note}", file=sys.stderr)
    if problems:
        print(f"check_openapi: {path} has {len(problems)} problem(s):", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    count = len(spec_operations(doc))
    print(f"check_openapi: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: valid OpenAPI 3.1, "
          f"{count} operations, every route of the code described ({len(PENDING)} pending)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
