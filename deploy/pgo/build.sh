#!/bin/sh
# The release build to deploy, optimised with the profile of production-like traffic (PGO):
#   1. build firebreak instrumented (-Cprofile-generate) into target/pgo/gen;
#   2. run it under deploy/pgo/train.py (plain, TLS and HTTP/2 traffic, failures, reloads,
#      maintenance, shedding), which must pass; firebreak writes its profile as it exits;
#   3. merge the profile with the toolchain's llvm-profdata (rustup's llvm-tools component);
#   4. build firebreak with it (-Cprofile-use) into target/pgo/use.
# Prints the optimised binary's path, and only that, on stdout; all else goes to stderr.
# Takes about 12 minutes on 2 cores (two fat-LTO builds). Needs what `make demo` needs, plus
# python3, openssl and curl (for HTTP/2) for the training run, which benches/lib/require.sh
# installs with apt-get when they are missing (as root).
#
#   deploy/pgo/build.sh                 # 60 s of training
#   PGO_TRAIN_SECONDS=120 deploy/pgo/build.sh
set -eu
exec 3>&1 1>&2
cd "$(dirname "$0")/../.."
root=$(pwd)
out="$root/target/pgo"

./.ci/deps
benches/lib/require.sh --hint "for the PGO training run" python3 openssl curl
profdata=$(find "$(rustc --print sysroot)" -name llvm-profdata -type f 2>/dev/null | head -n 1)
if [ -z "$profdata" ]; then
    rustup component add llvm-tools || rustup component add llvm-tools-preview
    profdata=$(find "$(rustc --print sysroot)" -name llvm-profdata -type f | head -n 1)
fi
[ -n "$profdata" ] || { echo "pgo: no llvm-profdata in the toolchain"; exit 1; }

rm -rf "$out/raw" "$out"/firebreak-*.profdata
echo "pgo: 1/4 instrumented build"
RUSTFLAGS="-Cprofile-generate=$out/raw" \
    cargo build --release --locked --target-dir "$out/gen" --bin firebreak
echo "pgo: 2/4 training"
python3 deploy/pgo/train.py --bin "$out/gen/release/firebreak" --seconds "${PGO_TRAIN_SECONDS:-60}"
echo "pgo: 3/4 merging the profile"
"$profdata" merge -o "$out/merged.profdata" "$out/raw"
# Named by its content: cargo does not track the file a flag names, only the flags, so a new
# profile under the old name would leave every crate built with the old one.
sum=$(sha256sum "$out/merged.profdata" | cut -c1-16)
mv "$out/merged.profdata" "$out/firebreak-$sum.profdata"
echo "pgo: 4/4 optimised build"
RUSTFLAGS="-Cprofile-use=$out/firebreak-$sum.profdata" \
    cargo build --release --locked --target-dir "$out/use" --bin firebreak
echo "$out/use/release/firebreak" >&3
