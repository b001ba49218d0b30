"""The package's metadata agrees with its code, and the code passes lint."""
import ast
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Python top-level module -> the package.xml key that provides it
MODULE_TO_DEPENDENCY = {
    'rclpy': 'rclpy',
    'rcl_interfaces': 'rcl_interfaces',
    'builtin_interfaces': 'builtin_interfaces',
    'std_msgs': 'std_msgs',
    'sensor_msgs': 'sensor_msgs',
    'geometry_msgs': 'geometry_msgs',
    'visualization_msgs': 'visualization_msgs',
    'tf2_msgs': 'tf2_msgs',
    'diagnostic_msgs': 'diagnostic_msgs',
    'launch': 'launch',
    'launch_ros': 'launch_ros',
    'ament_index_python': 'ament_index_python',
    'numpy': 'python3-numpy',
    'cv2': 'python3-opencv',
    'scipy': 'python3-scipy',
    'matplotlib': 'python3-matplotlib',
    'mpl_toolkits': 'python3-matplotlib',
    'tqdm': 'python3-tqdm',
    'yaml': 'python3-yaml',
    'safetensors': 'python3-safetensors-pip',
    'mediapipe': 'python3-mediapipe-pip',
    'torch': 'python3-torch-pip',
    'rosbags': 'python3-rosbags-pip',
    'yourdfpy': 'python3-yourdfpy-pip',
    'rerun': 'python3-rerun-sdk-pip',
    'rerun_cli': 'python3-rerun-sdk-pip',
}


def runtime_imports():
    """Top-level modules imported anywhere in the installed package and launch files."""
    files = list((ROOT / 'iknet_ros').rglob('*.py')) + list((ROOT / 'launch').glob('*.py'))
    found = {}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split('.')[0]
                if top not in sys.stdlib_module_names and top != 'iknet_ros':
                    found.setdefault(top, path.relative_to(ROOT))
    return found


def test_every_runtime_import_has_a_package_xml_dependency():
    declared = {e.text for e in ET.parse(ROOT / 'package.xml').getroot()
                if e.tag in ('depend', 'exec_depend')}
    for module, where in sorted(runtime_imports().items()):
        assert module in MODULE_TO_DEPENDENCY, (
            f'{where} imports {module!r}: add its rosdep key to package.xml and to this table')
        assert MODULE_TO_DEPENDENCY[module] in declared, (
            f'{where} imports {module!r} but package.xml lacks {MODULE_TO_DEPENDENCY[module]!r}')


def test_package_xml_is_format_3_with_ament_python():
    root = ET.parse(ROOT / 'package.xml').getroot()
    assert root.get('format') == '3'
    assert root.findtext('name') == 'iknet_ros'
    assert root.find('export').findtext('build_type') == 'ament_python'
    assert (ROOT / 'resource' / 'iknet_ros').exists()


@pytest.fixture(scope='module')
def wheel(tmp_path_factory):
    """A wheel built from setup.py: what a real install would put on disk."""
    out = tmp_path_factory.mktemp('wheel')
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation',
                    '-q', '-w', str(out), str(ROOT)], check=True, capture_output=True)
    (path,) = out.glob('*.whl')
    return zipfile.ZipFile(path)


def test_setup_installs_every_launch_and_config_file(wheel):
    share = 'iknet_ros-0.1.0.data/data/share/'
    installed = set(wheel.namelist())
    data = [p for folder in ('launch', 'config', 'urdf') for p in (ROOT / folder).rglob('*')
            if p.is_file()]
    assert data, 'launch/, config/ and urdf/ hold no files'
    for path in data:
        assert share + 'iknet_ros/' + str(path.relative_to(ROOT)) in installed, \
            f'{path} is not installed'
    assert share + 'iknet_ros/package.xml' in installed
    assert share + 'ament_index/resource_index/packages/iknet_ros' in installed


def test_setup_installs_shipped_weights(wheel):
    installed = set(wheel.namelist())
    weights = list((ROOT / 'iknet_ros' / 'weights').rglob('*.safetensors'))
    assert weights, 'no shipped weights under iknet_ros/weights/'
    for path in weights:
        assert str(path.relative_to(ROOT)) in installed, f'{path} is not installed'
        assert str(path.with_name('config.json').relative_to(ROOT)) in installed


def test_setup_installs_the_mediapipe_error_parameters(wheel):
    assert 'iknet_ros/synth/mediapipe_errors.json' in set(wheel.namelist())


def test_setup_installs_the_sample_clip_and_its_notice(wheel):
    installed = set(wheel.namelist())
    for name in ('right_hand_clip.mp4', 'NOTICE.txt'):
        assert f'iknet_ros/samples/{name}' in installed, f'{name} is not installed'


def test_console_scripts_are_declared(wheel):
    (name,) = [n for n in wheel.namelist() if n.endswith('entry_points.txt')]
    scripts = wheel.read(name).decode()
    for executable in ('iknet-ros', 'keypoint_node', 'iknet_node', 'video_source'):
        assert f'{executable} = iknet_ros.' in scripts, f'no console script {executable}'


def test_lint_passes():
    result = subprocess.run([sys.executable, '-m', 'ruff', 'check', str(ROOT)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_shipped_files_are_found_in_the_tree_then_the_install_prefix(monkeypatch, tmp_path):
    """`iknet-ros run`'s default parameters and the Fast DDS profile, from a pip install too."""
    from iknet_ros import paths

    assert paths.shipped_file('config', 'hand.yaml') == ROOT / 'config' / 'hand.yaml'
    installed = tmp_path / 'share' / 'iknet_ros' / 'config' / 'only_installed.yaml'
    installed.parent.mkdir(parents=True)
    installed.write_text('{}')
    monkeypatch.setattr(sys, 'prefix', str(tmp_path))
    assert paths.shipped_file('config', 'only_installed.yaml') == installed
    assert paths.shipped_file('config', 'absent.yaml') is None


def test_real_data_folder_follows_its_variable(monkeypatch, tmp_path):
    from iknet_ros import paths

    monkeypatch.delenv(paths.REAL_DATA_VARIABLE, raising=False)
    assert paths.real_data_dir() == ROOT.parent / 'shared' / 'data' / 'real'
    monkeypatch.setenv(paths.REAL_DATA_VARIABLE, str(tmp_path))
    assert paths.real_data_dir() == tmp_path and paths.real_video().parent == tmp_path
