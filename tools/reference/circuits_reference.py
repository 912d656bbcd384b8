"""PyTorch reference for circuit discovery (DESIGN §10) and the golden fixtures Loupe's circuit tests compare with.

    /usr/bin/python3 tools/reference/circuits_reference.py [--out DIR]

Independent of Loupe's graphs: every receiver (a head's q, k, v input, an MLP's input, the logits' input) is built
as its own tensor, the sum of its senders' outputs (from this run if the edge is kept, else from the corrupted run)
plus the attention output biases, so autograd's gradient at that tensor is the receiver's own gradient. Prompts are
run one at a time at their own length (Loupe pads them into one batch). Computed in float64, stored as F32.
"""
import argparse
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt2_reference as ref  # noqa: E402
import safetensors_io  # noqa: E402

torch.set_num_threads(1)
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_OUT = os.path.join(REPO, "backend", "src", "test", "resources", "fixtures")


class Edges:
    """Senders: input, then per layer its heads and its MLP. Receivers: per layer the q copies of its heads, the k
    copies, the v copies, its MLP; then logits. Edges receiver by receiver, senders in order (as Loupe numbers them)."""

    def __init__(self, cfg):
        self.senders, self.receivers, self.upstream = ["input"], [], []
        for l in range(cfg.n_layer):
            before = len(self.senders)
            for part in "qkv":
                for h in range(cfg.n_head):
                    self.receivers.append(f"a{l}.h{h}<{part}>")
                    self.upstream.append(before)
            self.senders += [f"a{l}.h{h}" for h in range(cfg.n_head)]
            if not cfg.attn_only:
                self.receivers.append(f"m{l}")
                self.upstream.append(len(self.senders))
                self.senders.append(f"m{l}")
        self.receivers.append("logits")
        self.upstream.append(len(self.senders))
        self.first = [0]
        for n in self.upstream:
            self.first.append(self.first[-1] + n)
        self.count = self.first[-1]
        self.r = {name: i for i, name in enumerate(self.receivers)}

    def index(self, u, r):
        return self.first[r] + u

    def names(self):
        return [f"{self.senders[u]}->{self.receivers[r]}" for r in range(len(self.receivers)) for u in range(self.upstream[r])]


def run(W, cfg, E, embed, kept=None, corrupt=None, grads=None):
    """One prompt ([1, T, d] input sender). kept: bool [edges] (None = all); corrupt: the corrupted run's sender
    outputs. Returns (last-position logits, this run's sender outputs); receiver inputs go to grads (dict) when given."""
    d, nh, dh, eps = cfg.n_embd, cfg.n_head, cfg.d_head, cfg.layer_norm_epsilon
    T = embed.shape[1]
    senders = [embed]
    bias = torch.zeros_like(embed)

    def reader(r):
        x = bias
        for u in range(E.upstream[r]):
            x = x + (senders[u] if kept is None or kept[E.index(u, r)] else corrupt[u])
        if grads is not None:
            x.retain_grad()
            grads[r] = x
        return x

    def ln(x, w, b):
        xc = x - x.mean(-1, keepdim=True)
        return xc / (xc.pow(2).mean(-1, keepdim=True) + eps).sqrt() * w + b

    causal = torch.ones(T, T, dtype=torch.bool).tril()
    for l in range(cfg.n_layer):
        p = f"h.{l}."
        Wqkv, bqkv = W[p + "attn.c_attn.weight"], W[p + "attn.c_attn.bias"]
        Wo = W[p + "attn.c_proj.weight"]
        results = []
        for h in range(nh):
            qkv = []
            for i, part in enumerate("qkv"):
                x = ln(reader(E.r[f"a{l}.h{h}<{part}>"]), W[p + "ln_1.weight"], W[p + "ln_1.bias"])
                cols = slice(i * d + h * dh, i * d + (h + 1) * dh)
                qkv.append(x @ Wqkv[:, cols] + bqkv[cols])
            q, k, v = qkv
            scores = torch.where(causal, q @ k.transpose(-1, -2) / math.sqrt(dh), torch.tensor(float("-inf"), dtype=q.dtype))
            z = torch.softmax(scores, -1) @ v
            results.append(z @ Wo[h * dh:(h + 1) * dh, :])
        senders += results
        bias = bias + W[p + "attn.c_proj.bias"]
        if not cfg.attn_only:
            x = ln(reader(E.r[f"m{l}"]), W[p + "ln_2.weight"], W[p + "ln_2.bias"])
            pre = x @ W[p + "mlp.c_fc.weight"] + W[p + "mlp.c_fc.bias"]
            senders.append(ref.gelu_new(pre) @ W[p + "mlp.c_proj.weight"] + W[p + "mlp.c_proj.bias"])
    x = ln(reader(E.r["logits"]), W["ln_f.weight"], W["ln_f.bias"])
    return x[0, -1] @ W["wte.weight"].t(), senders


def embed_of(W, ids):
    return (W["wte.weight"][ids] + W["wpe.weight"][:len(ids)]).unsqueeze(0)


def eap_ig(W, cfg, E, pairs, steps):
    """Scores [edges]: mean over pairs of Σ (a_u(corrupt) − a_u(clean))·mean_k ∂metric/∂x_v at input α = k/steps."""
    scores = torch.zeros(E.count, dtype=torch.float64)
    for clean, corrupt, a, w in pairs:
        ec, ek = embed_of(W, clean), embed_of(W, corrupt)
        with torch.no_grad():
            _, s_clean = run(W, cfg, E, ec)
            _, s_corr = run(W, cfg, E, ek)
        gsum = {}
        for k in range(1, steps + 1):
            x = (ek + k / steps * (ec - ek)).clone().requires_grad_(True)
            rec = {}
            logits, _ = run(W, cfg, E, x, grads=rec)
            (logits[a] - logits[w]).backward()
            for r, t in rec.items():
                gsum[r] = gsum.get(r, 0) + t.grad.detach()
        for r in range(len(E.receivers)):
            g = gsum[r] / steps
            for u in range(E.upstream[r]):
                scores[E.index(u, r)] += ((s_corr[u] - s_clean[u]) * g).sum() / len(pairs)
    return scores


def evaluate(W, cfg, E, pairs, kept):
    """Exact evaluation: (mean metric, mean KL of the last position's distribution to the clean run's)."""
    m, kl = 0.0, 0.0
    with torch.no_grad():
        for clean, corrupt, a, w in pairs:
            _, s_corr = run(W, cfg, E, embed_of(W, corrupt))
            clean_logits, _ = run(W, cfg, E, embed_of(W, clean))
            logits, _ = run(W, cfg, E, embed_of(W, clean), kept=kept, corrupt=s_corr)
            m += float(logits[a] - logits[w])
            lp, lq = torch.log_softmax(clean_logits, -1), torch.log_softmax(logits, -1)
            kl += float((lp.exp() * (lp - lq)).sum())
    return m / len(pairs), kl / len(pairs)


FIXTURES = [
    dict(name="circuits_mlp_2l", cfg=ref.Config(n_layer=2, n_head=3, n_embd=24, n_inner=48, n_positions=16, vocab_size=40),
         seed=1401, lengths=[7, 5, 7, 4]),
    dict(name="circuits_attnonly_2l", cfg=ref.Config(n_layer=2, n_head=4, n_embd=32, n_positions=16, vocab_size=48, attn_only=True),
         seed=1402, lengths=[6, 8, 3]),
]
IG_STEPS = 3


def build(spec, out_dir):
    cfg = spec["cfg"]
    w32 = ref.init_weights(cfg, spec["seed"])
    W = {k: v.to(torch.float64) for k, v in w32.items()}
    E = Edges(cfg)
    g = torch.Generator().manual_seed(spec["seed"] + 1)
    pairs = []
    for T in spec["lengths"]:
        clean = torch.randint(0, cfg.vocab_size, (T,), generator=g)
        corrupt = clean.clone()
        corrupt[: max(1, T // 2)] = torch.randint(0, cfg.vocab_size, (max(1, T // 2),), generator=g)
        a, w = torch.randperm(cfg.vocab_size, generator=g)[:2].tolist()
        pairs.append((clean, corrupt, a, w))
    eap = eap_ig(W, cfg, E, pairs, 1)
    ig = eap_ig(W, cfg, E, pairs, IG_STEPS)
    sets = [torch.ones(E.count, dtype=torch.bool), torch.zeros(E.count, dtype=torch.bool)]
    for prob in (0.2, 0.5, 0.8, 0.95):
        sets.append(torch.rand(E.count, generator=g) < prob)
    results = [evaluate(W, cfg, E, pairs, s) for s in sets]
    P, T = len(pairs), max(spec["lengths"])
    tensors = {k: w32[k] for k in ref.weight_names(cfg)}
    pad = lambda t: torch.cat([t, torch.zeros(T - len(t), dtype=torch.int64)])  # noqa: E731
    tensors["c.clean"] = torch.stack([pad(p[0]) for p in pairs])
    tensors["c.corrupt"] = torch.stack([pad(p[1]) for p in pairs])
    tensors["c.lengths"] = torch.tensor([len(p[0]) for p in pairs])
    tensors["c.answer"] = torch.tensor([p[2] for p in pairs])
    tensors["c.wrong"] = torch.tensor([p[3] for p in pairs])
    tensors["c.eap"] = eap.to(torch.float32)
    tensors["c.eap_ig"] = ig.to(torch.float32)
    tensors["c.sets"] = torch.stack(sets).to(torch.float32)
    tensors["c.set_metric"] = torch.tensor([r[0] for r in results], dtype=torch.float32)
    tensors["c.set_kl"] = torch.tensor([r[1] for r in results], dtype=torch.float32)
    meta = {"format": "loupe-circuits-fixture-1", "config": cfg.to_json(), "ig_steps": IG_STEPS,
            "edges": json.dumps(E.names())}
    path = os.path.join(out_dir, spec["name"] + ".safetensors")
    safetensors_io.save_file(tensors, path, meta)
    print(f"{path}: {E.count} edges, clean {results[0][0]:.4f}, corrupted {results[1][0]:.4f}, "
          f"max |EAP-IG| {ig.abs().max():.4g}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=DEFAULT_OUT)
    args = ap.parse_args()
    for spec in FIXTURES:
        build(spec, args.out)


if __name__ == "__main__":
    main()
