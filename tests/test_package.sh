#!/usr/bin/env bash
# Builds the Debian package with `cpack -G DEB` into a temporary folder and checks what a user
# would get from `apt install ./infomax-studio_*.deb`: the files, the control fields, valid
# desktop and AppStream files, binaries that start from the extracted tree and carry no RPATH.
# Usage: test_package.sh BUILD_DIR SOURCE_DIR VERSION APP_ID [CPACK]   (ctest passes these)
set -euo pipefail
BUILD_DIR=$1 SOURCE_DIR=$2 VERSION=$3 APP_ID=$4 CPACK=${5:-cpack}

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }
for tool in dpkg-deb dpkg-shlibdeps file desktop-file-validate appstreamcli readelf; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/infomax-package.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# 1. The package, built the documented way (in the build folder), written outside it.
start=$SECONDS
(cd "$BUILD_DIR" && "$CPACK" -G DEB -B "$TMP/out") >"$TMP/cpack.log" 2>&1 ||
  { cat "$TMP/cpack.log" >&2; echo "FAIL: cpack -G DEB" >&2; exit 1; }
shopt -s nullglob
debs=("$TMP/out/infomax-studio_${VERSION}_"*.deb)
[ ${#debs[@]} -eq 1 ] || { cat "$TMP/cpack.log" >&2; echo "FAIL: expected one infomax-studio_${VERSION}_*.deb, got ${#debs[@]}" >&2; exit 1; }
DEB=${debs[0]}
ok "cpack built $(basename "$DEB") ($(du -h "$DEB" | cut -f1)) in $((SECONDS - start)) s"

# 2. Contents.
dpkg-deb -c "$DEB" | awk '{print $NF}' >"$TMP/contents"
DESKTOP=usr/share/applications/$APP_ID.desktop
METAINFO=usr/share/metainfo/$APP_ID.metainfo.xml
ICON=usr/share/icons/hicolor/scalable/apps/$APP_ID.svg
for f in usr/bin/infomax usr/bin/infomax-studio "$DESKTOP" "$METAINFO" "$ICON"; do
  if grep -qx "\./$f" "$TMP/contents"; then ok "contains /$f"; else fail "missing /$f"; fi
done

# 3. Control fields: Depends computed by dpkg-shlibdeps, naming the runtime libraries.
field() { dpkg-deb -f "$DEB" "$1"; }
[ "$(field Package)" = infomax-studio ] || fail "Package is '$(field Package)'"
[ "$(field Version)" = "$VERSION" ] || fail "Version is '$(field Version)', expected $VERSION"
[ "$(field Section)" = science ] || fail "Section is '$(field Section)'"
[ -n "$(field Maintainer)" ] || fail "no Maintainer"
DEPENDS=$(field Depends)
echo "Depends: $DEPENDS"
echo "Recommends: $(field Recommends)"
# libqt6svg6 also holds the SVG icon engine plugin that draws the window icon.
for pkg in libtorch libqt6widgets6 libqt6svg6 libqcustomplot libopencv-core libc6; do
  if [[ $DEPENDS == *"$pkg"* ]]; then ok "Depends names $pkg"; else fail "Depends does not name $pkg"; fi
done
for pkg in libopenblas0-pthread dataset-fashion-mnist; do
  [[ $(field Recommends) == *"$pkg"* ]] || fail "Recommends does not name $pkg"
done

# 4. Desktop integration files, as installed.
ROOT=$TMP/root
dpkg-deb -x "$DEB" "$ROOT"
if out=$(desktop-file-validate "$ROOT/$DESKTOP" 2>&1) && [ -z "$out" ]; then
  ok "desktop-file-validate"
else
  fail "desktop-file-validate: $out"
fi
grep -qx "Icon=$APP_ID" "$ROOT/$DESKTOP" || fail "the desktop file's Icon is not $APP_ID"
exec_bin=$(sed -n 's/^Exec=\([^ ]*\).*/\1/p' "$ROOT/$DESKTOP")
[ -x "$ROOT/usr/bin/$exec_bin" ] || fail "the desktop file runs '$exec_bin', not in the package's /usr/bin"
if out=$(appstreamcli validate --no-net "$ROOT/$METAINFO" 2>&1); then
  ok "appstreamcli validate --no-net"
else
  fail "appstreamcli validate: $out"
fi
grep -q "<id>$APP_ID</id>" "$ROOT/$METAINFO" || fail "metainfo id is not $APP_ID"
grep -q "<launchable type=\"desktop-id\">$APP_ID.desktop</launchable>" "$ROOT/$METAINFO" ||
  fail "metainfo does not launch $APP_ID.desktop"
grep -q "<release version=\"$VERSION\"" "$ROOT/$METAINFO" ||
  fail "metainfo has no <release version=\"$VERSION\">: add the release to packaging/$APP_ID.metainfo.xml"
cmp -s "$ROOT/$ICON" "$SOURCE_DIR/resources/infomax-studio.svg" || fail "the icon differs from resources/infomax-studio.svg"

# 5. The binaries: no RPATH/RUNPATH (their libraries all come from /usr/lib), every library
#    found, and both start from the extracted tree.
for bin in infomax infomax-studio; do
  f=$ROOT/usr/bin/$bin
  rpath=$(readelf -d "$f" | grep -E 'RPATH|RUNPATH' || true)
  if [ -z "$rpath" ]; then ok "$bin has no RPATH/RUNPATH"; else fail "$bin carries $rpath"; fi
  missing=$(ldd "$f" | grep 'not found' || true)
  [ -z "$missing" ] || fail "$bin: libraries not found: $missing"
done
if out=$("$ROOT/usr/bin/infomax" presets 2>&1) && grep -q dcgan32 <<<"$out"; then
  ok "infomax presets"
else
  fail "infomax presets: $out"
fi
if out=$(QT_QPA_PLATFORM=offscreen "$ROOT/usr/bin/infomax-studio" --version 2>&1) &&
  grep -q "InfoMax Studio $VERSION" <<<"$out"; then
  ok "infomax-studio --version: $(grep "InfoMax Studio" <<<"$out")"
else
  fail "infomax-studio --version: $out"
fi
# --version prints without a display too (a terminal over ssh).
if out=$(env -u DISPLAY -u WAYLAND_DISPLAY -u QT_QPA_PLATFORM "$ROOT/usr/bin/infomax-studio" --version 2>&1) &&
  grep -q "InfoMax Studio $VERSION" <<<"$out"; then
  ok "infomax-studio --version without a display"
else
  fail "infomax-studio --version without a display: $out"
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "package checks passed"
