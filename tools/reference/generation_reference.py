"""Greedy and sampled continuation in PyTorch, with the sampling rule of Loupe's generation (dev.loupe.generation):

- the logits of the last position (float64 here);
- temperature 0: argmax (lowest id among equals);
- else the candidates are the top-k tokens by logit (k = 0: all), largest first, lower id first among equals
  (a stable descending sort); probabilities softmax(logit / temperature) over the candidates;
- one uniform u = (splitmix64() >> 11) * 2**-53 per step; the token is the first candidate whose cumulative
  probability exceeds u (the last one when rounding leaves the sum under 1);
- stop after max_new tokens or at the end of the context; with stop_at_eos, when the end-of-text token
  (the fixture's vocab-1, GPT-2's <|endoftext|>) is drawn, which is not added.

Writes backend/src/test/resources/fixtures/generation.json: for fixture models and prompts, the generated ids of a
few settings. Usage: /usr/bin/python3 tools/reference/generation_reference.py
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt2_reference as ref  # noqa: E402
import safetensors_io  # noqa: E402

MASK = (1 << 64) - 1
FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "backend", "src", "test", "resources", "fixtures")


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def next_double(self):
        return (self.next() >> 11) * 2.0 ** -53


def generate(weights, cfg, prompt, max_new, temperature, top_k, seed, stop_at_eos):
    ids = list(prompt)
    rng = SplitMix64(seed)
    eos = cfg.vocab_size - 1
    out, probs = [], []
    for _ in range(max_new):
        if len(ids) >= cfg.n_positions:
            break
        with torch.no_grad():
            logits = ref.forward(weights, cfg, torch.tensor([ids]))[0, -1].to(torch.float64)
        if temperature == 0:
            nxt = int(torch.argmax(logits))  # first maximum
        else:
            order = torch.sort(logits, descending=True, stable=True).indices
            if top_k > 0:
                order = order[:top_k]
            p = torch.softmax(logits[order] / temperature, dim=0)
            u = rng.next_double()
            cum = torch.cumsum(p, dim=0)
            hit = (cum > u).nonzero()
            pick = int(hit[0]) if len(hit) else len(order) - 1
            nxt = int(order[pick])
        if stop_at_eos and nxt == eos:
            break
        out.append(nxt)
        probs.append(float(torch.softmax(logits, dim=0)[nxt]))
        ids.append(nxt)
    return out, probs


def main():
    torch.set_num_threads(2)
    settings = [(0.0, 0, 0), (1.0, 0, 42), (0.7, 20, 7), (1.5, 5, 123456789)]
    cases = []
    for name, prompt_index, max_new in [("odd_3l", 0, 12), ("odd_3l", 1, 30), ("gpt2vocab_2l", 1, 10)]:
        tensors, meta = safetensors_io.load_file(os.path.join(FIXTURES, name + ".safetensors"))
        cfg = ref.Config.from_dict(json.loads(meta["config"]))
        w = {k: v.to(torch.float64) for k, v in ref.hf_weights(tensors).items() if k in set(ref.weight_names(cfg))}
        prompt = [int(x) for x in tensors[f"p{prompt_index}.input_ids"][0]]
        for temperature, top_k, seed in settings:
            for stop in ([False, True] if temperature == 1.0 else [False]):
                ids, probs = generate(w, cfg, prompt, max_new, temperature, top_k, seed, stop)
                cases.append({"fixture": name, "prompt": prompt, "max_new": max_new, "temperature": temperature,
                              "top_k": top_k, "seed": seed, "stop_at_eos": stop, "generated": ids,
                              "probs": [round(p, 8) for p in probs]})
    with open(os.path.join(FIXTURES, "generation.json"), "w") as f:
        json.dump({"rule": __doc__.split("\n\n")[0], "cases": cases}, f, indent=1)
        f.write("\n")
    print(len(cases), "cases")


if __name__ == "__main__":
    main()
