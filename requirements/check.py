"""Fail when setup.cfg asks for a package the installed lock does not satisfy (setup.cfg edited without `make lock`).

`pip check` sees only the runtime requirements of what is installed, not the dev extra, so this reads the
project's own metadata (install_requires and every extra) and checks each requirement against the venv.
"""

from __future__ import annotations

import sys
from importlib import metadata

from packaging.requirements import Requirement


def main() -> int:
    dist = metadata.distribution("atendimento")
    extras = dist.metadata.get_all("Provides-Extra") or []
    problems = []
    for line in dist.requires or []:
        req = Requirement(line)
        if req.marker and not any(req.marker.evaluate({"extra": e}) for e in ["", *extras]):
            continue
        try:
            version = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            problems.append(f"{req.name}{req.specifier} is not in the lock")
            continue
        if not req.specifier.contains(version, prereleases=True):
            problems.append(f"{req.name}{req.specifier} but the lock has {req.name}=={version}")
    for problem in problems:
        print(f"setup.cfg and requirements/ disagree: {problem}; run 'make lock'", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
