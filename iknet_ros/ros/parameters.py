"""The nodes' one way to declare and check their parameters.

Each node lists its parameters as ``name -> Param``; ``declare`` gives every one a description
and, for numbers, the range ROS tools show (``ros2 param describe``), and raises ValueError
naming the parameter when a value is out of range or not one of its choices. All are read-only:
they build the node.
"""
import math
from dataclasses import dataclass

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import InvalidParameterValueException


@dataclass(frozen=True)
class Param:
    """A parameter's default, description and what values it takes."""

    default: object
    description: str
    low: float = None       # smallest value allowed (inclusive)
    high: float = None      # largest value allowed (inclusive)
    above: float = None     # values must be strictly greater than this
    choices: tuple = None   # the only values allowed

    def descriptor(self) -> ParameterDescriptor:
        """The ROS descriptor: read-only, described, with a range for numbers."""
        descriptor = ParameterDescriptor(description=self.description, read_only=True)
        low = self.low if self.low is not None else self.above
        if low is not None or self.high is not None:
            if isinstance(self.default, bool):
                pass
            elif isinstance(self.default, int):
                descriptor.integer_range = [IntegerRange(
                    from_value=int(math.ceil(low)) if low is not None else -2 ** 31,
                    to_value=int(self.high) if self.high is not None else 2 ** 31 - 1, step=0)]
            else:
                descriptor.floating_point_range = [FloatingPointRange(
                    from_value=float(low) if low is not None else -math.inf,
                    to_value=float(self.high) if self.high is not None else math.inf, step=0.0)]
        if self.choices:
            descriptor.additional_constraints = f'one of: {", ".join(map(str, self.choices))}'
        return descriptor

    def check(self, name: str, value):
        """Raise ValueError naming `name` when `value` is not allowed."""
        if self.choices is not None and value not in self.choices:
            raise ValueError(f'parameter {name} must be one of '
                             f'{", ".join(map(str, self.choices))}, got {value!r}')
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise ValueError(f'parameter {name} must be finite, got {value}')
            if self.above is not None and not value > self.above:
                raise ValueError(f'parameter {name} must be > {self.above}, got {value}')
            if self.low is not None and value < self.low:
                raise ValueError(f'parameter {name} must be >= {self.low}, got {value}')
            if self.high is not None and value > self.high:
                raise ValueError(f'parameter {name} must be <= {self.high}, got {value}')


def declare(node, parameters: dict) -> dict:
    """Declare `parameters` (name -> Param) on `node`; return name -> checked value."""
    values = {}
    for name, param in parameters.items():
        try:  # rclpy checks the descriptor's range itself
            value = node.declare_parameter(name, param.default, param.descriptor()).value
        except InvalidParameterValueException as error:
            raise ValueError(f'parameter {name}: {error}') from error
        param.check(name, value)
        values[name] = value
    return values
