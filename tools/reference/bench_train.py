"""PyTorch eager training anchor for `./loupe bench train`.

    /usr/bin/python3 tools/reference/bench_train.py --config '{"n_layer":2,"n_head":4,"n_embd":128,
        "n_positions":256,"vocab_size":50257}' --batch 8 --seq 128 --steps 20 --seed 0

--config: JSON text or a path to a JSON file (HF config.json names; n_inner null/absent = 4·n_embd;
          attn_only optional).
Model: GPT-2 init (matrices N(0, 0.02), output projections 0.02/sqrt(2·n_layer), LayerNorm w=1 b=0,
       biases 0), seeded. Data: uniform random tokens, a fresh [B, T] batch per step, seeded.
Optimiser: AdamW lr 1e-3, betas (0.9, 0.95), eps 1e-8, weight decay 0.1 on matrices (embeddings
       included) and none on biases and LayerNorm weights; gradient-norm clipping at 1.0.
Timing: the first min(2, steps-1) steps are warm-up and not timed; all steps train.
Prints one JSON line.
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
    ap = argparse.ArgumentParser(description="PyTorch eager training benchmark (Loupe anchor)")
    ap.add_argument("--config", required=True)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    text = args.config
    if os.path.exists(text):
        with open(text) as f:
            text = f.read()
    cfg = ref.Config.from_dict(json.loads(text))
    if args.steps < 1:
        sys.exit("--steps must be >= 1")
    if args.seq > cfg.n_positions:
        sys.exit(f"--seq {args.seq} > n_positions {cfg.n_positions}")

    init = ref.init_weights(cfg, args.seed, std=0.02, ln_noise=0.0, bias_std=0.0)
    params = {k: torch.nn.Parameter(v.clone()) for k, v in init.items()}
    decay = [p for p in params.values() if p.dim() >= 2]
    no_decay = [p for p in params.values() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.95), eps=1e-8)
    g = torch.Generator().manual_seed(args.seed + 1)
    warm = min(2, max(args.steps - 1, 0))
    losses = []
    t0 = None
    for step in range(args.steps):
        if step == warm:
            t0 = time.perf_counter()
        ids = torch.randint(0, cfg.vocab_size, (args.batch, args.seq), generator=g, dtype=torch.int64)
        logits = ref.forward(params, cfg, ids)
        loss = ref.metric("loss", logits, ids)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(params.values()), 1.0)
        opt.step()
        losses.append(loss.item())
    dt = time.perf_counter() - t0
    timed = args.steps - warm
    n_params = sum(p.numel() for p in params.values())
    print(json.dumps({"engine": "torch", "batch": args.batch, "seq": args.seq, "steps": args.steps,
                      "timed_steps": timed, "seconds_per_step": dt / timed,
                      "tokens_per_s": args.batch * args.seq * timed / dt,
                      "initial_loss": losses[0], "final_loss": losses[-1],
                      "params": n_params, "threads": args.threads, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
