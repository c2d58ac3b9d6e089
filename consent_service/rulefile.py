"""Reading one reviewed rule file (YAML) into its pydantic model, with the one-line error
every rule file gives: the file, and each field in error."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

# libyaml's parser where PyYAML was built with it: the same documents as the pure-Python
# one (``tests/unit/test_rule_files_yaml.py`` reads every rule file with both), about ten
# times faster. Every start of the service reads the policy and rule files.
_SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_yaml(document: bytes | str) -> Any:
    """``yaml.safe_load``: plain data only (no Python objects), with the faster parser."""
    return yaml.load(document, Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader


def load_yaml_model(
    path: Path, model: type[M], what: str, error: type[ValueError], raw: bytes | None = None
) -> M:
    """``model`` from the YAML at ``path`` (or from ``raw``, its bytes already read).
    Raises ``error("<path>: cannot read the <what>: ...")`` or ``error("<path>: invalid
    <what>: <field>: <problem>; ...")``."""
    try:
        data: Any = safe_yaml(path.read_bytes() if raw is None else raw)
    except (OSError, yaml.YAMLError) as exc:
        raise error(f"{path}: cannot read the {what}: {exc}") from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<top>'}: {e['msg']}" for e in exc.errors()
        )
        raise error(f"{path}: invalid {what}: {problems}") from exc
    except ValueError as exc:
        raise error(f"{path}: invalid {what}: {exc}") from exc
