# free_port NAME LO1 HI1 LO2 HI2 prints the first loopback port of the two
# ranges that nothing listens on (sourced by scripts/postgres.sh and
# scripts/versitygw.sh).
free_port() {
  local name=$1 p
  for p in $(seq "$2" "$3") $(seq "$4" "$5"); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
  echo "$name: no free port in $2-$3 or $4-$5" >&2
  exit 1
}
