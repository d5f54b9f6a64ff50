# Shared by the scripts (sourced, not run).

# Reads one string field of a JSON line printed by the CLI: json_field NAME "$line".
json_field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" <<<"$2"; }

# Waits for a process to print its "listening on URL" line to FILE; prints the URL.
# listening_url FILE PID [LOG]: LOG (default FILE) is shown if the process dies.
listening_url() {
  local file=$1 pid=$2 log=${3:-$1} url
  for _ in $(seq 600); do
    url=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$file" | head -1)
    [ -n "$url" ] && { echo "$url"; return 0; }
    kill -0 "$pid" 2>/dev/null || { echo "process $pid died:" >&2; cat "$log" >&2; return 1; }
    sleep 0.1
  done
  echo "timed out waiting for $file" >&2
  return 1
}

# optimise_wasm WASM [GLUE FILE…]: the pinned wasm-opt on WASM in place: -Oz, repeated
# until nothing shrinks; the module's memory is its own (zero-filled, nothing below
# address 1024), which lets wasm-opt drop stores of zeros and fold low addresses;
# the producers section names the toolchain only (the target_features section
# stays: wasm-opt reads the features from it). With GLUE, the names only the web
# glue and the wasm share are then made short in both (and in each FILE, the .d.ts).
optimise_wasm() {
  local wasm=$1; shift
  wasm-opt -Oz --converge --zero-filled-memory --low-memory-unused --strip-producers "$wasm" -o "$wasm"
  if [ $# -gt 0 ]; then node scripts/short-wasm-names.mjs "$wasm" "$@"; fi
}
