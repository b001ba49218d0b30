"""The IKNets: training lowers the loss, checkpoints round-trip safely, outputs are well formed."""
import json

import pytest
import torch

from iknet_ros import cli
from iknet_ros.model import data as hand_data
from iknet_ros.model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from iknet_ros.model.metrics import training_loss
from iknet_ros.model.networks import HandWindow, build_model
from iknet_ros.model.runtime import inference_forward
from iknet_ros.model.train import train

TINY = {'sequence': {'window': 8, 'd_model': 32, 'heads': 2, 'layers': 1},
        'baseline': {'hidden': 64, 'layers': 2}}


def tiny(kind):
    torch.manual_seed(0)
    return build_model(kind, **TINY[kind])


@pytest.fixture(scope='module')
def batch():
    return hand_data.training_batch(seed=5, window=8, sequences=8, frames=24)


@pytest.mark.parametrize('kind', ['baseline', 'sequence'])
def test_training_steps_lower_the_loss(kind, batch):
    model = tiny(kind)
    with torch.no_grad():  # start away from the identity correction, so there is work to do
        model.head.weight.normal_(std=0.05)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(25):
        loss, _ = training_loss(model(batch.window), batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


def test_train_command_writes_a_checkpoint_and_resumes(tmp_path):
    small = {'batch_args': {'sequences': 4, 'frames': 16, 'triplets_per_sequence': 2},
             'validation': {'sequences': 2, 'frames': 16}, 'workers': 0, 'progress': False}
    history = train('sequence', tmp_path, epochs=1, steps_per_epoch=3,
                    arguments=TINY['sequence'], **small)
    assert [h['epoch'] for h in history] == [1]
    for name in ('model.safetensors', 'config.json', 'history.json', 'optimizer.safetensors'):
        assert (tmp_path / name).is_file()
    config = json.loads((tmp_path / 'config.json').read_text())
    assert config['kind'] == 'sequence' and config['window'] == 8
    assert config['arguments']['d_model'] == 32
    assert {'seed', 'git_revision', 'batch', 'validation'} <= set(config['training'])
    history = train('sequence', tmp_path, epochs=2, steps_per_epoch=3, resume=True, **small)
    assert [h['epoch'] for h in history] == [1, 2]


@pytest.mark.parametrize('kind', ['baseline', 'sequence'])
def test_saved_and_reloaded_model_gives_identical_outputs(kind, batch, tmp_path):
    model = tiny(kind).eval()
    with torch.no_grad():  # move the identity-initialised head off its start
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
        before = model(batch.window)
    save_checkpoint(tmp_path, model)
    loaded, config = load_checkpoint(tmp_path)
    assert config['kind'] == kind
    with torch.no_grad():
        after = loaded(batch.window)
    assert torch.equal(before['local_rot'], after['local_rot'])
    assert torch.equal(before['shape'], after['shape'])


def test_outputs_are_rotations_and_unit_quaternions(batch):
    with torch.no_grad():
        local_rot = tiny('sequence')(batch.window)['local_rot']
    eye = torch.eye(3).expand_as(local_rot)
    assert torch.allclose(local_rot @ local_rot.transpose(-1, -2), eye, atol=1e-4)
    assert torch.allclose(torch.det(local_rot), torch.ones(local_rot.shape[:-2]), atol=1e-4)


def test_attention_rows_sum_to_one_and_ignore_padding(batch):
    model = tiny('sequence')
    window = batch.window
    window.pad_mask[0, :5] = True  # a track that has seen 3 frames
    with torch.no_grad():
        attention = model(window, need_attention=True)['attention']
    assert attention.shape == (len(batch), 1, 2, 8, 8)  # (B, layers, heads, T, T)
    assert torch.allclose(attention.sum(-1), torch.ones(attention.shape[:-1]), atol=1e-5)
    assert torch.all(attention[0, ..., :5] == 0)


def test_window_shorter_than_t_is_padded_like_an_unfilled_track(batch):
    model = tiny('sequence').eval()
    w = batch.part(slice(0, 4)).window
    short = HandWindow(w.keypoints[:, -3:], w.rays[:, -3:], torch.zeros(4, 3, dtype=torch.bool),
                       w.guessed, w.bones)
    padded = HandWindow(torch.cat([torch.zeros(4, 5, 21, 3), short.keypoints], dim=1),
                        torch.cat([torch.zeros(4, 5, 21, 2), short.rays], dim=1),
                        torch.tensor([[True] * 5 + [False] * 3] * 4), w.guessed, w.bones)
    with torch.no_grad():
        a, b = model(short), model(padded)
    assert torch.allclose(a['local_rot'], b['local_rot'], atol=1e-6)
    assert torch.allclose(a['shape'], b['shape'], atol=1e-6)


@pytest.mark.parametrize('kind', ['baseline', 'sequence'])
def test_an_untrained_model_is_closed_form_ik_of_the_newest_frame(kind, batch):
    """The zero correction: the model's skeleton is the newest detection, wrist at the origin."""
    with torch.no_grad():
        out = tiny(kind)(batch.window)
    newest = batch.window.keypoints[:, -1]
    assert torch.allclose(out['shape'], newest - newest[:, :1], atol=1e-5)


def test_the_2d_landmarks_are_an_input_only_when_the_model_uses_them(batch):
    """The 2D ablation: without rays the model's answer does not depend on them."""
    for use_rays in (True, False):
        torch.manual_seed(0)
        model = build_model('sequence', use_rays=use_rays, **TINY['sequence']).eval()
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.05 * torch.randn_like(p))
            w = batch.window
            moved = HandWindow(w.keypoints, w.rays + 0.01, w.pad_mask, w.guessed, w.bones)
            changed = not torch.allclose(model(w)['local_rot'], model(moved)['local_rot'])
        assert changed == use_rays


def test_traced_run_time_model_gives_the_model_s_outputs_for_any_batch_and_padding(batch):
    model = tiny('sequence').eval()
    forward = inference_forward(model)
    assert isinstance(forward, torch.jit.ScriptModule)  # traced on the CPU
    window = batch.window
    window.pad_mask[0, :7] = True  # a track's first frame
    window.pad_mask[1, :3] = True
    window.bones[2] = 0.0          # a track without a bone estimate
    with torch.no_grad():
        expected = model(window, need_attention=True)
        local_rot, shape, attention = forward(*window.tensors())
    assert torch.allclose(local_rot, expected['local_rot'], atol=1e-4)
    assert torch.allclose(shape, expected['shape'], atol=1e-5)
    assert torch.allclose(attention, expected['attention'], atol=1e-5)


def test_corrupt_checkpoint_names_the_file(tmp_path):
    save_checkpoint(tmp_path, tiny('sequence'))
    (tmp_path / 'model.safetensors').write_bytes(b'not a safetensors file')
    with pytest.raises(CheckpointError, match='model.safetensors'):
        load_checkpoint(tmp_path)


def test_mismatched_checkpoint_names_the_mismatch(tmp_path):
    save_checkpoint(tmp_path, tiny('sequence'))
    config = json.loads((tmp_path / 'config.json').read_text())
    config['arguments']['d_model'] = 48
    (tmp_path / 'config.json').write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match='shape differs'):
        load_checkpoint(tmp_path)
    with pytest.raises(CheckpointError, match='config not found'):
        load_checkpoint(tmp_path / 'absent')


def test_evaluate_runs_end_to_end(tmp_path):
    for kind in ('baseline', 'sequence'):
        save_checkpoint(tmp_path / kind, tiny(kind))
    out = tmp_path / 'eval.json'
    assert cli.main(['evaluate', '--checkpoint', str(tmp_path / 'baseline'),
                     str(tmp_path / 'sequence'), '--sequences', '2', '--frames', '12',
                     '--json', str(out)]) == 0
    results = json.loads(out.read_text())
    for level in ('realistic', 'clean'):
        row = results['noise'][level]
        assert set(row['input']) == {'mpjpe_mm', 'camera_mm', 'accel_mm'}
        assert set(row['one_euro']) == {'mpjpe_mm', 'camera_mm', 'accel_mm'}
        for kind in ('baseline', 'sequence'):
            assert set(row[kind]) == {'mpjpe_mm', 'camera_mm', 'accel_mm', 'angle_deg'}
    assert results['noise']['clean']['input']['mpjpe_mm'] < 1e-3  # the truth, to float precision


def test_evaluate_with_a_broken_checkpoint_exits_non_zero(tmp_path, capsys):
    assert cli.main(['evaluate', '--checkpoint', str(tmp_path)]) == 2
    assert 'config.json' in capsys.readouterr().err
