#!/usr/bin/env bash
# Make the demo's shipped sample clip (iknet_ros/samples/right_hand_clip.mp4) from the shared real
# video: its last 10 s (frames 321-620: pinches, open hand, edge-on views, a fist), 640x360,
# H.264 (libx264 CRF 20), no audio, no metadata. Run once by a maintainer; the clip is committed.
#   FFMPEG  an ffmpeg binary (default: the one on PATH, else the one pip's imageio-ffmpeg ships:
#           `pip install imageio-ffmpeg`, a tool here, not a dependency of the project)
set -euo pipefail
cd "$(dirname "$0")/.."
source=${1:-../shared/data/real/right_hand_720p.mp4}
out=iknet_ros/samples/right_hand_clip.mp4
python=${PYTHON:-.venv/bin/python}
ffmpeg=${FFMPEG:-$(command -v ffmpeg || "$python" -c 'import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())')}
"$ffmpeg" -hide_banner -loglevel error -y -i "$source" -an \
  -vf "trim=start_frame=321:end_frame=621,setpts=PTS-STARTPTS,scale=640:360" \
  -c:v libx264 -preset veryslow -crf 20 -pix_fmt yuv420p -movflags +faststart \
  -map_metadata -1 -fflags +bitexact "$out"
ls -l "$out"
