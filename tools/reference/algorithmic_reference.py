"""Reference values for Loupe's algorithmic-model analysis (dev.loupe.algorithmic.ModularAddition), by torch.fft.

A random one-layer model for addition mod p = 31 (tokens 0 … 30 are the numbers, 31 is '=') whose embedding has
frequencies 4 and 11 planted in it, so that the spectrum, the key frequencies and the neurons' frequencies are not
noise. Writes backend/src/test/resources/fixtures/algorithmic_p31.{safetensors,json}:
  power[k] (k = 0 … p//2): |fft(W_E[:p], dim=0)|² summed over d_model, the k and p−k bins together;
  keys / key_fraction: the 6 strongest non-constant frequencies and their share of the non-constant power;
  answer_prob[a][b]: softmax over the vocabulary at '=' of the prompt 'a b =', at (a + b) mod p;
  correct[a][b]: argmax over the p numbers == the answer;
  neuron_share[n][k]: share of neuron n's non-constant |fft2|² (activation mlp.hook_post at '=' over the (a, b)
  grid) in the bins (ka, kb) with ka, kb ∈ {0, ±k}; neuron_freq[n]: its argmax over k ≥ 1.

  /usr/bin/python3 tools/reference/algorithmic_reference.py
"""
import json
import math
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gpt2_reference as ref  # noqa: E402
import safetensors_io  # noqa: E402

OUT = os.path.join(HERE, "..", "..", "backend", "src", "test", "resources", "fixtures")
P, PLANTED = 31, (4, 11)


def main():
    torch.set_num_threads(1)
    cfg = ref.Config(n_layer=1, n_head=4, n_embd=32, n_positions=3, vocab_size=P + 1, n_inner=64)
    W = ref.init_weights(cfg, seed=31)
    g = torch.Generator().manual_seed(7)
    t = torch.arange(P, dtype=torch.float64)
    emb = 0.1 * torch.randn(P, cfg.n_embd, generator=g, dtype=torch.float64)
    for i, k in enumerate(PLANTED):
        ang = 2 * math.pi * k * t / P
        u, v = torch.randn(2, cfg.n_embd, generator=g, dtype=torch.float64) * (1.0 - 0.3 * i)
        emb += torch.cos(ang)[:, None] * u + torch.sin(ang)[:, None] * v
    W["wte.weight"][:P] = emb.float()

    F = torch.fft.fft(W["wte.weight"][:P].double(), dim=0)
    bins = (F.abs() ** 2).sum(-1)
    power = [bins[0].item()] + [(bins[k] + bins[P - k]).item() for k in range(1, P // 2 + 1)]
    order = sorted(range(1, P // 2 + 1), key=lambda k: -power[k])
    keys = order[:6]
    key_fraction = sum(power[k] for k in keys) / sum(power[1:])

    ids = torch.tensor([[a, b, P] for a in range(P) for b in range(P)])
    rec = ref.Hooks(record=True)
    with torch.no_grad():
        logits = ref.forward(W, cfg, ids, rec)[:, -1].double()
    post = rec.cache["blocks.0.mlp.hook_post"][:, -1].double()          # [p², d_mlp]
    answer = (ids[:, 0] + ids[:, 1]) % P
    prob = torch.softmax(logits, -1)[torch.arange(P * P), answer].reshape(P, P)
    correct = (logits[:, :P].argmax(-1) == answer).reshape(P, P)

    grid = post.t().reshape(cfg.d_mlp, P, P)                              # [n, a, b]
    pw = torch.fft.fft2(grid).abs() ** 2                                  # [n, ka, kb]
    f = torch.arange(P)
    f = torch.minimum(f, P - f)
    fa, fb = f[:, None].expand(P, P), f[None, :].expand(P, P)
    total = pw.sum((1, 2)) - pw[:, 0, 0]
    share = torch.zeros(cfg.d_mlp, P // 2 + 1, dtype=torch.float64)
    for k in range(1, P // 2 + 1):
        mask = ((fa == k) | (fa == 0)) & ((fb == k) | (fb == 0)) & ~((fa == 0) & (fb == 0))
        share[:, k] = (pw * mask).sum((1, 2)) / total
    neuron_freq = share[:, 1:].argmax(-1) + 1

    os.makedirs(OUT, exist_ok=True)
    meta = {"format": "pt", "config": cfg.to_json()}
    safetensors_io.save_file({k: W[k] for k in ref.weight_names(cfg)}, os.path.join(OUT, "algorithmic_p31.safetensors"), meta)
    doc = {"config": json.loads(cfg.to_json()), "p": P, "planted": list(PLANTED),
           "power": power, "keys": keys, "key_fraction": key_fraction,
           "answer_prob": [[round(x, 8) for x in r] for r in prob.tolist()],
           "correct": correct.tolist(),
           "neuron_share": [[round(x, 8) for x in r] for r in share.tolist()],
           "neuron_freq": neuron_freq.tolist()}
    with open(os.path.join(OUT, "algorithmic_p31.json"), "w") as fh:
        json.dump(doc, fh, separators=(",", ":"))
    print("keys", keys, "fraction %.4f" % key_fraction, "neuron freqs", sorted(set(neuron_freq.tolist())))


if __name__ == "__main__":
    main()
