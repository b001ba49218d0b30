"""hand.launch.py: what it names exists, is installed and is declared (read statically, ast).

test_ros2_launch.py starts it for real with `ros2 launch`.
"""
import ast
import importlib
import os
import runpy
from glob import glob
from pathlib import Path
from unittest import mock

import pytest
import yaml
from rclpy.node import Node as RosNode
from rclpy.parameter import Parameter

from iknet_ros.ros import node_main

ROOT = Path(__file__).resolve().parents[1]
LAUNCH = ROOT / 'launch' / 'hand.launch.py'
PARAMS = ROOT / 'config' / 'hand.yaml'


def _constant(node):
    return node.value if isinstance(node, ast.Constant) else None


def launch_nodes() -> list:
    """Every launch_ros ``Node(...)`` of the launch file as a dict of its constant keywords."""
    nodes = []
    for call in ast.walk(ast.parse(LAUNCH.read_text())):
        if isinstance(call, ast.Call) and getattr(call.func, 'id', None) == 'Node':
            entry = {kw.arg: _constant(kw.value) for kw in call.keywords}
            params = next((kw.value for kw in call.keywords if kw.arg == 'parameters'), None)
            entry['dict_parameters'] = [_constant(k) for item in getattr(params, 'elts', [])
                                        if isinstance(item, ast.Dict) for k in item.keys]
            nodes.append(entry)
    return nodes


def share_files() -> list:
    """Files the launch file opens in the package share: ``os.path.join(share, 'a', 'b')``."""
    found = []
    for call in ast.walk(ast.parse(LAUNCH.read_text())):
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) \
                and call.func.attr == 'join' and call.args \
                and getattr(call.args[0], 'id', None) == 'share' \
                and all(_constant(a) is not None for a in call.args[1:]):  # the URDFs: by side
            found.append('/'.join(_constant(a) for a in call.args[1:]))
    return found


@pytest.fixture(scope='module')
def setup_kwargs():
    """The arguments setup.py passes to setuptools.setup (run here with setup() captured)."""
    captured = {}
    cwd = os.getcwd()
    os.chdir(ROOT)  # setup.py globs relative paths, as colcon and pip run it
    try:
        with mock.patch('setuptools.setup', lambda **kw: captured.update(kw)):
            runpy.run_path(str(ROOT / 'setup.py'))
    finally:
        os.chdir(cwd)
    return captured


def console_scripts(setup_kwargs) -> dict:
    """executable -> 'module:function' of setup.py's console scripts."""
    entries = setup_kwargs['entry_points']['console_scripts']
    return dict((part.strip() for part in entry.split('=', 1)) for entry in entries)


def test_every_executable_is_a_console_script(setup_kwargs):
    scripts = console_scripts(setup_kwargs)
    nodes = [n for n in launch_nodes() if n.get('package') == 'iknet_ros']
    assert {n['executable'] for n in nodes} >= {'keypoint_node', 'iknet_node'}
    for node in nodes:
        assert node['executable'] in scripts, f"{node['executable']} is not a console script"
        module, function = scripts[node['executable']].split(':')
        assert callable(getattr(importlib.import_module(module), function))
        # the node scripts start in node_main, which takes SIGINT/SIGTERM before the node loads
        assert module == node_main.__name__ and node['executable'] in node_main.NODE_MODULES


def test_params_and_rviz_files_exist_and_are_installed(setup_kwargs):
    files = share_files()
    assert 'config/hand.yaml' in files and 'config/hand.rviz' in files
    installed = {}
    for destination, sources in setup_kwargs['data_files']:
        for source in sources:
            installed[source] = destination
    for relative in files:
        assert (ROOT / relative).is_file(), f'{relative} named by the launch file is missing'
        assert installed.get(relative) == str(Path('share/iknet_ros') / Path(relative).parent), \
            f'setup.py does not install {relative} into share/iknet_ros'
    assert all(glob(str(ROOT / pattern)) for pattern in installed)


def node_class(executable):
    """The Node subclass defined in the module a console script runs."""
    module = importlib.import_module(node_main.NODE_MODULES[executable])
    [cls] = [c for c in vars(module).values() if isinstance(c, type)
             and issubclass(c, RosNode) and c.__module__ == module.__name__]
    return cls


def test_every_yaml_parameter_is_declared_by_its_node_with_that_default(
        ros_graph, small_video):
    # keyed /**/<node>: the node of that name in any namespace (namespace:=cam1)
    sections = {key.removeprefix('/**/'): section
                for key, section in yaml.safe_load(PARAMS.read_text()).items()}
    by_name = {n['name']: n for n in launch_nodes() if n.get('package') == 'iknet_ros'}
    assert set(sections) <= set(by_name), 'hand.yaml keys must be the launch file node names'
    assert all(key.startswith('/**/') for key in yaml.safe_load(PARAMS.read_text())), \
        'a plain node name does not reach a node in a namespace'
    for name, node in by_name.items():
        params = (sections.get(name) or {}).get('ros__parameters', {})
        # video_source cannot start without a source; every other node starts on its defaults
        needs = [Parameter('video', value=str(small_video))] if name == 'video_source' else []
        instance = node_class(node['executable'])(
            context=ros_graph.context, parameter_overrides=needs)
        try:
            declared = set(instance._parameters)
            for key in list(params) + node['dict_parameters']:
                assert key in declared, f'{name} does not declare {key!r} (set in the YAML/launch)'
            for key, value in params.items():
                assert instance.get_parameter(key).value == value, \
                    f'hand.yaml {name}.{key} = {value!r} is not the node default'
        finally:
            instance.destroy_node()


def test_hand_model_urdf_runs_robot_state_publisher_on_the_joint_states():
    """hand_model:=urdf: one robot_state_publisher per shipped hand URDF, fed by the angles."""
    tree = ast.parse(LAUNCH.read_text())
    [declared] = [c for c in ast.walk(tree) if isinstance(c, ast.Call)
                  and getattr(c.func, 'id', None) == 'DeclareLaunchArgument'
                  and _constant(c.args[0]) == 'hand_model']
    keywords = {kw.arg: kw.value for kw in declared.keywords}
    assert _constant(keywords['default_value']) == 'markers'
    assert ast.literal_eval(keywords['choices']) == ['markers', 'urdf']
    [function] = [f for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)
                  and f.name == 'hand_state_publishers']
    [node] = [c for c in ast.walk(function) if isinstance(c, ast.Call)
              and getattr(c.func, 'id', None) == 'Node']
    keywords = {kw.arg: kw.value for kw in node.keywords}
    assert _constant(keywords['package']) == 'robot_state_publisher'
    assert _constant(keywords['executable']) == 'robot_state_publisher'
    # ('joint_states', the graph's hand/joint_states: /hand/... or /<namespace>/hand/...)
    [remapping] = keywords['remappings'].elts
    assert _constant(remapping.elts[0]) == 'joint_states'
    assert getattr(remapping.elts[1], 'id', None) == 'joint_states'
    [names] = [[_constant(k) for k in d.keys] for d in ast.walk(keywords['parameters'])
               if isinstance(d, ast.Dict)]
    # its frames get iknet_node's TF prefix: the URDF's and iknet_node's frames stay one tree
    assert names == ['robot_description', 'frame_prefix']
    [loop] = [f for f in ast.walk(function) if isinstance(f, ast.For)]
    assert ast.literal_eval(loop.iter) == ('right', 'left')
    for side in ('right', 'left'):
        assert (ROOT / 'urdf' / f'hand_{side}.urdf').is_file()
    # in urdf mode iknet_node leaves the joint frames to robot_state_publisher
    [value] = [d.values[d.keys.index(k)] for d in ast.walk(tree) if isinstance(d, ast.Dict)
               for k in d.keys if _constant(k) == 'publish_joint_tf']
    assert any(isinstance(c, ast.Call) and getattr(c.func, 'id', None) == 'LaunchConfiguration'
               and _constant(c.args[0]) == 'hand_model' for c in ast.walk(value))
