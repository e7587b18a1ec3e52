#!/usr/bin/env bash
# Read the reports as leaders do: the daily brief, the shift handover (with --shift-from) and an incident's 专报
# written as Word files, converted by LibreOffice to PDF, each page to a PNG to look at.
#
#   scripts/report_pdf.sh [--database URL] [--config DIR] [--date YYYY-MM-DD]
#                         [--shift-from 'YYYY-MM-DD HH:MM' [--shift-to ...]] [--incident N]
#                         [--out DIR]
#
# Needs libreoffice (Debian: apt-get install libreoffice-writer-nogui) and pdftoppm
# (poppler-utils). Prints each PDF's page count and where the page images are. Not part of
# the tests: converting takes LibreOffice ~10-20 s per file.
set -euo pipefail
cd "$(dirname "$0")/.."

database="" config="" day="" incident="" out="report-pages" shift_from="" shift_to=""
while [ $# -gt 0 ]; do
  case "$1" in
    --database) database="$2"; shift 2 ;;
    --config) config="$2"; shift 2 ;;
    --date) day="$2"; shift 2 ;;
    --incident) incident="$2"; shift 2 ;;
    --shift-from) shift_from="$2"; shift 2 ;;
    --shift-to) shift_to="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "report_pdf.sh: unknown argument $1 (see the usage at the top of $0)" >&2; exit 2 ;;
  esac
done
for tool in soffice pdftoppm; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "report_pdf.sh: $tool not found (fix, as root: apt-get install libreoffice-writer-nogui poppler-utils)" >&2
    exit 2; }
done

jingyu=.venv/bin/jingyu
common=()
[ -n "$database" ] && common+=(--database "$database")
[ -n "$config" ] && common+=(--config "$config")
mkdir -p "$out"
"$jingyu" report daily ${day:+--date "$day"} "${common[@]}" -o "$out/brief.docx"
[ -n "$shift_from" ] && "$jingyu" report handover --from "$shift_from" ${shift_to:+--to "$shift_to"} \
  "${common[@]}" -o "$out/handover.docx"
[ -n "$incident" ] && "$jingyu" report incident "$incident" "${common[@]}" -o "$out/incident-$incident.docx"

# A profile of its own: a LibreOffice already running (or another user's) is left alone.
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
for docx in "$out"/*.docx; do
  soffice -env:UserInstallation="file://$profile" --headless --convert-to pdf \
    --outdir "$out" "$docx" >/dev/null
  pdf="${docx%.docx}.pdf"
  pdftoppm -r 70 -png "$pdf" "${docx%.docx}-page"
  pages=$(ls "${docx%.docx}"-page-*.png | wc -l)
  echo "$pdf: $pages pages (${docx%.docx}-page-*.png)"
done
