#!/usr/bin/env bash
# Opens the desktop app on a virtual X display with an image reference, waits until the image
# is listed, takes a screenshot and fails unless the window really shows something.
#
# Usage: tests/gui_screenshot.sh [BINARY] [IMAGE] [SCREENSHOT]
#   BINARY      the layerslayer binary (or env LAYERSLAYER_BINARY; default target/debug/layerslayer)
#   IMAGE       an image reference the app can reach (or env LAYERSLAYER_IMAGE), or a single
#               `-` for a first launch: the app starts with no arguments and no saved state
#               (so it opens its built-in demo image) and WITHOUT network, in its own empty
#               network namespace (`unshare --net`); the script then waits for the title
#               `layerslayer - demo`, and fails if no network namespace can be made.
#   SCREENSHOT  where to write the PNG (or env LAYERSLAYER_SCREENSHOT; default gui-screenshot.png)
# Env LAYERSLAYER_STEPS: after the first screenshot, what to do in the window, one step a line:
#   click X Y   click at window coordinates X,Y (points; the pointer then leaves the window)
#   rclick X Y  right-click there (opens a context menu; the pointer stays)
#   type TEXT   type TEXT on the keyboard
#   key NAME    press a key (xdotool names: Return, ctrl+a, …)
#   blur        move the keyboard focus off the window (to the root window), so a focused text
#               field stops blinking its cursor and the screen can come to rest for a shot
#   focus       give the window the keyboard focus back
#   shot FILE   wait until the screen stops changing (work done, spinners gone), then write
#               it to FILE; fails if it is blank
# Needs Xvfb, xdotool and ImageMagick (import, convert); `-` also needs util-linux's unshare and
# either root or unprivileged user namespaces.
set -euo pipefail

binary=${1:-${LAYERSLAYER_BINARY:-target/debug/layerslayer}}
image=${2:-${LAYERSLAYER_IMAGE:-}}
screenshot=${3:-${LAYERSLAYER_SCREENSHOT:-gui-screenshot.png}}
# How long the window and the fetch may take, in tenths of a second.
window_timeout=${LAYERSLAYER_WINDOW_TIMEOUT:-600}
# A blank screen has a standard deviation of 0; the app's UI is well above this.
min_deviation=0.02

fail() {
  echo "gui_screenshot: $*" >&2
  exit 1
}

[ -x "$binary" ] || fail "no executable layerslayer binary at '$binary'"
[ -n "$image" ] ||
  fail "give an image reference (or - for an offline first launch) as the second argument or in LAYERSLAYER_IMAGE"
for tool in Xvfb xdotool import convert; do
  command -v "$tool" >/dev/null || fail "$tool is missing (apt-get install xvfb xdotool imagemagick)"
done

# What the app is started with, what runs it, and the window title that means "listed".
if [ "$image" = "-" ]; then
  what="the demo image (first launch, no network)"
  app_args=()
  title_pattern='^layerslayer - demo$'
  # An empty network namespace: as root directly, otherwise inside a user namespace. Never fall
  # back to running with the network, which would make an "offline" pass meaningless.
  if unshare --net true 2>/dev/null; then
    runner=(unshare --net --)
  elif unshare --user --map-root-user --net true 2>/dev/null; then
    runner=(unshare --user --map-root-user --net --)
  else
    fail "cannot run the app without network: 'unshare --net' failed ($(unshare --net true 2>&1 || true)); run as root or enable unprivileged user namespaces"
  fi
else
  what=$image
  app_args=(gui "$image")
  title_pattern='^layerslayer - '
  runner=()
fi

work=$(mktemp -d)
xvfb_pid=""
app_pid=""
cleanup() {
  local status=$?
  if [ -n "$app_pid" ]; then kill "$app_pid" 2>/dev/null || true; wait "$app_pid" 2>/dev/null || true; fi
  if [ -n "$xvfb_pid" ]; then kill "$xvfb_pid" 2>/dev/null || true; wait "$xvfb_pid" 2>/dev/null || true; fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

# Xvfb picks a free display itself and writes its number to the given descriptor.
Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$work/display" 2>"$work/xvfb.log" &
xvfb_pid=$!
for _ in $(seq 100); do
  [ -s "$work/display" ] && break
  kill -0 "$xvfb_pid" 2>/dev/null || fail "Xvfb did not start: $(cat "$work/xvfb.log")"
  sleep 0.1
done
[ -s "$work/display" ] || fail "Xvfb did not report a display"
display_number=$(head -n1 "$work/display")
export DISPLAY=":$display_number"
# Ready means answering, and (for an app without network, which cannot reach Xvfb's abstract
# socket) its socket file exists.
ready=""
for _ in $(seq 100); do
  if xdotool getdisplaygeometry >/dev/null 2>&1 && [ -S "/tmp/.X11-unix/X$display_number" ]; then
    ready=yes
    break
  fi
  sleep 0.1
done
[ -n "$ready" ] || fail "Xvfb on $DISPLAY does not answer: $(cat "$work/xvfb.log")"

# A private home so the run neither reads nor writes the user's saved state; X11 only.
mkdir -p "$work/home"
# LAYERSLAYER_APP_PATH, when set, is the app's whole PATH (e.g. an empty directory, so that it
# finds no zenity); the script's own tools keep the caller's PATH.
app_path=("PATH=${LAYERSLAYER_APP_PATH:-$PATH}")
start_app() {
  HOME="$work/home" XDG_DATA_HOME="$work/home/data" XDG_CONFIG_HOME="$work/home/config" \
    WAYLAND_DISPLAY="" LIBGL_ALWAYS_SOFTWARE=1 \
    "${runner[@]}" env "${app_path[@]}" "$binary" "${app_args[@]}" >"$work/app.log" 2>&1 &
  app_pid=$!
}
start_app
if [ "${#runner[@]}" -gt 0 ]; then
  echo "gui_screenshot: first launch without network: ${runner[*]} $binary"
fi
# A fresh Xvfb now and then refuses a client's very first connection; that is the virtual
# display, not the app: start the app again (twice at most) when that is why it stopped.
for _ in 1 2; do
  sleep 0.5
  if ! kill -0 "$app_pid" 2>/dev/null && grep -q 'Failed to open connection to X server' "$work/app.log"; then
    echo "gui_screenshot: the X server refused the app's connection; starting it again"
    start_app
  fi
done

# The title becomes "layerslayer - IMAGE" once the image is resolved and listed (unshare execs
# the app, so $app_pid is the app either way).
listed=""
for _ in $(seq "$window_timeout"); do
  kill -0 "$app_pid" 2>/dev/null || fail "the app exited early: $(cat "$work/app.log")"
  if grep -q '^error: ' "$work/app.log"; then
    import -window root "$screenshot" 2>/dev/null || true
    fail "the app could not open $what: $(grep '^error: ' "$work/app.log") (screenshot: $screenshot)"
  fi
  if xdotool search --name "$title_pattern" >/dev/null 2>&1; then
    listed=yes
    break
  fi
  sleep 0.1
done
if [ -z "$listed" ]; then
  import -window root "$screenshot" 2>/dev/null || true
  fail "the window never listed $what (screenshot of the failure: $screenshot); app log: $(cat "$work/app.log")"
fi

# Give the frame after the title change time to reach the screen, then check the pixels.
deviation=0
for _ in $(seq 50); do
  sleep 0.2
  import -window root "$screenshot"
  deviation=$(convert "$screenshot" -format '%[fx:standard_deviation]' info:)
  awk -v d="$deviation" -v min="$min_deviation" 'BEGIN { exit !(d > min) }' && break
done
awk -v d="$deviation" -v min="$min_deviation" 'BEGIN { exit !(d > min) }' ||
  fail "the screenshot is blank (standard deviation $deviation)"

# Both panels must show something: the layer list on the left, the tree area on the right.
for region in 440x600+0+100 800x600+460+100; do
  part=$(convert "$screenshot" -crop "$region" +repage -format '%[fx:standard_deviation]' info:)
  awk -v d="$part" -v min="$min_deviation" 'BEGIN { exit !(d > min) }' ||
    fail "region $region of the screenshot is empty (standard deviation $part)"
done

title=$(xdotool search --name "$title_pattern" getwindowname | head -n1)
echo "gui_screenshot: '$title' rendered; screenshot $screenshot (standard deviation $deviation)"

# Waits until two screenshots 0.4 s apart are identical (at most about 60 s), then keeps the
# last one as $1 and checks it is not blank.
shot_when_still() {
  local file=$1 still=""
  import -window root "$work/still-a.png"
  for _ in $(seq 150); do
    sleep 0.4
    kill -0 "$app_pid" 2>/dev/null || fail "the app exited during the steps: $(cat "$work/app.log")"
    import -window root "$work/still-b.png"
    if [ "$(compare -metric AE "$work/still-a.png" "$work/still-b.png" null: 2>&1 || true)" = "0" ]; then
      still=yes
      break
    fi
    mv "$work/still-b.png" "$work/still-a.png"
  done
  [ -n "$still" ] || fail "the screen kept changing; last screenshot: $file"
  mv "$work/still-b.png" "$file"
  local d
  d=$(convert "$file" -format '%[fx:standard_deviation]' info:)
  awk -v d="$d" -v min="$min_deviation" 'BEGIN { exit !(d > min) }' ||
    fail "the screenshot $file is blank (standard deviation $d)"
  echo "gui_screenshot: step screenshot $file (standard deviation $d)"
}

if [ -n "${LAYERSLAYER_STEPS:-}" ]; then
  command -v compare >/dev/null || fail "compare is missing (apt-get install imagemagick)"
  window=$(xdotool search --name "$title_pattern" | head -n1)
  # No window manager: give the window the keyboard focus by hand.
  xdotool windowfocus --sync "$window" 2>/dev/null || xdotool windowfocus "$window"
  while IFS= read -r step; do
    case "$step" in
      "click "*)
        read -r _ x y <<<"$step"
        xdotool mousemove --window "$window" "$x" "$y" click 1
        sleep 0.2
        # Off the window (it is narrower than the screen), so no tooltip stays on screen.
        xdotool mousemove 1279 799
        ;;
      "rclick "*)
        read -r _ x y <<<"$step"
        xdotool mousemove --window "$window" "$x" "$y" click 3
        sleep 0.2
        ;;
      "type "*) xdotool type --delay 20 -- "${step#type }" ;;
      "key "*) xdotool key "${step#key }" ;;
      blur)
        root=$(xdotool search --maxdepth 0 "" 2>/dev/null | head -n1)
        [ -n "$root" ] || fail "no root window to move the focus to"
        xdotool windowfocus "$root"
        ;;
      focus) xdotool windowfocus --sync "$window" 2>/dev/null || xdotool windowfocus "$window" ;;
      "shot "*) shot_when_still "${step#shot }" ;;
      "") ;;
      *) fail "unknown step '$step' in LAYERSLAYER_STEPS" ;;
    esac
  done <<<"$LAYERSLAYER_STEPS"
fi
