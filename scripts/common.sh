# Sourced by demo.sh and test.sh: go to the repo root, install what is
# missing, put cargo on PATH, and define `step` for section headers.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
step() { printf '\n==> %s\n' "$*" >&2; }
