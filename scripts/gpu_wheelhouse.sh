#!/usr/bin/env bash
# The wheels an offline GPU machine with Python 3.12 and torch lacks for scripts/gpu_check.py:
# vidswap's dependencies with the onnx and demo extras (the photos), for CPython 3.12 on
# manylinux x86_64, torch and what torch itself installs left out. Run it here, with internet;
# carry the folder; install there with the line it prints (no index, no internet).
#
#   scripts/gpu_wheelhouse.sh DIR [--torch VERSION] [--have FILE] [--max-mib N]
#
#   --torch    the torch already on the GPU machine (default 2.11.0): torchvision is matched to it
#   --have     packages the GPU machine already has, one a line (`python3 -m pip list --format=freeze`
#              there, or scripts/gpu_image_packages.txt): left out, whatever their version
#   --max-mib  fail when the folder is larger (default 64, what a lent GPU machine takes along)
#
# Needs uv (to resolve for Python 3.12 on Linux) and pip (to download). Not gathered: TensorRT
# and onnxruntime-gpu (hundreds of MB each, see docs/gpu.md).
set -euo pipefail

dir=${1:?usage: scripts/gpu_wheelhouse.sh DIR [--torch VERSION] [--have FILE] [--max-mib N]}
shift
torch_version=2.11.0 have=/dev/null max_mib=64
while (($#)); do
    case $1 in
        --torch) torch_version=$2 ;;
        --have) have=$2 ;;
        --max-mib) max_mib=$2 ;;
        *) echo "gpu_wheelhouse.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift 2
done
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
resolve() {  # pinned requirements for CPython 3.12 on manylinux_2_28 x86_64, torch held at its version
    uv pip compile "$@" --python-version 3.12 --python-platform x86_64-manylinux_2_28 --no-header \
        --no-annotate -q -c <(echo "torch==$torch_version")
}
name() { sed -E 's/[=<>!~ ;\[].*//' | tr 'A-Z_.' 'a-z--'; }

resolve "$root/pyproject.toml" --extra onnx --extra demo >"$work/all.txt"
resolve <(echo "torch==$torch_version") | name >"$work/skip.txt"  # torch and what it brings
grep -vE '^\s*(#|$)' "$have" | name >>"$work/skip.txt" || true
while read -r pin; do
    grep -qxF "$(echo "$pin" | name)" "$work/skip.txt" || echo "$pin"
done <"$work/all.txt" >"$work/wanted.txt"

mkdir -p "$dir"
rm -f "$dir"/*.whl
platforms=()
for tag in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_24_x86_64 manylinux_2_17_x86_64 \
    manylinux2014_x86_64 manylinux1_x86_64; do
    platforms+=(--platform "$tag")
done
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${platforms[@]}" -d "$dir" -r "$work/wanted.txt"
cp "$work/wanted.txt" "$dir/requirements.txt"

mib=$(du -sm "$dir" | cut -f1)
echo "$(wc -l <"$dir/requirements.txt") wheels, $mib MiB in $dir: $(tr '\n' ' ' <"$dir/requirements.txt")"
echo "install there (offline): python3 -m pip install --no-index --find-links $dir -r $dir/requirements.txt"
if ((mib > max_mib)); then
    echo "gpu_wheelhouse.sh: $mib MiB is more than --max-mib $max_mib (give --have the GPU machine's packages)" >&2
    exit 1
fi
