#!/usr/bin/env bash
# Refresh the translation catalogs of the web UI.
#
#   1. Extract every translatable string (`_`, `gettext`, `ngettext`, `N_`) from the Python sources
#      and the Jinja2 templates under src/tradeloop into src/tradeloop/locale/messages.pot, using
#      the extraction map in babel.cfg.
#   2. Merge the template into src/tradeloop/locale/<locale>/LC_MESSAGES/messages.po for zh_CN and
#      en (`pybabel update`, or `pybabel init` when a catalog does not exist yet). New strings get
#      an empty msgstr; strings that disappeared from the sources are dropped. No fuzzy guessing.
#
# Then translate the new (empty) entries of the zh_CN catalog; the en catalog may stay empty since
# the message ids are English. No .mo files are built: kit/i18n.py compiles the .po in memory.
# tests/test_i18n.py fails while any zh_CN entry is missing, fuzzy or has mismatched placeholders.
#
# Label tables whose values are only translated at display time (kit/templating.py, shell/nav.py)
# mark their values with N_(...), Babel's default keyword, so that extraction sees them.
#
# Usage: scripts/i18n.sh        (needs the project installed: pip install -e '.[test]')
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

LOCALE_DIR=src/tradeloop/locale
POT="$LOCALE_DIR/messages.pot"
mkdir -p "$LOCALE_DIR"
LOCALES=(zh_CN en)

pybabel -q extract -F babel.cfg -k N_ -c TRANSLATORS: --sort-by-file \
  --project tradeloop --version "$(python -c 'import importlib.metadata as m; print(m.version("tradeloop"))')" \
  -o "$POT" src/tradeloop

for loc in "${LOCALES[@]}"; do
  po="$LOCALE_DIR/$loc/LC_MESSAGES/messages.po"
  if [[ -f "$po" ]]; then
    pybabel -q update -i "$POT" -d "$LOCALE_DIR" -l "$loc" --no-fuzzy-matching --ignore-obsolete
  else
    pybabel -q init -i "$POT" -d "$LOCALE_DIR" -l "$loc"
  fi
done

echo "catalogs updated; untranslated zh_CN entries:"
python - "$LOCALE_DIR/zh_CN/LC_MESSAGES/messages.po" <<'PY'
import sys
from babel.messages.pofile import read_po
with open(sys.argv[1], "rb") as fh:
    cat = read_po(fh)
strings = lambda m: m.string if isinstance(m.string, tuple) else (m.string,)
missing = [m.id for m in cat if m.id and (m.fuzzy or not all(strings(m)))]
for mid in missing:
    print("  ", mid if isinstance(mid, str) else mid[0])
print(f"  {len(missing)} of {sum(1 for m in cat if m.id)}")
PY
