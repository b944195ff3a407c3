#!/usr/bin/env bash
# The installable app, end to end: validates the desktop entry and the AppStream metainfo,
# builds the .deb (of the debug build, for speed: the layout is the release package's),
# installs it with dpkg into a scratch root, checks every file is where desktops, man and the
# shells look, and runs the installed binary: --version, peek of the demo image, the man page,
# and its window under Xvfb (tests/gui_screenshot.sh). Then removes it again. Exits non-zero
# on the first failure. Needs cargo-deb, desktop-file-validate, appstreamcli, rsvg-convert.
set -euo pipefail
cd "$(dirname "$0")/.."
id=io.github.layerslayer.Layerslayer

fail() {
  echo "package_check: $*" >&2
  exit 1
}

# No errors or warnings (hints and infos are fine).
validated=$(desktop-file-validate "assets/linux/$id.desktop" 2>&1 || true)
if echo "$validated" | grep -qiE "error|warning"; then
  fail "desktop-file-validate: $validated"
fi
appstreamcli validate --no-net "assets/linux/$id.metainfo.xml" >/dev/null ||
  fail "appstreamcli validate: $(appstreamcli validate --no-net "assets/linux/$id.metainfo.xml" 2>&1)"

deb=$(assets/linux/package-deb.sh --dev | tail -1)
[ -f "$deb" ] || fail "no package built"
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/triggers"
touch "$root/var/lib/dpkg/status"
# The scratch root has no libraries: the package's dependencies are the host's.
dpkg --root="$root" --force-depends --force-script-chrootless -i "$deb" >/dev/null 2>&1 ||
  fail "dpkg -i failed: $(dpkg --root="$root" --force-depends --force-script-chrootless -i "$deb" 2>&1)"
dpkg --root="$root" -s layerslayer | grep -q "^Status: install ok installed" ||
  fail "dpkg does not list the package as installed"

for file in \
  usr/bin/layerslayer \
  "usr/share/applications/$id.desktop" \
  "usr/share/metainfo/$id.metainfo.xml" \
  usr/share/man/man1/layerslayer.1.gz \
  usr/share/bash-completion/completions/layerslayer \
  usr/share/zsh/vendor-completions/_layerslayer \
  usr/share/fish/vendor_completions.d/layerslayer.fish \
  "usr/share/icons/hicolor/scalable/apps/$id.svg"; do
  [ -s "$root/$file" ] || fail "missing $file"
done
for size in 16 24 32 48 64 128 256 512; do
  icon="$root/usr/share/icons/hicolor/${size}x${size}/apps/$id.png"
  [ "$(identify -format '%wx%h' "$icon")" = "${size}x${size}" ] || fail "icon $icon is not ${size}x${size}"
done

binary="$root/usr/bin/layerslayer"
"$binary" --version | grep -qE "^layerslayer [0-9.]+ \(.*isal\)$" ||
  fail "--version: $("$binary" --version)"
listing=$("$binary" peek demo --layers 2 --quiet)
echo "$listing" | grep -q "usr/bin/demo-app" || fail "peek demo lists no usr/bin/demo-app: $listing"
man -l "$root/usr/share/man/man1/layerslayer.1.gz" 2>/dev/null | grep -q "LAYERSLAYER PEEK" ||
  fail "the installed man page has no peek section"
tests/gui_screenshot.sh "$binary" - "$root/window.png" >/dev/null ||
  fail "the installed app did not show its window"

dpkg --root="$root" --force-script-chrootless -r layerslayer >/dev/null 2>&1 || fail "dpkg -r failed"
[ ! -e "$binary" ] || fail "dpkg -r left the binary"
echo "package_check: $(basename "$deb") builds, validates, installs, runs and removes cleanly"
