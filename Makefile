# Two entry points that work on a fresh clone: `make demo` and `make test`.
# Both create or update the project venv (.venv) first; a second run with nothing changed is fast.
# `make test` also builds the real `ros2` command (launch, ros2cli) into .ros_overlay when
# ../shared/vendor/ros2-jazzy-launch is there: `source scripts/ros_env.sh` then gives `ros2 launch`.
VENV ?= .venv
export VENV

.PHONY: setup ros-overlay demo test lint clean
setup:
	@bash scripts/setup_env.sh

ros-overlay: setup
	@bash scripts/setup_ros_overlay.sh

demo: setup
	$(VENV)/bin/iknet-ros demo

test: setup ros-overlay
	@bash scripts/setup_test_browser.sh
	$(VENV)/bin/python -m pytest -q test

lint: setup
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) build .ros_overlay
