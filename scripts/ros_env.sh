# Source it (bash) to get the `ros2` command of the overlay scripts/setup_ros_overlay.sh builds,
# as `source /opt/ros/jazzy/setup.bash` would on a ROS install:
#   source scripts/ros_env.sh && ros2 launch iknet_ros hand.launch.py video:=hand.mp4 use_rviz:=false
# The venv's python runs everything (colcon wrote it into the scripts), AMENT_PREFIX_PATH starts
# at the venv (the PyPI ROS 2 core), the overlay's own setup adds launch, ros2cli and iknet_ros.
# DDS discovery stays on this machine unless ROS_AUTOMATIC_DISCOVERY_RANGE is already set.
#   VENV, ROS_OVERLAY  as for setup_ros_overlay.sh (default .venv, .ros_overlay beside scripts/)
_iknet_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_iknet_venv=$(cd "${VENV:-$_iknet_root/.venv}" 2>/dev/null && pwd)
_iknet_overlay=${ROS_OVERLAY:-$_iknet_root/.ros_overlay}
if [ -z "$_iknet_venv" ] || [ ! -f "$_iknet_overlay/ws/install/setup.bash" ]; then
  echo "ros_env.sh: no overlay in $_iknet_overlay: run make test or scripts/setup_ros_overlay.sh" >&2
  unset _iknet_root _iknet_venv _iknet_overlay
  return 1 2>/dev/null || exit 1
fi
export COLCON_PYTHON_EXECUTABLE=$_iknet_venv/bin/python
export AMENT_PREFIX_PATH=$_iknet_venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}
export PATH=$_iknet_venv/bin:$PATH
# shellcheck disable=SC1091
source "$_iknet_overlay/ws/install/setup.bash"
export PYTHONPATH=$_iknet_overlay/pydeps${PYTHONPATH:+:$PYTHONPATH}
export ROS_AUTOMATIC_DISCOVERY_RANGE=${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}
unset _iknet_root _iknet_venv _iknet_overlay
