# bench/engine_lib.sh — sourced by the engine's benchmark scripts: the venue
# they all run, and waiting for an engine to listen.

# bench_engine_config DIR [LINE...]: writes DIR/engine.cfg, a venue of 4
# instruments and 20 users journaling under DIR, plus the given lines (each
# printed with printf %b, so "a\nb" is two lines).
bench_engine_config() {
  local dir=$1 line
  shift
  {
    echo "listen 127.0.0.1:0"
    echo "journal_dir $dir/journal"
    echo "itch_out $dir/md.itch"
    for line in "$@"; do printf '%b\n' "$line"; done
    for s in AAPL MSFT AMZN NVDA; do echo "instrument $s"; done
    for u in $(seq 0 19); do echo "user u$u password=p$u"; done
  } >"$dir/engine.cfg"
}

# bench_engine_wait DIR: waits up to 20 s for the engine started on DIR to
# write its port file; false (after printing its log) if it did not.
bench_engine_wait() {
  local dir=$1
  for _ in $(seq 1 400); do [ -f "$dir/port" ] && return 0; sleep 0.05; done
  echo "nexus-engine did not start; its log:" >&2
  cat "$dir/engine.log" >&2
  return 1
}
