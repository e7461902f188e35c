#!/usr/bin/env bash
# Install everything audioval needs on a fresh Debian machine with python3 and pip:
# the system audio tools (apt), uv (pip), and the locked workspace (uv sync --frozen).
# Idempotent: what is already there is not installed again.
set -euo pipefail
cd "$(dirname "$0")/.."

# sox/ffmpeg/flac/vorbis-tools/lame transcode the dev corpus; espeak-ng renders speech for it;
# iproute2's ss lets the tests check that the local stack listens on loopback only.
# podman (with runc and slirp4netns) and debootstrap build and run the service images on a
# locally made base (scripts/build_images.sh; tests/test_e2e_images.py).
# steghide is a dev/bench tool only: bench/stego_families.py and the steganalysis tests embed
# with it (histogram-preserving stego by a real tool); the validator never runs it.
APT_PACKAGES=(sox libsox-fmt-all ffmpeg flac vorbis-tools lame espeak-ng libsndfile1 iproute2
  podman runc slirp4netns debootstrap debian-archive-keyring steghide)
# minimodem (a real FSK modem) makes the data-over-sound audio of audiomodel's modem tests and
# bench/modem_eval.py; test and bench only, never a runtime dependency of audiomodel.
APT_PACKAGES+=(minimodem)
# ebook2cw (text to Morse code audio, a real tool) makes the Morse tests' real-tool cases and
# bench/morse_data.py's; test and bench only.
APT_PACKAGES+=(ebook2cw)
# direwolf (gen_packets: AFSK/PSK packet radio, a real modem) and eyeD3 (writes ID3v2 tags as
# players do) make real-tool cases of the modem and tag tests; test only. Without them those
# tests skip, and a skipped test is not a pass.
APT_PACKAGES+=(direwolf eyed3)
# chromium and chromium-driver: the review console's browser tests (tests/test_e2e_console.py)
# drive Debian's headless Chromium with Selenium; test only.
APT_PACKAGES+=(chromium chromium-driver)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: apt-get install ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v uv >/dev/null 2>&1; then
  echo "setup: pip install uv" >&2
  python3 -m pip install -q uv
fi
uv sync --frozen -q
