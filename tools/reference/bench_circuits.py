"""PyTorch anchor for `./loupe bench circuits`: EAP-IG scores and exact evaluation with hooks and autograd.

    /usr/bin/python3 tools/reference/bench_circuits.py --input FILE.safetensors --out FILE.safetensors

The input holds the weights (config in the metadata), the pairs (c.clean, c.corrupt [P, T], c.answer, c.wrong [P]),
c.sets [S, edges] (1 = edge kept) and the step count. Each receiver gets its own copy of its residual input, as
EAP-IG implementations do (per-head q/k/v inputs), so autograd gives per-receiver gradients; exact evaluation mixes
the corrupted run's sender outputs into each receiver's copy, a few edge sets per batch. float32, 2 threads.
Writes c.scores [edges], c.set_metric [S] and the timings in the metadata.
"""
import argparse
import json
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import circuits_reference as cref  # noqa: E402
import gpt2_reference as ref  # noqa: E402
import safetensors_io  # noqa: E402


def run(W, cfg, E, embed, last, absent=None, corrupt=None, grads=None):
    """Batched forward. embed [N, T, d]; absent [N, U, R] (1 = edge not kept) with corrupt [U, N, T, d]; grads: a list
    that gets each layer's receiver copies (retain_grad). Returns last-position logits [N, V] and senders [U, N, T, d]."""
    d, nh, dh, eps = cfg.n_embd, cfg.n_head, cfg.d_head, cfg.layer_norm_epsilon
    N, T, _ = embed.shape
    senders = [embed]
    causal = torch.ones(T, T, dtype=torch.bool).tril()

    def read(x, r0, count):
        if absent is None:
            xs = x.unsqueeze(1).repeat(1, count, 1, 1)
        else:
            D = torch.stack([s - corrupt[u] for u, s in enumerate(senders)], 1)          # [N, U', T, d]
            xs = x.unsqueeze(1) - torch.einsum("nuc,nutd->nctd", absent[:, :len(senders), r0:r0 + count], D)
        if grads is not None:
            xs.retain_grad()
            grads.append(xs)
        return xs

    def ln(x, w, b):
        return torch.nn.functional.layer_norm(x, (d,), w, b, eps)

    x = embed
    r0 = 0
    for l in range(cfg.n_layer):
        p = f"h.{l}."
        Wqkv, bqkv = W[p + "attn.c_attn.weight"], W[p + "attn.c_attn.bias"]
        xs = ln(read(x, r0, 3 * nh), W[p + "ln_1.weight"], W[p + "ln_1.bias"])            # [N, 3H, T, d]
        parts = []
        for i in range(3):
            Wp = Wqkv[:, i * d:(i + 1) * d].reshape(d, nh, dh)
            parts.append(torch.einsum("nhtd,dhe->nhte", xs[:, i * nh:(i + 1) * nh], Wp) + bqkv[i * d:(i + 1) * d].reshape(nh, 1, dh))
        q, k, v = parts
        s = torch.where(causal, q @ k.transpose(-1, -2) / math.sqrt(dh), torch.tensor(float("-inf")))
        z = torch.softmax(s, -1) @ v
        result = torch.einsum("nhte,hed->nhtd", z, W[p + "attn.c_proj.weight"].reshape(nh, dh, d))
        senders += list(result.unbind(1))
        x = x + result.sum(1) + W[p + "attn.c_proj.bias"]
        r0 += 3 * nh
        if not cfg.attn_only:
            xm = ln(read(x, r0, 1)[:, 0], W[p + "ln_2.weight"], W[p + "ln_2.bias"])
            out = ref.gelu_new(xm @ W[p + "mlp.c_fc.weight"] + W[p + "mlp.c_fc.bias"]) @ W[p + "mlp.c_proj.weight"] + W[p + "mlp.c_proj.bias"]
            senders.append(out)
            x = x + out
            r0 += 1
    xl = ln(read(x, r0, 1)[:, 0], W["ln_f.weight"], W["ln_f.bias"])
    xl = (xl * last.unsqueeze(-1)).sum(1)
    return xl @ W["wte.weight"].t(), torch.stack(senders)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sets-per-batch", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t, meta = safetensors_io.load_file(args.input)
    cfg = ref.Config.from_dict(json.loads(meta["config"]))
    W = {k: v.float() for k, v in t.items() if not k.startswith("c.")}
    E = cref.Edges(cfg)
    clean, corrupt, lengths = t["c.clean"].long(), t["c.corrupt"].long(), t["c.lengths"].long()
    ans, wrong, steps = t["c.answer"].long(), t["c.wrong"].long(), int(meta["steps"])
    P, T = clean.shape
    last = torch.zeros(P, T)
    last[torch.arange(P), lengths - 1] = 1
    pos = W["wpe.weight"][:T]
    ec, ek = W["wte.weight"][clean] + pos, W["wte.weight"][corrupt] + pos
    nU, nR = len(E.senders), len(E.receivers)

    t0 = time.perf_counter()
    with torch.no_grad():
        _, s_clean = run(W, cfg, E, ec, last)
        logits_k, s_corr = run(W, cfg, E, ek, last)
    gsum = None
    for k in range(1, steps + 1):
        g = []
        logits, _ = run(W, cfg, E, (ek + k / steps * (ec - ek)).detach().requires_grad_(True), last, grads=g)
        (logits[torch.arange(P), ans] - logits[torch.arange(P), wrong]).sum().backward()
        G = torch.cat([x.grad for x in g], 1)                                                # [P, R, T, d]
        gsum = G if gsum is None else gsum + G
    S = torch.einsum("uptd,prtd->ur", s_corr - s_clean, gsum) / (steps * P)
    flat = torch.cat([S[:E.upstream[r], r] for r in range(nR)])
    t_scores = time.perf_counter() - t0

    sets = t["c.sets"]
    t0 = time.perf_counter()
    metrics = []
    with torch.no_grad():
        for i in range(0, sets.shape[0], args.sets_per_batch):
            chunk = sets[i:i + args.sets_per_batch]
            n = chunk.shape[0]
            absent = torch.zeros(n, nU, nR)
            for r in range(nR):
                absent[:, :E.upstream[r], r] = 1 - chunk[:, E.first[r]:E.first[r + 1]]
            absent = absent.repeat_interleave(P, 0)
            logits, _ = run(W, cfg, E, ec.repeat(n, 1, 1), last.repeat(n, 1), absent=absent, corrupt=s_corr.repeat(1, n, 1, 1))
            diff = (logits[torch.arange(n * P), ans.repeat(n)] - logits[torch.arange(n * P), wrong.repeat(n)]).reshape(n, P).mean(1)
            metrics += diff.tolist()
    t_eval = time.perf_counter() - t0
    safetensors_io.save_file({"c.scores": flat.contiguous(), "c.set_metric": torch.tensor(metrics, dtype=torch.float32)}, args.out,
                             {"scores_s": t_scores, "eval_s": t_eval})
    print(json.dumps({"scores_s": t_scores, "eval_s": t_eval}))


if __name__ == "__main__":
    main()
