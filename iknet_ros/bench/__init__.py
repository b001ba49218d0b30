"""Speed and memory figures for `iknet-ros bench` (never asserted by tests)."""
