"""One log line per kind of problem per period, for every node (no rclpy needed here).

A bad input repeats at the camera's rate; a log line per frame would drown everything else, and
a throttle keyed by the message text would let each new number through. Here a problem is
named by its kind (e.g. ``camera_info:fx``); the first line of a kind goes out at once, repeats
within the period are counted and the count goes with the next line of that kind.
"""
import threading
import time
from collections import OrderedDict

THROTTLE_SEC = 5.0
MAX_KINDS = 64  # kinds remembered; the oldest is forgotten first (it may then log again)


class ThrottledLog:
    """Log through `logger` (an rclpy logger) at most once per `period` seconds per kind.

    Thread-safe: keypoint_node logs from its detection thread and from the executor.
    """

    def __init__(self, logger, period: float = THROTTLE_SEC, max_kinds: int = MAX_KINDS):
        self.logger, self.period, self.max_kinds = logger, period, max_kinds
        self._kinds = OrderedDict()  # kind -> [monotonic time of the last line, lines held back]
        self._lock = threading.Lock()

    def __call__(self, kind: str, level: str, text: str) -> bool:
        """Log `text` at `level` ('info', 'warning', 'error') unless `kind` logged recently.

        Returns whether the line went out.
        """
        now = time.monotonic()
        with self._lock:
            entry = self._kinds.get(kind)
            if entry is not None:
                self._kinds.move_to_end(kind)
                if now - entry[0] < self.period:
                    entry[1] += 1
                    return False
            held_back = entry[1] if entry is not None else 0
            self._kinds[kind] = [now, 0]
            while len(self._kinds) > self.max_kinds:
                self._kinds.popitem(last=False)
        if held_back:
            text += f' ({held_back} more like this since the last such line)'
        # one call per severity: rclpy keeps one severity per line of code that logs
        if level == 'info':
            self.logger.info(text)
        elif level == 'warning':
            self.logger.warning(text)
        else:
            self.logger.error(text)
        return True

    def __len__(self) -> int:
        return len(self._kinds)
