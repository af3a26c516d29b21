"""Print the requirements of pyproject.toml, one a line, for the image's dependency layers.

    python requirements.py pyproject.toml            # the serving install's dependencies
    python requirements.py pyproject.toml train      # only what the extra ``train`` adds

The Dockerfile installs these before it copies the source, so a code change reuses them.
An unknown extra fails: an image is never built without what it was asked for.
"""

from __future__ import annotations

import sys
import tomllib


def requirements(pyproject: str, extras: list[str]) -> list[str]:
    with open(pyproject, "rb") as file:
        project = tomllib.load(file)["project"]
    if not extras:
        return list(project["dependencies"])
    known = project.get("optional-dependencies", {})
    unknown = [extra for extra in extras if extra not in known]
    if unknown:
        raise SystemExit(f"unknown extra(s) {unknown}: choose from {sorted(known)}")
    return [req for extra in extras for req in known[extra]]


if __name__ == "__main__":
    wanted = [e for arg in sys.argv[2:] for e in arg.split(",") if e.strip()]
    print("\n".join(requirements(sys.argv[1], wanted)))
