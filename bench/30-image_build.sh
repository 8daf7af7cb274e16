#!/usr/bin/env bash
# Benchmark: the runtime stage built cold (no layer cache) by the Docker engine, the image_build
# stage rebuilding with nothing changed, and the image's size. Needs the lab (bench/20-lab.sh).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. ./versions.env

tag=nested-warden/bench-cold:runtime
timed env DOCKER_BUILDKIT=0 docker build --no-cache --target runtime \
  --build-arg "BASE_IMAGE=$LAB_BASE_IMAGE" -t "$tag" warden-cpi-containerd
echo "runtime stage, cold build (--no-cache): $elapsed s"
size=$(docker image inspect -f '{{.Size}}' "$tag")
echo "runtime stage image size: $((size / 1024 / 1024)) MiB"
docker image rm -f "$tag" >/dev/null

timed ansible-playbook site.yml --tags image_build
echo "image_build stage, nothing changed (input digest, push no-op, verify): $elapsed s (changed=$(changed_count))"
