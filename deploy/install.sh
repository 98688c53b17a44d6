#!/usr/bin/env bash
# Installs or upgrades faceauth on a host (idempotent). Run from a checkout as root after `make build`:
#   sudo deploy/install.sh
# Creates the faceauth user and folders, installs the binary, ONNX Runtime and the models (sha256-checked),
# the systemd unit and an environment file template (kept if it exists).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
prefix=/opt/faceauth
pack=${MODEL_PACK:-open}

id faceauth >/dev/null 2>&1 || useradd --system --home-dir /var/lib/faceauth --shell /usr/sbin/nologin faceauth
install -d -m 0755 "$prefix" "$prefix/bin" "$prefix/lib" "$prefix/models"
install -d -m 0750 -o faceauth -g faceauth /var/lib/faceauth
install -d -m 0750 -o root -g faceauth /etc/faceauth

[ -x "$root/target/release/faceauth" ] || { echo "build first: make build" >&2; exit 1; }
install -m 0755 "$root/target/release/faceauth" "$prefix/bin/faceauth"

"$root/scripts/setup-ort.sh"
install -m 0644 "$root/.ort/libonnxruntime.so.1.31.1" "$prefix/lib/"

MODEL_DIR="$prefix/models" "$root/scripts/fetch-models.sh" ${MODEL_MIRROR:+--mirror "$MODEL_MIRROR"} "$pack"
chmod 0644 "$prefix"/models/*.onnx
install -m 0644 "$root/README.md" "$prefix/README.md"

# The web SDK's face guide, where the service looks from its WorkingDirectory (SDK_GUIDE_DIR's default).
"$root/scripts/setup-guide.sh"
guide=web/guide/node_modules/@mediapipe/face_mesh
install -d -m 0755 "$prefix/$guide"
install -m 0644 "$root/$guide"/* "$prefix/$guide/"

if [ ! -f /etc/faceauth/faceauth.env ]; then
  install -m 0640 -o root -g faceauth "$root/.env.example" /etc/faceauth/faceauth.env
  sed -i 's/^APP_ENV=.*/APP_ENV=production/; s/^LOG_FORMAT=.*/LOG_FORMAT=json/; s/^TRUSTED_PROXIES=.*/TRUSTED_PROXIES=127.0.0.1,::1/' /etc/faceauth/faceauth.env
  echo "edit /etc/faceauth/faceauth.env (S3_BUCKET, AWS_REGION, SECRETS_MANAGER_SECRET_NAME or SECRET_KEY/API_KEYS)"
fi

install -m 0644 "$root/deploy/faceauth.service" /etc/systemd/system/faceauth.service
systemctl daemon-reload
systemctl enable faceauth.service
echo "installed: systemctl restart faceauth && deploy/verify.sh https://your-host PHOTO_A PHOTO_B"
