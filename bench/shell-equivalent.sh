#!/usr/bin/env bash
# The steps site.yml takes on a fresh lab, as a plain script of docker, openssl, curl commands,
# for bench/20-lab.sh. It has none of site.yml's checks, diagnosis, idempotence or
# cleanup guarantees: it is the floor to compare against, not a tool.
set -euo pipefail
cd "$(dirname "$0")/.."
. ./versions.env

net=nested-warden-bench subnet=172.30.78.0/24 registry_ip=172.30.78.10
image=$registry_ip:5000/warden-cpi-containerd:bench
work=$(mktemp -d)
password=$(openssl rand -hex 16)
# phase NAME: the time since the last phase goes to the last phase's name (printed at the end).
phases=() last=$EPOCHREALTIME last_name=start
phase() {
  phases+=("$(awk -v a="$last" -v b="$EPOCHREALTIME" -v n="$last_name" 'BEGIN { printf "%6.1fs  %s", b - a, n }')")
  last=$EPOCHREALTIME last_name=$1
}
cleanup() {
  docker rm -f nw-bench-concourse nw-bench-worker nw-bench-nested >/dev/null 2>&1 || true
  docker volume rm nw-bench-containerd >/dev/null 2>&1 || true
  docker network rm "$net" >/dev/null 2>&1 || true
  docker image rm -f "$image" >/dev/null 2>&1 || true
  rm -rf "$work" "/etc/docker/certs.d/$registry_ip:5000"
}
trap cleanup EXIT

phase "lab hosts"
docker network create --subnet "$subnet" "$net" >/dev/null
docker run -d --name nw-bench-concourse --network "$net" --ip "$registry_ip" --init "$LAB_HOST_IMAGE" >/dev/null
docker run -d --name nw-bench-worker --network "$net" --ip 172.30.78.20 --init "$LAB_HOST_IMAGE" >/dev/null

phase "registry and proxy"
# Registry on loopback, nginx with TLS and basic auth in front (what the bind fix deploys).
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=bench-ca -keyout "$work/ca.key" -out "$work/ca.crt" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=$registry_ip" -keyout "$work/key.pem" -out "$work/req.csr" 2>/dev/null
printf 'subjectAltName=IP:%s\n' "$registry_ip" >"$work/san.ext"
openssl x509 -req -in "$work/req.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" -CAcreateserial -days 1 \
  -extfile "$work/san.ext" -out "$work/cert.pem" 2>/dev/null
cat >"$work/registry.yml" <<CONF
version: 0.1
http: {addr: 127.0.0.1:5080}
storage: {filesystem: {rootdirectory: /var/lib/registry}}
CONF
cat >"$work/nginx.conf" <<CONF
events {}
http {
  client_max_body_size 0;
  server {
    listen 5000 ssl;
    ssl_certificate /etc/bench/cert.pem;
    ssl_certificate_key /etc/bench/key.pem;
    location /v2/ {
      auth_basic registry; auth_basic_user_file /etc/bench/htpasswd;
      proxy_pass http://127.0.0.1:5080; proxy_set_header Host \$http_host;
      proxy_set_header X-Forwarded-Proto \$scheme;
    }
  }
}
CONF
printf 'admin:{PLAIN}%s\n' "$password" >"$work/htpasswd"
chmod 0755 "$work" && chmod 0644 "$work"/*
docker cp "$work" nw-bench-concourse:/etc/bench
docker exec -d nw-bench-concourse docker-registry serve /etc/bench/registry.yml
docker exec nw-bench-concourse nginx -c /etc/bench/nginx.conf
sleep 1

phase "registry check from the worker"
# Check from the worker: 200 with credentials, 401 without.
docker cp "$work/ca.crt" nw-bench-worker:/tmp/ca.crt
# Credentials reach curl on stdin (-K -), not on its command line.
docker exec -i nw-bench-worker curl -sf -K - --cacert /tmp/ca.crt "https://$registry_ip:5000/v2/" \
  <<<"user = \"admin:$password\"" >/dev/null
test "$(docker exec nw-bench-worker curl -s -o /dev/null -w '%{http_code}' --cacert /tmp/ca.crt "https://$registry_ip:5000/v2/")" = 401

phase "build"
# Build (layer cache as warm as site.yml's), push, check the digest.
mkdir -p "/etc/docker/certs.d/$registry_ip:5000"
cp "$work/ca.crt" "/etc/docker/certs.d/$registry_ip:5000/ca.crt"
DOCKER_BUILDKIT=0 docker build -q --target runtime --build-arg "BASE_IMAGE=$LAB_BASE_IMAGE" -t "$image" warden-cpi-containerd >/dev/null
phase "login, push, digest check"
docker login -u admin --password-stdin "$registry_ip:5000" <<<"$password" >/dev/null 2>&1
docker push -q "$image" >/dev/null
docker exec -i nw-bench-worker curl -sf -K - --cacert /tmp/ca.crt -o /dev/null \
  -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
  "https://$registry_ip:5000/v2/warden-cpi-containerd/manifests/bench" <<<"user = \"admin:$password\""
docker logout "$registry_ip:5000" >/dev/null

# Nested containerd (caps mode, as on this machine), local workload, then the image pulled
# through the registry into the nested containerd and run there (nested-check's pull: the same
# code site.yml runs; credentials and CA on stdin).
phase "nested containerd and workload"
docker volume create nw-bench-containerd >/dev/null
docker run -d --name nw-bench-nested --network "$net" --init --cap-add ALL --cap-drop SYS_RESOURCE \
  --security-opt seccomp=unconfined --security-opt apparmor=unconfined --device-cgroup-rule 'a *:* rwm' \
  -v nw-bench-containerd:/var/lib/containerd "$image" sleep infinity >/dev/null
docker exec nw-bench-nested sh -c 'mount -o remount,rw /sys; for m in $(awk "\$3==\"cgroup\"{print \$2}" /proc/mounts); do mount -o remount,bind,rw "$m"; done'
docker exec nw-bench-nested nested-check containerd >/dev/null
docker exec nw-bench-nested nested-check workload >/dev/null
phase "nested pull and run"
BENCH_PASSWORD=$password python3 -c 'import json, os, sys
print(json.dumps({"username": "admin", "password": os.environ["BENCH_PASSWORD"], "ca_cert": open(sys.argv[1]).read()}))' \
  "$work/ca.crt" | docker exec -i nw-bench-nested nested-check steps --auth-stdin /run/auth.json \
  "[{\"name\": \"pull\", \"argv\": [\"pull\", \"--registry\", \"$registry_ip:5000\", \"--repository\", \"warden-cpi-containerd\",
     \"--tag\", \"bench\", \"--auth-file\", \"/run/auth.json\"]},
    {\"name\": \"run\", \"argv\": [\"workload\", \"--no-import\", \"--ref\", \"$image\"]}]" >/dev/null
phase end
printf 'shell phase %s\n' "${phases[@]}"
