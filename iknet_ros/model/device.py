"""The one choice of a torch device from a user's 'auto' | 'cpu' | 'cuda[:N]'."""
import torch

DEVICES = ('auto', 'cpu', 'cuda')


def choose_device(name: str) -> str:
    """'auto' picks CUDA when torch sees a GPU; 'cuda' without one is a clear ValueError."""
    if name == 'auto':
        return 'cuda' if torch.cuda.is_available() else 'cpu'
    if name != 'cpu' and name != 'cuda' and not name.startswith('cuda:'):
        raise ValueError(f"device must be one of {', '.join(DEVICES)} (or cuda:N), got {name!r}")
    if name.startswith('cuda') and not torch.cuda.is_available():
        raise ValueError(f'device {name!r} requested but torch sees no CUDA device')
    return name
