"""The nodes' ``/diagnostics``: DiagnosticStatus messages built from plain counters they keep.

The ROS convention (diagnostic_updater, diagnostic_aggregator, rqt_robot_monitor): a
DiagnosticArray on the global ``/diagnostics`` topic about once a second, one status per thing
watched, named ``<node>: <what>``, with a hardware id, a level (OK, WARN, ERROR) and a message a
person can act on; the numbers go as key/value strings. The node name is the fully qualified
one without its leading slash, so two graphs in two namespaces do not report under one name.
"""
import math
import threading
import time
from collections import deque

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

DIAGNOSTICS_TOPIC = '/diagnostics'  # global by convention, as /tf
PERIOD_SEC = 1.0        # one DiagnosticArray per node this often
WINDOW_SEC = 5.0        # rates, latency percentiles and "recent" problems: over this long
STALE_INPUT_SEC = 3.0   # no input for this long is a warning
LEVELS = {'OK': DiagnosticStatus.OK, 'WARN': DiagnosticStatus.WARN,
          'ERROR': DiagnosticStatus.ERROR}
_RANK = {'OK': 0, 'WARN': 1, 'ERROR': 2}


class EventWindow:
    """The events of the last `seconds` (each with a value): their rate, percentiles, age.

    Thread-safe; `total` counts every event since the start.
    """

    def __init__(self, seconds: float = WINDOW_SEC):
        self.seconds = seconds
        self.started = time.monotonic()
        self.total = 0
        self.last = None  # monotonic time of the newest event
        self._events = deque()  # (monotonic time, value)
        self._lock = threading.Lock()

    def add(self, value: float = 0.0):
        """Count one event now, with `value` (e.g. a latency in ms)."""
        now = time.monotonic()
        with self._lock:
            self._events.append((now, value))
            self.total += 1
            self.last = now
            self._trim(now)

    def _trim(self, now: float):
        while self._events and self._events[0][0] < now - self.seconds:
            self._events.popleft()

    def _recent(self) -> list:
        now = time.monotonic()
        with self._lock:
            self._trim(now)
            return [value for _, value in self._events]

    def count(self) -> int:
        """Events in the window."""
        return len(self._recent())

    def rate(self) -> float:
        """Events per second over the window (over the time since the start, if shorter)."""
        span = min(self.seconds, time.monotonic() - self.started)
        return len(self._recent()) / span if span > 0 else 0.0

    def percentile(self, q: float) -> float:
        """The `q`-th percentile of the values in the window; NaN without any."""
        values = self._recent()
        return float(np.percentile(values, q)) if values else float('nan')

    def idle(self) -> float:
        """Seconds since the newest event (since the start, before the first)."""
        return time.monotonic() - (self.last if self.last is not None else self.started)


class Health:
    """What one status found: the worst level so far and a message naming each problem."""

    def __init__(self):
        self.level = 'OK'
        self.problems = []

    def warn(self, text: str):
        """A problem the node works around (the output may be worse or missing)."""
        self._add('WARN', text)

    def error(self, text: str):
        """A problem that stops the node's work (no output)."""
        self._add('ERROR', text)

    def _add(self, level: str, text: str):
        if _RANK[level] > _RANK[self.level]:
            self.level = level
        self.problems.append((_RANK[level], text))

    def message(self, ok: str) -> str:
        """The problems, errors before warnings; `ok` when there are none."""
        worst_first = sorted(self.problems, key=lambda problem: -problem[0])
        return '; '.join(text for _, text in worst_first) if self.problems else ok


def number(value: float, digits: int = 1) -> str:
    """A figure for a key/value pair: rounded, 'n/a' when it is not known (NaN)."""
    return 'n/a' if isinstance(value, float) and math.isnan(value) else f'{value:.{digits}f}'


def status(name: str, hardware_id: str, health: Health, ok: str, values: dict) -> \
        DiagnosticStatus:
    """One DiagnosticStatus: level and message from `health`, `values` as key/value strings."""
    return DiagnosticStatus(level=LEVELS[health.level], name=name, hardware_id=hardware_id,
                            message=health.message(ok),
                            values=[KeyValue(key=str(k), value=str(v)) for k, v in values.items()])


def publish_periodically(node, statuses):
    """Publish `statuses()` (a list of DiagnosticStatus) on /diagnostics every PERIOD_SEC."""
    publisher = node.create_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC, 10)

    def publish():
        msg = DiagnosticArray(status=statuses())
        msg.header.stamp = node.get_clock().now().to_msg()
        publisher.publish(msg)

    node.create_timer(PERIOD_SEC, publish)


def status_name(node, what: str) -> str:
    """``<node>: <what>`` with the node's full name, e.g. ``cam1/iknet_node: tracking``."""
    return f'{node.get_fully_qualified_name().lstrip("/")}: {what}'
