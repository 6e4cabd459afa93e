# e2e.sh's raw log, read for e2e_paired.awk and e2e_chance.awk (given first: awk -f e2e_log.awk
# -f e2e_paired.awk LOG). Every line "NAME round=R RESULT conns=C size=S ... msgs_per_s=N ..."
# of a run that made messages becomes RATE[row, name, round] (row "C:S"); ROWS[1..rows] are the
# rows in the order first seen, MAXR[row] one more than their highest round.

$3 == "RESULT" {
  name = $1
  round = $2
  sub(/^round=/, "", round)
  conns = size = rate = ""
  for (f = 4; f <= NF; f++) {
    split($f, kv, "=")
    if (kv[1] == "conns") conns = kv[2]
    else if (kv[1] == "size") size = kv[2]
    else if (kv[1] == "msgs_per_s") rate = kv[2]
  }
  if (conns == "" || rate == "" || rate + 0 <= 0) next # a failed run
  row = conns ":" size
  if (!(row in SEEN)) {
    SEEN[row] = 1
    ROWS[++rows] = row
  }
  RATE[row, name, round] = rate
  if (round + 1 > MAXR[row]) MAXR[row] = round + 1
}

function human(bytes) {
  return bytes >= 1024 ? int(bytes / 1024) " KiB" : bytes " B"
}
