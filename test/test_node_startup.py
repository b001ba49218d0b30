"""A node that cannot do its job fails at start: status 1 and one line under the node's name.

The console scripts as `ros2 launch` and `ros2 run` start them; the one failure policy of
`node_main.run_node` for a bad checkpoint, corrupt weights, a missing GPU, a bad parameter or
model file, namespace and remapping included.
"""
import re
import shutil

import pytest
import torch
from test_node_shutdown import NodeProcess

from iknet_ros.model.checkpoint import default_checkpoint


def failed_start(node: NodeProcess, name: str, reason: str):
    """The process ended with status 1 and said why in exactly one line, under `name`."""
    status = node.process.wait(timeout=120)
    out = node.output()
    assert status == 1, f'status {status}:\n{out}'
    errors = [line for line in out.splitlines() if '[ERROR]' in line]
    assert len(errors) == 1, out
    assert re.search(rf'\[{re.escape(name)}\]: cannot start: .*{reason}', errors[0]), errors[0]
    assert 'Traceback' not in out
    print(f'\n{errors[0]}')


@pytest.fixture
def corrupt_checkpoint(tmp_path):
    folder = tmp_path / 'corrupt'
    shutil.copytree(default_checkpoint(), folder)
    (folder / 'model.safetensors').write_bytes(b'\x00not safetensors at all' * 100)
    return folder


def test_iknet_node_without_a_checkpoint_folder_fails_at_start(tmp_path):
    node = NodeProcess('iknet_node', tmp_path, '-p', f'checkpoint:={tmp_path / "nothing"}')
    failed_start(node, 'iknet_node', 'cannot load the IKNet from .*nothing: checkpoint config '
                                     'not found')


def test_iknet_node_with_corrupt_weights_fails_at_start(tmp_path, corrupt_checkpoint):
    node = NodeProcess('iknet_node', tmp_path, '-p', f'checkpoint:={corrupt_checkpoint}',
                       '-r', '__ns:=/cam1')
    failed_start(node, 'cam1.iknet_node', 'not a readable safetensors file')


def test_iknet_node_on_cuda_without_a_gpu_fails_at_start(tmp_path):
    if torch.cuda.is_available():
        pytest.skip('this machine has a CUDA device')
    node = NodeProcess('iknet_node', tmp_path, '-p', 'device:=cuda')
    failed_start(node, 'iknet_node', "device 'cuda' requested but torch sees no CUDA device")


@pytest.mark.parametrize('executable, arguments, name, reason', [
    ('iknet_node', ('-p', 'reset_after:=0.0'), 'iknet_node', 'reset_after'),
    ('iknet_node', ('-p', 'device:=tpu'), 'iknet_node', 'device must be one of'),
    ('keypoint_node', ('-p', 'max_hands:=9', '-r', '__node:=left_camera_keypoints'),
     'left_camera_keypoints', 'max_hands'),
    ('keypoint_node', ('-p', 'model_path:=/no/such.task'), 'keypoint_node',
     'hand landmarker model not found'),
])
def test_a_bad_parameter_fails_at_start(tmp_path, executable, arguments, name, reason):
    failed_start(NodeProcess(executable, tmp_path, *arguments), name, reason)
