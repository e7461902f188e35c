#!/usr/bin/env bash
# EMR bootstrap action: install audioval's wheels and start Ray on every node.
#
# Ray's own Spark launcher refuses YARN, which EMR runs, so Ray is started directly: a systemd
# unit runs `ray start --block` as the head on the primary node and as a worker elsewhere.
# Workers restart until the head answers, so node start order does not matter, and nodes that
# managed scaling adds run this same action and join by themselves.
#
# Usage (set by the Pulumi program): ray-bootstrap.sh S3_WHEELS_PREFIX RAY_VERSION DASHBOARD_PORT
set -euo pipefail

wheels_s3="${1:?S3 prefix of audioval wheels}"
ray_version="${2:?Ray version}"
dashboard_port="${3:-8265}"
venv=/opt/audioval
gcs_port=6379

sudo dnf install -y -q python3.11 python3.11-pip jq
is_primary=$(jq -r '.isMaster' /mnt/var/lib/info/instance.json)
primary_host=$(jq -r '.masterPrivateDnsName' /mnt/var/lib/info/job-flow.json)

sudo useradd --system --create-home --home-dir /var/lib/ray --shell /sbin/nologin ray || true
sudo python3.11 -m venv "$venv"
wheel_dir=$(mktemp -d)
aws s3 cp --recursive --quiet "$wheels_s3" "$wheel_dir/"
# The workspace's wheels bring their locked dependencies' names; Ray is pinned as in uv.lock.
sudo "$venv/bin/pip" install --quiet --no-cache-dir "$wheel_dir"/*.whl "ray[default]==${ray_version}"

if [ "$is_primary" = "true" ]; then
  # The dashboard listens on the primary's private address; its security group admits only the
  # operator CIDRs, and SSM port forwarding reaches it without any inbound rule.
  start="$venv/bin/ray start --head --block --port=${gcs_port} --dashboard-host=0.0.0.0 --dashboard-port=${dashboard_port} --disable-usage-stats"
  unit=audioval-ray-head
else
  start="$venv/bin/ray start --block --address=${primary_host}:${gcs_port} --disable-usage-stats"
  unit=audioval-ray-worker
fi

sudo tee "/etc/systemd/system/${unit}.service" >/dev/null <<UNIT
[Unit]
Description=audioval Ray (${unit#audioval-ray-})
After=network-online.target
Wants=network-online.target

[Service]
User=ray
Environment=RAY_USAGE_STATS_ENABLED=0
# Job entrypoints run through a shell on the head: `audioval batch` runs "$AUDIOVAL_PYTHON".
Environment=AUDIOVAL_PYTHON=${venv}/bin/python
ExecStart=${start}
ExecStop=${venv}/bin/ray stop
Restart=always
RestartSec=10

[Install]
WantedBy=multi-user.target
UNIT
sudo systemctl daemon-reload
sudo systemctl enable --now "${unit}.service"
