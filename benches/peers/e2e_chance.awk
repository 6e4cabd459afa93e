# How much of "rfc6455 / best peer" (best rounds) is chance: e2e.sh's raw log cut into blocks of
# BLOCK rounds (what one default run measures), and for every server the number of blocks in
# which its best round reached the best round of every peer in the block. A table from the raw
# log (lines "NAME round=R RESULT conns=C size=S ... msgs_per_s=N ..."):
#
#   awk -v names="rfc6455 tokio-tungstenite ... control minimal" -v block=5 \
#       -f e2e_log.awk -f e2e_chance.awk target/peers-e2e.log
#
# The peers are the names other than rfc6455, control and minimal. rfc6455's cell is the test
# of the end-to-end target ("at least the best peer"); a peer's cell is the same test with
# rfc6455 among the others; the control (rfc6455 again) and the minimal server (no WebSocket
# library, about the least an echo can cost) are tested against the peers only and say what
# the test gives by chance: if servers that all do the same work passed it in about one block
# of every (peers + 1), and a server doing no WebSocket work passed it in few more, then the
# test measures the machine's spread rather than the servers. Only blocks in which every
# server of the row has every round are counted (a failed run leaves its block out).

BEGIN {
  n = split(names, NAME, " ")
  if (block < 1) block = 5
}

function is_peer(name) {
  return name != "rfc6455" && name != "control" && name != "minimal"
}

END {
  head = "| C | size | blocks |"
  rule = "|---|---|---:|"
  for (i = 1; i <= n; i++) {
    head = head " " NAME[i] " |"
    rule = rule "---:|"
  }
  print head
  print rule
  for (k = 1; k <= rows; k++) {
    row = ROWS[k]
    split(row, cs, ":")
    blocks = 0
    for (i = 1; i <= n; i++) PASS[NAME[i]] = 0
    for (b = 0; (b + 1) * block <= MAXR[row]; b++) {
      complete = 1
      for (i = 1; i <= n && complete; i++) {
        BEST[NAME[i]] = 0
        for (r = b * block; r < (b + 1) * block; r++) {
          if (!((row, NAME[i], r) in RATE)) { complete = 0; break }
          if (RATE[row, NAME[i], r] + 0 > BEST[NAME[i]]) BEST[NAME[i]] = RATE[row, NAME[i], r] + 0
        }
      }
      if (!complete) continue
      blocks++
      for (i = 1; i <= n; i++) {
        me = NAME[i]
        passed = 1
        for (j = 1; j <= n; j++) {
          other = NAME[j]
          if (other == me) continue
          # Against the peers, and for a peer also against rfc6455.
          if (!(is_peer(other) || (other == "rfc6455" && is_peer(me)))) continue
          if (BEST[other] > BEST[me]) { passed = 0; break }
        }
        PASS[me] += passed
      }
    }
    line = "| " cs[1] " | " human(cs[2]) " | " blocks " |"
    for (i = 1; i <= n; i++) line = line " " (blocks ? PASS[NAME[i]] : "-") " |"
    print line
  }
}
