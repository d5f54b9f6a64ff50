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
