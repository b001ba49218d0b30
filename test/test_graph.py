"""The in-process graph's teardown while callbacks are being dispatched."""
import sys
import threading
import time

from rclpy.node import Node

from iknet_ros.ros.graph import InProcessGraph


def test_closing_a_busy_graph_raises_in_no_thread(monkeypatch):
    """rclpy's executor shutdown() does not wait for the spin thread; close() must.

    A thread switch every microsecond makes closes land inside the executor's dispatch, where
    shutting the executor down under the spinning thread raises InvalidHandle or AttributeError
    in that thread.
    """
    errors = []
    monkeypatch.setattr(threading, 'excepthook', errors.append)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for _ in range(60):
            graph = InProcessGraph()
            graph.add(Node('busy', context=graph.context)).create_timer(0.0, lambda: None)
            time.sleep(0.02)
            graph.close()
            assert not graph._thread.is_alive()
    finally:
        sys.setswitchinterval(interval)
    assert not errors, [f'{type(e.exc_value).__name__}: {e.exc_value}' for e in errors]
