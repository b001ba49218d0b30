#!/usr/bin/env bash
# Build the tf2_msgs interface package (ros_interfaces/tf2_msgs) into a venv of PyPI ROS 2 wheels,
# which carry no tf2_msgs. Needs a C/C++ compiler; cmake comes from the venv (PyPI).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
VENV=$(cd "${VENV:-.venv}" && pwd)
build=${BUILD_DIR:-$here/../build/tf2_msgs}
py_includes=$("$VENV/bin/python" -c 'import sysconfig, numpy; print(sysconfig.get_paths()["include"] + ";" + numpy.get_include())')
cmake=$VENV/bin/cmake; [ -x "$cmake" ] || cmake=cmake
rm -rf "$build"
log=$build.log; mkdir -p "$(dirname "$build")"
if ! { "$cmake" -S "$here/ros_interfaces/tf2_msgs" -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
        -DCMAKE_PREFIX_PATH="$VENV" -DCMAKE_INSTALL_PREFIX="$VENV" -DPython3_EXECUTABLE="$VENV/bin/python" \
        -DCMAKE_PROJECT_INCLUDE="$here/ros_interfaces/fix_wheel_py_includes.cmake" \
        -DWHEEL_PY_INCLUDES="$py_includes" \
     && "$cmake" --build "$build" -j"$(nproc)" && "$cmake" --install "$build"; } > "$log" 2>&1; then
  tail -n 40 "$log"; echo "build_tf2_msgs: failed, full log in $log" >&2; exit 1
fi
echo "build_tf2_msgs: installed tf2_msgs into $VENV"
