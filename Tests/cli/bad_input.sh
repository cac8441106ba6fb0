#!/bin/sh
# Bad command lines get a clear error and a non-zero exit (1, or 64 for usage errors), never a crash (a trap is
# status 132/133/134, a segfault 139).  usage: Tests/cli/bad_input.sh path/to/gradus
set -u
GRADUS=${1:?usage: bad_input.sh path/to/gradus}
export SWIFT_BACKTRACE=enable=no
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
failures=0

# expect STATUS SUBSTRING ARGS...: runs gradus ARGS, checks the exit status and that the output names the problem
expect() {
    want=$1; text=$2; shift 2
    out=$(cd "$WORK" && "$GRADUS" "$@" 2>&1); got=$?
    if [ "$got" -ne "$want" ]; then
        echo "FAIL: gradus $*: exit $got, expected $want"; echo "$out" | tail -3; failures=$((failures + 1))
    elif ! printf '%s' "$out" | grep -qF -- "$text"; then
        echo "FAIL: gradus $*: output lacks '$text'"; echo "$out" | tail -3; failures=$((failures + 1))
    else
        echo "ok: gradus $* -> $got"
    fi
}

T="train --dataset moons --epochs 1 --limit 64 --plot $WORK/loss.svg"
expect 1 "more than the machine's" $T --hidden 99999999999
expect 1 "more than the machine's" $T --hidden 9223372036854775807,1
expect 1 "must be positive integers" $T --hidden 4,x
expect 64 "--batch-size must be at least 1" $T --batch-size 0
expect 64 "--epochs must be at least 1" $T --epochs 0
expect 1 "unknown dataset" train --dataset nope
expect 1 "unknown activation" $T --activation nope
expect 1 "group" $T --hidden 6 --quant int4 --group-size 4
expect 1 "int9" $T --quant int9
expect 1 "scale must be in (0, 100]" repro grokking --scale nan
expect 1 "scale must be in (0, 100]" repro grokking --scale 0
expect 1 "unknown reproduction" repro nope
expect 1 "unknown arm 'nope' of 'grokking'" repro grokking --arm nope
expect 1 "has no arms to select" repro ghost-bn --arm stablemax
expect 1 "--repeats must be at least 1" bench --repeats 0
expect 1 "unknown section 'nope'" bench --only nope
expect 1 "cannot open" conformance "$WORK/missing.json"
printf 'not json' > "$WORK/garbage.json"
expect 1 "JSON" conformance "$WORK/garbage.json"
expect 64 "--steps must be at least 1" diffusion train --steps 0
expect 1 "cannot open" diffusion sample --model "$WORK/missing.safetensors"
head -c 4096 /dev/urandom > "$WORK/garbage.safetensors"
expect 1 "garbage.safetensors" diffusion sample --model "$WORK/garbage.safetensors"
expect 0 "wrote" diffusion train --steps 2 --hidden 8 --depth 1 --out "$WORK/tiny.safetensors"
expect 1 "more than half the machine's" diffusion sample --model "$WORK/tiny.safetensors" --per-class 100000000000
expect 1 "outside" diffusion sample --model "$WORK/tiny.safetensors" --class-label 99

if [ "$failures" -ne 0 ]; then echo "bad_input.sh: $failures failed"; exit 1; fi
echo "bad_input.sh: all passed"
