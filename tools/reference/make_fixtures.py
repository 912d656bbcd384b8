"""Writes Loupe's golden fixtures (see tools/reference/README.md for the layout).

    /usr/bin/python3 tools/reference/make_fixtures.py [--out DIR]

Deterministic: fixed seeds, computations in float64, stored as F32.
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt2_reference as ref  # noqa: E402
import safetensors_io  # noqa: E402

torch.set_num_threads(2)

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_OUT = os.path.join(REPO, "backend", "src", "test", "resources", "fixtures")

FORMAT = "loupe-fixture-1"
# Same metric strings for every model with gradients (token ids valid for vocab >= 50).
METRICS = ["loss", "logit_diff:-1:11:42", "logprob:-2:17"]

MODELS = [
    # name, config, weight dtype, seed, prompt lengths, gradients?, transformer. prefix + mask buffer?
    dict(name="gpt2vocab_2l",
         cfg=ref.Config(n_layer=2, n_head=4, n_embd=32, n_inner=128, n_positions=64, vocab_size=50257),
         dtype="BF16", seed=1001, lengths=[6, 3, 8], grads=False, hf_prefix=True),
    dict(name="odd_3l",
         cfg=ref.Config(n_layer=3, n_head=3, n_embd=96, n_inner=200, n_positions=32, vocab_size=300),
         dtype="F32", seed=1002, lengths=[5, 12, 1], grads=True, hf_prefix=False),
    # n_inner = None: the HF default 4·n_embd (= 64) must be applied by the loader.
    dict(name="f16_1l",
         cfg=ref.Config(n_layer=1, n_head=2, n_embd=16, n_inner=None, n_positions=16, vocab_size=50),
         dtype="F16", seed=1003, lengths=[6, 16], grads=True, hf_prefix=False),
    dict(name="attnonly_2l",
         cfg=ref.Config(n_layer=2, n_head=4, n_embd=32, n_inner=None, n_positions=32, vocab_size=64,
                        attn_only=True),
         dtype="F32", seed=1004, lengths=[9, 32], grads=True, hf_prefix=False),
]

TORCH_DTYPE = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def make_prompts(cfg: ref.Config, lengths, seed):
    """Token ids spread over the whole vocabulary; the first prompt starts with the last id
    (50256 = <|endoftext|> for the GPT-2 vocabulary) and contains id 0 when long enough."""
    g = torch.Generator().manual_seed(seed + 7)
    V = cfg.vocab_size
    prompts = []
    for i, T in enumerate(lengths):
        ids = torch.randint(0, V, (1, T), generator=g, dtype=torch.int64)
        if i == 0:
            ids[0, 0] = V - 1
            if T > 2:
                ids[0, 2] = 0
        elif T > 1:
            ids[0, 0] = V - 1
            ids[0, -1] = V - 2
        prompts.append(ids)
    return prompts


def build(spec, out_dir):
    cfg = spec["cfg"]
    sdtype = TORCH_DTYPE[spec["dtype"]]
    w32 = ref.init_weights(cfg, spec["seed"])
    stored = {k: v.to(sdtype) for k, v in w32.items()}           # round to the file dtype ...
    model = {k: v.to(torch.float64) for k, v in stored.items()}  # ... and use the rounded values
    prompts = make_prompts(cfg, spec["lengths"], spec["seed"])
    hooks = ref.hook_names(cfg)

    tensors = {}
    prefix = "transformer." if spec["hf_prefix"] else ""
    for i, name in enumerate(ref.weight_names(cfg)):
        tensors[prefix + name] = stored[name]
        if spec["hf_prefix"] and name == "h.0.ln_1.bias":
            # HF's causal-mask buffer; loaders must ignore it.
            n = cfg.n_positions
            tensors[prefix + "h.0.attn.bias"] = torch.ones(n, n).tril().reshape(1, 1, n, n)

    for i, ids in enumerate(prompts):
        logits, cache = ref.run_with_cache(model, cfg, ids)
        assert list(cache.keys()) == hooks, "hook order mismatch"
        tensors[f"p{i}.input_ids"] = ids.clone()
        tensors[f"p{i}.logits"] = logits.to(torch.float32)
        for h in hooks:
            tensors[f"p{i}.{h}"] = cache[h].to(torch.float32).contiguous()

    metrics = METRICS if spec["grads"] else []
    for m in metrics:
        value, hg, wg = ref.gradients(model, cfg, prompts[0], m, dtype=torch.float64)
        tensors[f"grad[{m}].value"] = value.to(torch.float32).reshape(1)
        for h in hooks:
            tensors[f"grad[{m}].{h}"] = hg[h].to(torch.float32).contiguous()
        for w in ref.weight_names(cfg):
            tensors[f"grad[{m}].w.{w}"] = wg[w].to(torch.float32).contiguous()

    cfg_json = json.dumps({"n_layer": cfg.n_layer, "n_head": cfg.n_head, "n_embd": cfg.n_embd,
                           "n_inner": cfg.n_inner, "n_positions": cfg.n_positions,
                           "vocab_size": cfg.vocab_size, "attn_only": cfg.attn_only,
                           "layer_norm_epsilon": cfg.layer_norm_epsilon})
    meta = {
        "format": FORMAT,
        "config": cfg_json,
        "prompts": str(len(prompts)),
        "metrics": json.dumps(metrics),
        "weight_dtype": spec["dtype"],
        "weight_prefix": prefix,
        "hooks": json.dumps(hooks),
        "seed": str(spec["seed"]),
    }
    path = os.path.join(out_dir, spec["name"] + ".safetensors")
    safetensors_io.save_file(tensors, path, meta)
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--only", nargs="*", help="model names to (re)build")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for spec in MODELS:
        if args.only and spec["name"] not in args.only:
            continue
        path = build(spec, args.out)
        print(f"{os.path.relpath(path, REPO)}  {os.path.getsize(path) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
