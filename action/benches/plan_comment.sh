#!/usr/bin/env bash
# Benchmark of `ferry plan-comment`: a ~6 MB plan with about 5,000 resource
# changes, made by the real `terraform` binary from `terraform_data`
# resources (offline), then parsed and rendered by the release binary.
# Targets: under 1 s wall time, peak memory under 4x the plan file size.
#
# Usage: bash action/benches/plan_comment.sh   (from the repository root)
# Needs: terraform (1.11.4 here), /usr/bin/time. The generated plan is cached
# in $CARGO_TARGET_DIR/bench-plan (or target/bench-plan).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
work=$target/bench-plan
command -v terraform >/dev/null || { echo "terraform is not on PATH: install Terraform 1.11.4" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time is missing: apt-get install -y time" >&2; exit 1; }

cargo build --release -p ferry --manifest-path "$root/Cargo.toml" >&2
ferry=$target/release/ferry

if [ ! -s "$work/plan.json" ]; then
  rm -rf "$work" && mkdir -p "$work" && cd "$work"
  : > empty.tfrc
  export TF_CLI_CONFIG_FILE=$work/empty.tfrc TF_IN_AUTOMATION=1
  # First state: 2,600 objects.
  cat > main.tf <<'TF'
locals { pad = join("", [for i in range(1) : "abcdefghij"]) }
resource "terraform_data" "svc" {
  count = 2600
  input = { name = "service-${count.index}", version = "v1", note = local.pad, ports = [80, 443] }
}
TF
  terraform init -input=false -no-color >/dev/null
  terraform apply -auto-approve -input=false -no-color -parallelism=50 >/dev/null
  # Second plan: 8 destroys (count 2600 -> 2592), ~2,592 updates, 2,400 creates.
  cat > main.tf <<'TF'
locals { pad = join("", [for i in range(1) : "abcdefghij"]) }
resource "terraform_data" "svc" {
  count = 2592
  input = { name = "service-${count.index}", version = "v2", note = local.pad, ports = [80, 443, 8080] }
}
resource "terraform_data" "extra" {
  count = 2400
  input = { name = "extra-${count.index}", note = local.pad }
}
TF
  terraform plan -input=false -no-color -out=tfplan -parallelism=50 | grep '^Plan:' > plan-line.txt
  terraform show -json tfplan > plan.json
fi

size=$(stat -c %s "$work/plan.json")
echo "plan: $work/plan.json, $size bytes; terraform said: $(cat "$work/plan-line.txt")"
best=""
for run in 1 2 3; do
  /usr/bin/time -f "%e %M" -o "$work/time.txt" "$ferry" plan-comment --env bench --plan "$work/plan.json" --dry-run > "$work/comment.md"
  read -r secs kib < "$work/time.txt"
  echo "run $run: ${secs} s, peak RSS ${kib} KiB"
  # Best time (the machine may be shared), worst memory.
  best=$(awk -v a="${best:-999}" -v b="$secs" 'BEGIN { print (b < a ? b : a) }')
  peak=$(awk -v a="${peak:-0}" -v b="$kib" 'BEGIN { print (b > a ? b : a) }')
done
chars=$(wc -m < "$work/comment.md")
grep -m1 '^\*\*Plan:' "$work/comment.md"
ratio=$(awk -v k="$peak" -v s="$size" 'BEGIN { printf "%.2f", k * 1024 / s }')
echo "best time ${best} s; comment: $chars characters; peak memory / plan size = $ratio (load: $(cut -d' ' -f1-3 /proc/loadavg))"
awk -v t="$best" -v r="$ratio" 'BEGIN { exit !(t < 1.0 && r < 4.0) }' && echo "PASS: < 1 s and < 4x" || { echo "FAIL: targets are < 1 s and < 4x"; exit 1; }
