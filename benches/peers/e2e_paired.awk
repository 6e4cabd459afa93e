# rfc6455 against every other server of e2e.sh, round by round: a markdown table from e2e.sh's
# raw log (lines "NAME round=R RESULT conns=C size=S ... msgs_per_s=N ...").
#
#   awk -v names="rfc6455 tokio-tungstenite ... control minimal" -f e2e_log.awk \
#       -f e2e_paired.awk target/peers-e2e.log
#
# Every round runs each server once, back to back, so a round's ratio rfc6455 / server
# compares two runs under the same machine load; what the machine does between rounds cancels.
# A cell is the geometric mean of those ratios over the rounds, with its standard error
# (the standard deviation of the log ratios over the square root of the rounds, scaled to the
# ratio). The last column compares rfc6455 with the peers (never the control, which is
# rfc6455 itself, nor the minimal server, which is no WebSocket library), a ratio counting as
# above or below 1 when more than two standard errors from it: "behind P" when some peer is
# ahead (P the one with the lowest ratio among them), "ahead of every peer" when rfc6455 is
# ahead of all of them (naming the closest), and otherwise "tie with P", P the lowest ratio
# among the peers it is not ahead of ("ahead of every peer measured" when the only peers left
# had too few rounds to compare). Five peers tested at two standard errors make a false
# "behind" more likely than a false "ahead": the verdict leans against rfc6455.

BEGIN {
  n = split(names, NAME, " ")
}

END {
  head = "| C | size |"
  rule = "|---|---|"
  for (i = 1; i <= n; i++) {
    if (NAME[i] == "rfc6455") continue
    head = head " " NAME[i] " |"
    rule = rule "---:|"
  }
  print head " rfc6455 against the peers |"
  print rule "---|"
  for (k = 1; k <= rows; k++) {
    row = ROWS[k]
    split(row, cs, ":")
    line = "| " cs[1] " | " human(cs[2]) " |"
    behind = ""; tie = ""; closest = ""; ahead_all = 1
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
        # Too few rounds with both servers: no ratio, and no claim to be ahead of every peer.
        line = line " - |"
        if (peer != "control" && peer != "minimal") ahead_all = 0
        continue
      }
      ratio = exp(m)
      se = ratio * sqrt(s / (c - 1) / c)
      line = line sprintf(" %.2fx ±%.2f |", ratio, se)
      if (peer == "control" || peer == "minimal") continue
      if (closest == "" || ratio < closest_ratio) { closest = peer; closest_ratio = ratio }
      if (ratio + 2 * se < 1 && (behind == "" || ratio < behind_ratio)) {
        behind = peer
        behind_ratio = ratio
      }
      if (ratio - 2 * se <= 1) {
        ahead_all = 0
        if (tie == "" || ratio < tie_ratio) { tie = peer; tie_ratio = ratio }
      }
    }
    if (closest == "") verdict = "-"
    else if (behind != "") verdict = "behind " behind
    else if (ahead_all) verdict = "ahead of every peer (closest: " closest ")"
    else if (tie != "") verdict = "tie with " tie
    else verdict = "ahead of every peer measured (some had too few rounds)"
    print line " " verdict " |"
  }
}
