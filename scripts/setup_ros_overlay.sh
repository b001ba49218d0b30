#!/usr/bin/env bash
# Build the real `ros2` command (upstream Jazzy launch, launch_ros, ros2cli from
# ../shared/vendor/ros2-jazzy-launch) as a colcon overlay in .ros_overlay/ on top of the PyPI
# ROS 2 core in .venv, with iknet_ros itself in it as a ROS user's workspace has it (symlink
# install: edits to launch/ and config/ need no rebuild). `source scripts/ros_env.sh` then gives
# `ros2 launch iknet_ros hand.launch.py`. The venv itself is not touched.
# Without the vendor folder it says so in one line and does nothing. Idempotent: when nothing it
# depends on has changed since the last run it exits at once.
#   VENV         venv folder (default .venv)
#   ROS_OVERLAY  overlay folder (default .ros_overlay)
#   ROS_VENDOR   upstream sources (default ../shared/vendor/ros2-jazzy-launch)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
VENV=$(cd "${VENV:-.venv}" && pwd)
OVERLAY=${ROS_OVERLAY:-.ros_overlay}
VENDOR=${ROS_VENDOR:-../shared/vendor/ros2-jazzy-launch}
if [ ! -d "$VENDOR" ]; then
  echo "setup_ros_overlay: $VENDOR is absent: no ros2 command (the launch tests will skip)"
  exit 0
fi
mkdir -p "$OVERLAY"
OVERLAY=$(cd "$OVERLAY" && pwd)
py=$VENV/bin/python
pip=("$py" -m pip --disable-pip-version-check -q)
# colcon (with the setuptools 79 it brings, which still has `setup.py develop`) and the runtime
# dependencies of launch and ros2cli that the venv lacks, each in its own pip --target folder
COLCON_SPEC='colcon-common-extensions==0.3.0'
PYDEPS_SPEC='osrf-pycommon==2.0.2 psutil argcomplete'

stamp=$OVERLAY/.stamp
# rebuilt when the sources, this package's build files or file lists, or the venv change
want=$( (cat "$VENDOR"/*.tar.gz scripts/setup_ros_overlay.sh scripts/ros_interfaces/fix_wheel_py_includes.cmake \
         setup.py setup.cfg package.xml; cat "$VENV/.iknet_ros_setup" 2>/dev/null; ls launch config resource
         echo "$COLCON_SPEC $PYDEPS_SPEC $root $VENV") | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "setup_ros_overlay: $OVERLAY is up to date"
  exit 0
fi
rm -f "$stamp"
start=$SECONDS
log=$OVERLAY/setup.log
: > "$log"
fail() { tail -n 40 "$log"; echo "setup_ros_overlay: failed, full log in $log" >&2; exit 1; }

pip_stamp=$OVERLAY/.pip_stamp
if [ "$(cat "$pip_stamp" 2>/dev/null)" != "$COLCON_SPEC $PYDEPS_SPEC" ]; then
  echo "setup_ros_overlay: pip-installing colcon and launch's dependencies into $OVERLAY"
  rm -rf "$OVERLAY/colcon" "$OVERLAY/pydeps"
  # shellcheck disable=SC2086
  { "${pip[@]}" install --target "$OVERLAY/colcon" "$COLCON_SPEC" \
    && "${pip[@]}" install --target "$OVERLAY/pydeps" $PYDEPS_SPEC; } >> "$log" 2>&1 || fail
  echo "$COLCON_SPEC $PYDEPS_SPEC" > "$pip_stamp"
fi

echo "setup_ros_overlay: building launch, launch_ros, ros2cli and iknet_ros (colcon, 1-2 min)"
ws=$OVERLAY/ws
rm -rf "$ws/src"
mkdir -p "$ws/src"
for tarball in "$VENDOR"/*.tar.gz; do
  # launch_testing's pytest plugin does not load under pytest 9; the tests drive `ros2 launch`
  tar -xzf "$tarball" -C "$ws/src" --exclude='launch_testing'
done
ln -s "$root" "$ws/src/iknet_ros"
py_includes=$("$py" -c 'import sysconfig, numpy; print(sysconfig.get_paths()["include"] + ";" + numpy.get_include())')
# colcon run by the venv's python writes it into the console scripts' shebangs
(cd "$ws" && PYTHONPATH="$OVERLAY/colcon" CMAKE_PREFIX_PATH="$VENV" AMENT_PREFIX_PATH="$VENV" \
   PATH="$VENV/bin:$PATH" "$py" "$OVERLAY/colcon/bin/colcon" --log-base "$ws/log" build \
   --merge-install --symlink-install --event-handlers console_direct- \
   --cmake-args -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=Release -DPython3_EXECUTABLE="$py" \
     -DCMAKE_PROJECT_INCLUDE="$root/scripts/ros_interfaces/fix_wheel_py_includes.cmake" \
     -DWHEEL_PY_INCLUDES="$py_includes") >> "$log" 2>&1 || fail
echo "$want" > "$stamp"
echo "setup_ros_overlay: $OVERLAY ready in $((SECONDS - start)) s; use it with: source scripts/ros_env.sh"
