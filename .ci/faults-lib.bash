# Functions shared by .ci/check-faults (containers) and
# .ci/check-process-faults (processes on loopback). Both inject faults into
# a running job and time detection and recovery from the coordinator's
# /status. Source this file, set STATUS_URL to the coordinator's HTTP base
# URL, and define fail MESSAGE, which must not return.

# JQ_TS defines the jq function ts, which turns a /status time such as
# 2026-12-04T15:30:54.123456789Z into seconds since the epoch. jq's own
# fromdateiso8601 rejects fractional seconds.
JQ_TS='def ts: sub("Z$"; "") | split(".") as $p
  | ($p[0] + "Z" | fromdateiso8601) + (if ($p | length) > 1 then ("0." + $p[1] | tonumber) else 0 end);'

# now prints the wall clock in seconds since the epoch, to the nanosecond.
now() { date +%s.%N; }

# since T prints the seconds from T to now, to the millisecond.
since() { jq -n --argjson t "$1" --argjson n "$(now)" '($n - $t) * 1000 | round / 1000'; }

# get_status stores the coordinator's /status in $status. It returns
# non-zero while the coordinator does not respond.
get_status() {
  status=$(curl -fsS --max-time 2 "$STATUS_URL/status" 2>/dev/null)
}

# wait_status SECONDS WHAT TEST [JQ_ARGS...] polls /status every 0.2 s until
# the jq expression TEST is true, and leaves that document in $status.
# JQ_ARGS, such as --arg name value, are passed to jq before TEST.
wait_status() {
  local seconds=$1 what=$2 test=$3
  shift 3
  local deadline=$((SECONDS + seconds))
  until get_status && jq -e "$@" "$test" <<<"$status" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      fail "no $what in /status after $seconds s"
    fi
    sleep 0.2
  done
}

# measure_worker_fault LABEL WORKER INJECTED GENERATION waits until the
# ring re-formed without WORKER in a generation above GENERATION and a
# step committed after that, then prints the times from INJECTED (seconds
# since the epoch, host clock). Detection is the earlier of two times: the
# first failure event after the injection (a step abandoned, a call that
# failed) and the new generation. The coordinator stamps both with the
# host's clock, which containers share. Recovery is when /status first
# showed the step.
# It sets fault_detected, fault_reformed and fault_recovered, in seconds.
measure_worker_fault() {
  local label=$1 worker=$2 injected=$3 generation=$4 recovered_at
  local reformed='[.generations[] | select(.generation > $g and (.workers | index($w) | not))] | first'
  wait_status 180 "ring without $worker after $label" \
    "($reformed) as \$v | \$v != null and .state == \"training\" and .step > \$v.step" \
    --argjson g "$generation" --arg w "$worker"
  recovered_at=$(now)
  local report
  report=$(jq -c --argjson g "$generation" --arg w "$worker" --argjson t0 "$injected" "$JQ_TS
    ($reformed) as \$v
    | ([.events[] | select((.time | ts) >= \$t0 and (.message | test(\"abandoned|failed\")))] | first) as \$e
    | {
        detected: ([(\$v.time | ts), ((\$e.time // \$v.time) | ts)] | min - \$t0),
        reformed: ((\$v.time | ts) - \$t0),
        generation: \$v.generation, workers: \$v.workers, reason: \$v.reason,
        first_event: (\$e.message // null)
      }" <<<"$status")
  fault_detected=$(jq '.detected * 1000 | round / 1000' <<<"$report")
  fault_reformed=$(jq '.reformed * 1000 | round / 1000' <<<"$report")
  fault_recovered=$(jq -n --argjson t "$injected" --argjson n "$recovered_at" '($n - $t) * 1000 | round / 1000')
  echo "$label: detected after ${fault_detected} s, ring re-formed after ${fault_reformed} s, first step committed after ${fault_recovered} s"
  jq -r '"  generation \(.generation): \(.workers | join(", ")); reason: \(.reason)"' <<<"$report"
  jq -r 'if .first_event then "  first failure event: \(.first_event)" else empty end' <<<"$report"
  jq -r '"  worker states: " + ([.workers[] | "\(.id) \(.state)"] | join(", "))' <<<"$status"
}

# wait_rejoin LABEL WORKER SINCE waits until the current generation
# contains WORKER again, prints the time from SINCE and sets rejoin_seconds
# to it.
wait_rejoin() {
  local label=$1 worker=$2 from=$3
  wait_status 180 "ring holding $worker again after $label" \
    '(.generations | last | .workers | index($w)) != null and .state == "training"' --arg w "$worker"
  rejoin_seconds=$(since "$from")
  echo "$label: $worker back in the ring after $rejoin_seconds s, generation $(jq .generation <<<"$status")"
}

# check_history FILE EPOCHS SAMPLES STEPS checks a final status document:
# state finished, each epoch listed once in order with SAMPLES samples, and
# STEPS committed steps.
check_history() {
  local file=$1 epochs=$2 samples=$3 steps=$4
  jq '{state, generation, step, fingerprint,
       history: [.history[] | {epoch, samples, failures, train_loss, test_accuracy, seconds}]}' "$file"
  jq -e '.state == "finished"' "$file" >/dev/null || fail "final state $(jq .state "$file"), want finished"
  jq -e --argjson n "$epochs" '[.history[].epoch] == [range(1; $n + 1)]' "$file" >/dev/null ||
    fail "history lists epochs $(jq -c '[.history[].epoch]' "$file"), want 1 to $epochs once each"
  jq -e --argjson s "$samples" 'all(.history[]; .samples == $s)' "$file" >/dev/null ||
    fail "epoch samples $(jq -c '[.history[].samples]' "$file"), want $samples each"
  jq -e --argjson s "$steps" '.step == $s' "$file" >/dev/null ||
    fail "step $(jq .step "$file"), want $steps: committed steps were lost or repeated"
}
