#!/usr/bin/env bash
# The reconciler GitHub Action (action.yml) as one script, so that it runs, and is tested,
# outside GitHub too. Inputs arrive as RECONCILER_* environment variables and are never pasted
# into script text, so a branch name or a path cannot inject shell commands.
#
# Writes to $GITHUB_OUTPUT (exit-code, has-changes, plan-json, plan-markdown, out-dir) and
# $GITHUB_STEP_SUMMARY when they are set. Exit: 0 ok, 1 failed (or drift found).
set -uo pipefail

command="${RECONCILER_COMMAND:-}"
shard="${RECONCILER_SHARD:-}"
out_dir="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/reconciler${shard:+-shard-${shard//\//-of-}}"
mkdir -p "$out_dir"
plan_json="$out_dir/plan.json"
plan_md="$out_dir/plan.md"
report="$out_dir/report.txt"

read -r -a paths <<< "${RECONCILER_PATHS:-}"
read -r -a extra <<< "${RECONCILER_ARGS:-}"
config=()
[[ -n "${RECONCILER_CONFIG:-}" ]] && config=(--config "$RECONCILER_CONFIG")
target=()
[[ -n "${RECONCILER_TARGET:-}" ]] && target=(--target "$RECONCILER_TARGET")

set_output() { if [[ -n "${GITHUB_OUTPUT:-}" ]]; then echo "$1=$2" >> "$GITHUB_OUTPUT"; fi; }
to_summary() { if [[ -n "${GITHUB_STEP_SUMMARY:-}" ]]; then cat >> "$GITHUB_STEP_SUMMARY"; fi; }

is_fork_pull_request() {
  [[ -n "${GITHUB_EVENT_PATH:-}" && -f "${GITHUB_EVENT_PATH}" ]] || return 1
  python - "$GITHUB_EVENT_PATH" <<'PY'
import json, sys
from reconciler.spec.cachekey import from_fork
event = json.load(open(sys.argv[1], encoding="utf-8"))
sys.exit(0 if "pull_request" in event and from_fork(event) else 1)
PY
}

post_comment() {
  [[ "${RECONCILER_COMMENT:-false}" == "true" && -s "$plan_md" ]] || return 0
  if is_fork_pull_request; then
    echo "::warning title=reconciler::pull request from a fork: its token cannot comment, the plan is in the job summary (see docs/ci.md)"
    return 0
  fi
  local marker=()
  [[ -n "${RECONCILER_COMMENT_MARKER:-}" ]] && marker=(--marker "$RECONCILER_COMMENT_MARKER")
  reconciler comment --body-file "$plan_md" "${marker[@]}"
}

# plan and drift share this: markdown to a file (and the log), JSON beside it.
run_plan() {
  local args=(plan "${paths[@]}" "${config[@]}" "${target[@]}" --format markdown
    --out "$plan_json" --detailed-exitcode)
  [[ -n "${RECONCILER_CHANGED_SINCE:-}" ]] && args+=(--changed-since "$RECONCILER_CHANGED_SINCE")
  [[ "${RECONCILER_OFFLINE:-false}" == "true" ]] && args+=(--offline)
  [[ -n "$shard" ]] && args+=(--shard "$shard")
  reconciler "${args[@]}" "${extra[@]}" > "$plan_md"
}

run_merge() {
  local files=()
  read -r -a files <<< "${RECONCILER_PLAN_FILES:-}"
  # Globs in plan-files expand here, relative to working-directory.
  local expanded=()
  local pattern
  for pattern in "${files[@]}"; do
    # shellcheck disable=SC2206
    local matches=($pattern)
    expanded+=("${matches[@]}")
  done
  reconciler plan-merge "${expanded[@]}" --format markdown --out "$plan_json" \
    --detailed-exitcode "${extra[@]}" > "$plan_md"
}

finish_plan() {
  local code=$1
  [[ -s "$plan_md" ]] && cat "$plan_md"
  [[ -s "$plan_md" ]] && to_summary < "$plan_md"
  set_output plan-json "$plan_json"
  set_output plan-markdown "$plan_md"
  set_output has-changes "$([[ $code -eq 2 ]] && echo true || echo false)"
  set_output exit-code "$code"
}

set_output out-dir "$out_dir"
case "$command" in
  validate)
    reconciler validate "${paths[@]}" "${config[@]}" "${extra[@]}"
    code=$?
    set_output exit-code "$code"
    exit "$code"
    ;;
  plan | merge)
    if [[ "$command" == "plan" ]]; then run_plan; else run_merge; fi
    code=$?
    finish_plan "$code"
    post_comment || exit 1
    [[ $code -eq 1 ]] && exit 1
    exit 0
    ;;
  drift)
    RECONCILER_CHANGED_SINCE="" RECONCILER_OFFLINE=false run_plan
    code=$?
    finish_plan "$code"
    if [[ $code -eq 2 ]]; then
      echo "::error title=Drift detected::Zelto differs from the specs in git; the plan in the job summary shows how. Apply the specs, or change them to match."
      exit 1
    fi
    exit "$code"
    ;;
  apply)
    args=(apply "${paths[@]}" "${config[@]}" "${target[@]}" --auto-approve)
    [[ -n "${RECONCILER_PLAN_FILE:-}" ]] && args+=(--plan "$RECONCILER_PLAN_FILE")
    [[ -n "$shard" ]] && args+=(--shard "$shard")
    reconciler "${args[@]}" "${extra[@]}" 2>&1 | tee "$report"
    code=${PIPESTATUS[0]}
    { echo "### reconciler apply${shard:+ (shard $shard)}: exit $code"; echo; echo '```text'; cat "$report"; echo '```'; } | to_summary
    set_output exit-code "$code"
    exit "$code"
    ;;
  *)
    echo "::error title=reconciler::input 'command' must be one of validate, plan, merge, apply, drift (got '$command')"
    exit 1
    ;;
esac
