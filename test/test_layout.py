"""The package's import rules (the README's Layout), checked on every module.

The core never imports ROS; ros/ imports only the core; nothing imports the CLI; viz/ and bench/
are leaves.
"""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = ('hand', 'synth', 'detect', 'model', 'tracking', 'evaluation', 'paths')
LEAVES = ('viz', 'bench', 'cli')
# ament_index_python is no ROS runtime, only a lookup of installed packages' files
ROS_MODULES = ('rclpy', 'rcl_interfaces', 'rosbags', 'builtin_interfaces', 'launch',
               'launch_ros')


def part_of(module: str) -> str:
    """'iknet_ros.ros.pipeline' -> 'ros'; the package root itself -> ''."""
    parts = module.split('.')
    return parts[1] if len(parts) > 1 else ''


def is_ros(imported: str) -> bool:
    top = imported.split('.')[0]
    return top in ROS_MODULES or top.endswith('_msgs')


def package_imports() -> dict:
    """{module: set of imported module names} of every module of the package."""
    found = {}
    for path in (ROOT / 'iknet_ros').rglob('*.py'):
        relative = path.relative_to(ROOT).with_suffix('')
        module = '.'.join(relative.parts[:-1] if relative.name == '__init__' else relative.parts)
        names = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names.add(node.module)
                names.update(f'{node.module}.{alias.name}' for alias in node.names)
        found[module] = names
    return found


def violations(imports: dict) -> list:
    """Every import that breaks a rule, as 'module imports name: why'."""
    found = []
    for module, names in imports.items():
        here = part_of(module)
        for name in names:
            there = part_of(name) if name.startswith('iknet_ros.') else None
            if here in CORE and is_ros(name):
                found.append(f'{module} imports {name}: the core never imports ROS')
            if here in CORE and there in ('ros',) + LEAVES:
                found.append(f'{module} imports {name}: the core imports only the core')
            if here == 'ros' and there in LEAVES:
                found.append(f'{module} imports {name}: ros/ imports only the core')
            if there == 'cli' and here != 'cli':
                found.append(f'{module} imports {name}: nothing imports the CLI')
            if there in ('viz', 'bench') and here not in ('cli', there):
                found.append(f'{module} imports {name}: {there}/ is a leaf')
    return sorted(set(found))


def test_the_package_keeps_its_import_rules():
    assert violations(package_imports()) == []


def test_a_module_that_breaks_a_rule_is_caught():
    broken = {
        'iknet_ros.tracking.tracker': {'rclpy.node', 'iknet_ros.model.networks'},
        'iknet_ros.model.train': {'iknet_ros.cli', 'iknet_ros.cli.CliError'},
        'iknet_ros.ros.iknet_node': {'iknet_ros.viz.plots', 'iknet_ros.tracking.tracker'},
        'iknet_ros.detect.detector': {'iknet_ros.ros.conversions', 'sensor_msgs.msg'},
        'iknet_ros.bench.models': {'iknet_ros.viz.plots'},
        'iknet_ros.cli.plot': {'iknet_ros.viz.plots'},  # allowed
    }
    found = violations(broken)
    assert not [v for v in found if v.startswith('iknet_ros.cli.plot')]
    for module in ('tracking.tracker', 'model.train', 'ros.iknet_node', 'detect.detector',
                   'bench.models'):
        assert any(v.startswith(f'iknet_ros.{module} ') for v in found), module
