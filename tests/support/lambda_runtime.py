"""What the Lambda Python runtime provides beside a function's code and its layers: boto3 and its
dependencies (the layer leaves them out on purpose). A folder holding only those, for running code
from a built layer in a process of its own, with nothing else of this virtualenv on sys.path."""

from __future__ import annotations

import importlib.util
from pathlib import Path

PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3")


def runtime_packages(folder: Path) -> Path:
    """``folder`` with a link to each package the runtime provides, as installed here."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in PROVIDED:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None, f"{name} is not installed"
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        link = folder / source.name
        if not link.exists():
            link.symlink_to(source, target_is_directory=source.is_dir())
    return folder
