#!/usr/bin/env python3
"""Checks spin.toml files against Spin's manifest v2 JSON schema (draft 2020-12).

Usage: check_manifest.py SCHEMA.json MANIFEST.toml...
The schema is Spin's published one; CI reads it from ../shared/spin.
"""
import json
import sys
import tomllib

import jsonschema


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    validator = jsonschema.Draft202012Validator(schema)
    failed = 0
    for path in sys.argv[2:]:
        with open(path, "rb") as f:
            manifest = tomllib.load(f)
        errors = sorted(validator.iter_errors(manifest), key=lambda e: list(e.path))
        for e in errors:
            where = "/".join(str(p) for p in e.path) or "(root)"
            print(f"{path}: {where}: {e.message}")
        if errors:
            failed += 1
        else:
            print(f"{path}: valid Spin manifest v2")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
