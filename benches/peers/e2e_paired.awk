# rfc6455 against every other server of e2e.sh, round by round: a markdown table from e2e.sh's
# raw log (lines "NAME round=R RESULT conns=C size=S ... msgs_per_s=N ...").
#
#   awk -v names="rfc6455 tokio-tungstenite ... control" -f e2e_paired.awk target/peers-e2e.log
#
# Every round runs each server once, back to back, so a round's ratio rfc6455 / server
# compares two runs under the same machine load; what the machine does between rounds cancels.
# A cell is the geometric mean of those ratios over the rounds, with its standard error
# (the standard deviation of the log ratios over the square root of the rounds, scaled to the
# ratio). The last column takes the peer with the lowest ratio (never the control, which is
# rfc6455 itself) and calls rfc6455 ahead of it or behind it when the ratio is more than two
# standard errors from 1, and a tie otherwise.

BEGIN {
  n = split(names, NAME, " ")
}

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

END {
  head = "| C | size |"
  rule = "|---|---|"
  for (i = 1; i <= n; i++) {
    if (NAME[i] == "rfc6455") continue
    head = head " " NAME[i] " |"
    rule = rule "---:|"
  }
  print head " strongest peer |"
  print rule "---|"
  for (k = 1; k <= rows; k++) {
    row = ROWS[k]
    split(row, cs, ":")
    line = "| " cs[1] " | " human(cs[2]) " |"
    worst = ""
    for (i = 1; i <= n; i++) {
      peer = NAME[i]
      if (peer == "rfc6455") continue
      m = 0; s = 0; c = 0
      for (r = 0; r < MAXR[row]; r++) {
        if (((row, "rfc6455", r) in RATE) && ((row, peer, r) in RATE)) {
          x = log(RATE[row, "rfc6455", r] / RATE[row, peer, r])
          c++
          d = x - m
          m += d / c
          s += d * (x - m)
        }
      }
      if (c < 2) {
        line = line " - |"
        continue
      }
      ratio = exp(m)
      se = ratio * sqrt(s / (c - 1) / c)
      line = line sprintf(" %.2fx ±%.2f |", ratio, se)
      if (peer != "control" && (worst == "" || ratio < worst_ratio)) {
        worst = peer
        worst_ratio = ratio
        worst_se = se
      }
    }
    if (worst == "") verdict = "-"
    else if (worst_ratio - 2 * worst_se > 1) verdict = "ahead of " worst
    else if (worst_ratio + 2 * worst_se < 1) verdict = "behind " worst
    else verdict = "tie with " worst
    print line " " verdict " |"
  }
}
