"""Checkpoints: ``model.safetensors`` plus ``config.json`` (construction arguments, provenance).

Weights are only ever read with safetensors, never with pickle. The shipped defaults live in
``iknet_ros/weights/<kind>/`` and are installed with the package.
"""
import json
import subprocess
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from iknet_ros.model.networks import build_model, model_arguments

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / 'weights'
FORMAT = 'iknet_ros/1'


class CheckpointError(ValueError):
    """A checkpoint that is missing, corrupt or does not match its model."""


def default_checkpoint(kind: str = 'sequence') -> Path:
    """Folder of the shipped weights of a model kind."""
    return WEIGHTS_DIR / kind


def git_revision() -> str:
    """The repository's current commit, or 'unknown' outside a git checkout."""
    try:
        return subprocess.run(['git', 'rev-parse', 'HEAD'], capture_output=True, text=True,
                              cwd=Path(__file__).parent, check=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return 'unknown'


def save_checkpoint(folder, model: torch.nn.Module, **provenance) -> Path:
    """Write `model` into `folder` as model.safetensors + config.json; return the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / 'model.safetensors'))
    config = {'format': FORMAT, 'kind': model.kind, 'arguments': model_arguments(model),
              **provenance}
    (folder / 'config.json').write_text(json.dumps(config, indent=2) + '\n')
    return folder


def read_config(folder) -> dict:
    """Read and check a checkpoint's config.json."""
    path = Path(folder) / 'config.json'
    if not path.is_file():
        raise CheckpointError(f'checkpoint config not found: {path}')
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f'{path} is not valid JSON: {error}') from error
    if not isinstance(config, dict) or config.get('format') != FORMAT:
        raise CheckpointError(f'{path} is not an iknet_ros checkpoint config (format {FORMAT!r})')
    return config


def load_checkpoint(folder=None, kind: str = 'sequence', device='cpu'):
    """Build the model described by `folder`'s config.json and load its safetensors weights.

    folder None loads the shipped default of `kind`. Returns (model in eval mode, config dict).
    Raises CheckpointError naming the file and the problem.
    """
    folder = Path(folder) if folder is not None else default_checkpoint(kind)
    config = read_config(folder)
    weights = folder / 'model.safetensors'
    try:
        model = build_model(config['kind'], **config['arguments'])
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f'{folder / "config.json"}: cannot build the model: {error}') \
            from error
    if not weights.is_file():
        raise CheckpointError(f'checkpoint weights not found: {weights}')
    try:
        state = load_file(str(weights), device=str(device))
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f'{weights} is not a readable safetensors file: {error}') from error
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) if expected[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        details = '; '.join(
            f'{label}: {", ".join(keys[:4])}{" ..." if len(keys) > 4 else ""}'
            for label, keys in (('missing', missing), ('unexpected', unexpected),
                                ('shape differs', wrong)) if keys)
        raise CheckpointError(f'{weights} does not match the {config["kind"]} model in '
                              f'{folder / "config.json"}: {details}')
    model.load_state_dict(state)
    return model.to(device).eval(), config
