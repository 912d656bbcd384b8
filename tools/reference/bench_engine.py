"""PyTorch eager anchor for `./loupe bench engine`.

    /usr/bin/python3 tools/reference/bench_engine.py --weights FILE.safetensors \
        --batch B --seq T --reps N --mode cache|plain

Loads the weights (any stored dtype → float32; config from the file's `config` metadata,
else inferred from shapes, n_head from --n-head or the GPT-2 family sizes), draws random
tokens with a fixed seed, warms up, times N forward passes under torch.no_grad() on 2 threads
and prints one JSON line.
mode plain: logits only (fused attention output z·W_O).
mode cache: every hook of the model kept and returned, like a run-with-cache (including the
            per-head attn.hook_result [b,p,h,d_model]).
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt2_reference as ref  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description="PyTorch eager forward benchmark (Loupe anchor)")
    ap.add_argument("--weights", required=True)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--mode", choices=["cache", "plain"], default="plain")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--n-head", type=int, default=None, help="when the file has no config metadata")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    cfg, weights, _ = ref.load_model(args.weights, n_head=args.n_head, dtype=torch.float32)
    if args.seq > cfg.n_positions:
        sys.exit(f"--seq {args.seq} > n_positions {cfg.n_positions}")
    g = torch.Generator().manual_seed(args.seed)
    ids = torch.randint(0, cfg.vocab_size, (args.batch, args.seq), generator=g, dtype=torch.int64)

    def run_once():
        if args.mode == "cache":
            rec = ref.Hooks(record=True)
            logits = ref.forward(weights, cfg, ids, rec)
            return logits, rec.cache
        return ref.forward(weights, cfg, ids), None

    with torch.no_grad():
        for _ in range(args.warmup):
            run_once()
        t0 = time.perf_counter()
        for _ in range(args.reps):
            out = run_once()
            del out
        dt = time.perf_counter() - t0

    spr = dt / args.reps
    print(json.dumps({"engine": "torch", "mode": args.mode, "batch": args.batch, "seq": args.seq,
                      "seconds_per_run": spr, "tokens_per_s": args.batch * args.seq / spr,
                      "reps": args.reps, "threads": args.threads, "torch": torch.__version__,
                      "n_layer": cfg.n_layer, "n_embd": cfg.n_embd, "vocab_size": cfg.vocab_size}))


if __name__ == "__main__":
    main()
