"""PyTorch anchor for `./loupe bench neurons`: Neuroscope's scan.

    /usr/bin/python3 tools/reference/bench_neurons.py --input IN.safetensors --out OUT.safetensors --threads 2

IN holds the model's weights (GPT-2 names, config in the `config` metadata), `c.windows` [W, T] (token ids as
floats, every window starting with BOS) and metadata `top` (k) and `batch`. The scan runs the windows in batches
under torch.no_grad(), stops after the last MLP, and keeps a running top-k of every neuron's activation over all
positions but BOS (torch.topk over the running values and the batch's). OUT: `c.top` [k, neurons] (neuron
g = layer * d_mlp + n) and metadata `scan_s` (the scan's time after a one-batch warm-up) and `tokens`.
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt2_reference as ref  # noqa: E402
import safetensors_io  # noqa: E402


def mlp_posts(W, cfg, ids):
    """mlp.hook_post of every layer [b, p, d_mlp], the forward stopping after the last MLP."""
    bsz, T = ids.shape
    d, nh, dh, eps = cfg.n_embd, cfg.n_head, cfg.d_head, cfg.layer_norm_epsilon
    resid = W["wte.weight"][ids] + W["wpe.weight"][:T].unsqueeze(0)
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    neg_inf = torch.tensor(float("-inf"))
    H = ref._no_hook
    posts = []
    for l in range(cfg.n_layer):
        p = f"h.{l}."
        x = ref.layer_norm(resid, W[p + "ln_1.weight"], W[p + "ln_1.bias"], eps, "", H)
        q, k, v = (x @ W[p + "attn.c_attn.weight"] + W[p + "attn.c_attn.bias"]).split(d, dim=-1)
        q, k, v = (t.reshape(bsz, T, nh, dh) for t in (q, k, v))
        scores = torch.where(causal, torch.einsum("bqhe,bkhe->bhqk", q, k) / (dh ** 0.5), neg_inf)
        z = torch.einsum("bhqk,bkhe->bqhe", torch.softmax(scores, dim=-1), v)
        resid = resid + z.reshape(bsz, T, d) @ W[p + "attn.c_proj.weight"] + W[p + "attn.c_proj.bias"]
        x = ref.layer_norm(resid, W[p + "ln_2.weight"], W[p + "ln_2.bias"], eps, "", H)
        post = ref.gelu_new(x @ W[p + "mlp.c_fc.weight"] + W[p + "mlp.c_fc.bias"])
        posts.append(post)
        if l < cfg.n_layer - 1:
            resid = resid + post @ W[p + "mlp.c_proj.weight"] + W[p + "mlp.c_proj.bias"]
    return posts


def scan(W, cfg, windows, k, batch):
    n_neurons = cfg.n_layer * cfg.d_mlp
    top = torch.full((k, n_neurons), float("-inf"))
    top_at = torch.zeros((k, n_neurons), dtype=torch.int64)  # global position: window * T + position
    T = windows.shape[1]
    for s in range(0, windows.shape[0], batch):
        ids = windows[s:s + batch]
        acts = torch.cat(mlp_posts(W, cfg, ids), dim=-1)[:, 1:, :]  # BOS left out; [b, T-1, neurons]
        flat = acts.reshape(-1, n_neurons)
        where = (torch.arange(s, s + ids.shape[0]).unsqueeze(1) * T + torch.arange(1, T).unsqueeze(0)).reshape(-1)
        values = torch.cat([top, flat], dim=0)
        at = torch.cat([top_at, where.unsqueeze(1).expand(-1, n_neurons)], dim=0)
        top, idx = torch.topk(values, k, dim=0)
        top_at = torch.gather(at, 0, idx)
    return top, top_at


def main():
    ap = argparse.ArgumentParser(description="Neuroscope's scan in PyTorch (Loupe anchor)")
    ap.add_argument("--input", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tensors, meta = safetensors_io.load_file(args.input)
    cfg = ref.Config.from_dict(json.loads(meta["config"]))
    weights = ref.hf_weights({k: v for k, v in tensors.items() if not k.startswith("c.")})
    windows = tensors["c.windows"].to(torch.int64)
    k, batch = int(meta["top"]), int(meta["batch"])
    with torch.no_grad():
        scan(weights, cfg, windows[:batch], k, batch)  # warm-up
        t0 = time.perf_counter()
        top, _ = scan(weights, cfg, windows, k, batch)
        dt = time.perf_counter() - t0
    tokens = windows.shape[0] * (windows.shape[1] - 1)
    safetensors_io.save_file({"c.top": top.contiguous()}, args.out, {"scan_s": str(dt), "tokens": str(tokens)})
    print(json.dumps({"scan_s": dt, "tokens": tokens, "tokens_per_s": tokens / dt, "threads": args.threads, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
