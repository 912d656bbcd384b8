"""Trains a Loupe language model from a Loupe recipe (tools/recipes/*.json, task "brown") in PyTorch, for a GPU.

The model is Loupe's GPT-2 (pre-LN, biases, gelu_new, tied unembedding; checked at start against
tools/reference/gpt2_reference.py). The data is exactly what ``./loupe train`` feeds: the batches of
WindowSampler (java.util.Random seeded with seed·1000003 + step, a stream per row picked by weight for the
recipe's ``extra`` datasets), and the held-out loss of HeldOutBatches (consecutive windows, or every
``eval_stride`` tokens, each held-out document token scored once, separators never). The schedule is the
recipe's: linear warm-up, then a cosine from lr to min_lr (over the last ``decay_steps`` steps when set), AdamW
with decay on matrices and embeddings only, global gradient-norm clipping. The initialisation has the
distribution of Loupe's (N(0, 0.02), wpe 0.01, output projections 0.02/√(2·n_layer)) but not its random numbers,
and residual dropout draws its masks from torch: a run is reproducible with this script, not bitwise equal to
the Java trainer's.

  /usr/bin/python3 tools/train_torch/train_lm.py train RECIPE --work DIR [--device cuda] [--steps N]
  /usr/bin/python3 tools/train_torch/train_lm.py export --work DIR --out onnx-models/NAME

``train`` writes ``ckpt.pt`` (weights and Adam state; resumable: rerunning continues from it), ``train.csv`` and
``eval.csv`` (held-out loss and the best induction score on repeated random tokens, every ``eval_every``
steps). ``export`` writes the model folder: model.safetensors in the recipe's save_dtype, manifest.json (GPT-2
tokenizer), recipe.json and eval.csv; the held-out loss of the stored weights is measured again and recorded.
"""
import argparse
import json
import math
import os
import shutil
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
sys.path.insert(0, HERE)
import gpt2_reference as ref  # noqa: E402
import safetensors_io  # noqa: E402
from train_modadd import JavaRandom  # noqa: E402

EOT = 50256
MASK48 = (1 << 48) - 1


# --------------------------------------------------------------------------- data (as Loupe's BrownTask)

def java_long(x):
    x &= (1 << 64) - 1
    return x - (1 << 64) if x >= 1 << 63 else x


def next_double(rnd):
    return ((rnd.next(26) << 27) + rnd.next(27)) * (1.0 / (1 << 53))


class Dataset:
    """A loupe-tokens-v1 folder (docs/DATA.md): the training stream EOT d1 EOT d2 … and the held-out one."""

    def __init__(self, path):
        docs = json.load(open(os.path.join(path, "docs.json")))
        assert docs["format"] == "loupe-tokens-v1", path
        raw = open(os.path.join(path, "tokens.bin"), "rb").read()
        tokens = torch.frombuffer(bytearray(raw), dtype=torch.int16).to(torch.int64) & 0xFFFF
        self.eot = docs.get("eot", EOT)
        self.source = docs.get("source", "")

        def stream(held_out):
            parts = []
            for d in docs["documents"]:
                if (d["split"] == "heldout") == held_out:
                    parts += [torch.tensor([self.eot]), tokens[d["offset"]:d["offset"] + d["length"]]]
            return torch.cat(parts)

        self.train = stream(False)
        self.heldout = stream(True)


def training_batch(streams, weights, seq, rows, seed):
    """WindowSampler(streams, weights, seq, seed).next(rows): inputs and targets [rows, seq]."""
    rnd = JavaRandom(java_long(seed))
    total = sum(weights)
    cumulative, acc = [], 0.0
    for w in weights:
        acc += w
        cumulative.append(acc)
    cumulative = [c / total for c in cumulative]
    x, y = [], []
    for _ in range(rows):
        s = 0
        if len(streams) > 1:
            u = next_double(rnd)
            while s < len(cumulative) - 1 and u >= cumulative[s]:
                s += 1
        st = streams[s]
        start = rnd.next_int(len(st) - seq)
        x.append(st[start:start + seq])
        y.append(st[start + 1:start + 1 + seq])
    return torch.stack(x), torch.stack(y)


def heldout_batches(stream, eot, length, stride, rows):
    """HeldOutBatches: windows every `stride` tokens, every document token a target once (-1: not scored)."""
    n_inputs = len(stream) - 1
    windows = 0 if n_inputs <= 0 else 1 + max(0, (n_inputs - length + stride - 1) // stride)
    padded = torch.cat([stream, torch.full((length + 1,), eot, dtype=stream.dtype)])
    for first in range(0, windows, rows):
        xs, ys = [], []
        for w in range(first, min(windows, first + rows)):
            start = w * stride
            x = padded[start:start + length].clone()
            y = padded[start + 1:start + 1 + length].clone()
            y[y == eot] = -1
            if w > 0:
                y[:length - stride] = -1
            xs.append(x)
            ys.append(y)
        yield torch.stack(xs), torch.stack(ys)


# --------------------------------------------------------------------------- model

def model_config(recipe):
    c = recipe["config"]
    return ref.Config(n_layer=c["n_layer"], n_head=c["n_head"], n_embd=c["n_embd"], n_positions=c["n_positions"],
                      vocab_size=c["vocab_size"], n_inner=c.get("n_inner"), attn_only=c.get("attn_only", False),
                      layer_norm_epsilon=c.get("layer_norm_epsilon", 1e-5))


def init(cfg, seed):
    """The distribution of Loupe's GptWeights.random: N(0, 0.02), wpe N(0, 0.01), c_proj N(0, 0.02/√(2L)),
    LayerNorm weights 1, biases 0."""
    g = torch.Generator().manual_seed(seed)
    shapes = {"wte.weight": (cfg.vocab_size, cfg.n_embd), "wpe.weight": (cfg.n_positions, cfg.n_embd)}
    for i in range(cfg.n_layer):
        shapes.update({f"h.{i}.attn.c_attn.weight": (cfg.n_embd, 3 * cfg.n_embd), f"h.{i}.attn.c_attn.bias": (3 * cfg.n_embd,),
                       f"h.{i}.attn.c_proj.weight": (cfg.n_embd, cfg.n_embd), f"h.{i}.mlp.c_fc.weight": (cfg.n_embd, cfg.d_mlp),
                       f"h.{i}.mlp.c_fc.bias": (cfg.d_mlp,), f"h.{i}.mlp.c_proj.weight": (cfg.d_mlp, cfg.n_embd)})
    W = {}
    for name in ref.weight_names(cfg):
        shape = shapes.get(name, (cfg.n_embd,))
        if ".ln_" in name or name.startswith("ln_"):
            W[name] = torch.ones(shape) if name.endswith(".weight") else torch.zeros(shape)
        elif name.endswith(".bias"):
            W[name] = torch.zeros(shape)
        else:
            std = 0.02 / math.sqrt(2 * cfg.n_layer) if name.endswith("c_proj.weight") else 0.01 if name == "wpe.weight" else 0.02
            W[name] = torch.randn(shape, generator=g) * std
    return W


def decays(name):
    return name.endswith(".weight") and "ln_" not in name


def attend(q, k, v):
    """Causal softmax attention, scaled by 1/√d_head: fused where this PyTorch has it."""
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    T = q.shape[-2]
    mask = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()
    s = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    return torch.softmax(s.masked_fill(~mask, float("-inf")), -1) @ v


def forward(W, cfg, ids, dropout=0.0, training=False):
    """Logits [B, T, V]: Loupe's GPT-2 with fused attention (equal to gpt2_reference.forward; checked at start)."""
    B, T = ids.shape
    d, nh, eps = cfg.n_embd, cfg.n_head, cfg.layer_norm_epsilon
    drop = (lambda t: F.dropout(t, dropout, True)) if training and dropout > 0 else (lambda t: t)
    x = drop(W["wte.weight"][ids] + W["wpe.weight"][:T])
    for i in range(cfg.n_layer):
        p = f"h.{i}."
        h = F.layer_norm(x, (d,), W[p + "ln_1.weight"], W[p + "ln_1.bias"], eps)
        qkv = (h @ W[p + "attn.c_attn.weight"] + W[p + "attn.c_attn.bias"]).view(B, T, 3, nh, d // nh)
        q, k, v = (qkv[:, :, j].transpose(1, 2) for j in range(3))
        z = attend(q, k, v).transpose(1, 2).reshape(B, T, d)
        x = x + drop(z @ W[p + "attn.c_proj.weight"] + W[p + "attn.c_proj.bias"])
        if not cfg.attn_only:
            h = F.layer_norm(x, (d,), W[p + "ln_2.weight"], W[p + "ln_2.bias"], eps)
            m = ref.gelu_new(h @ W[p + "mlp.c_fc.weight"] + W[p + "mlp.c_fc.bias"])
            x = x + drop(m @ W[p + "mlp.c_proj.weight"] + W[p + "mlp.c_proj.bias"])
    return F.layer_norm(x, (d,), W["ln_f.weight"], W["ln_f.bias"], eps) @ W["wte.weight"].t()


def attention_patterns(W, cfg, ids):
    """[layer] -> [B, heads, T, T] attention patterns (for the induction score)."""
    B, T = ids.shape
    d, nh, eps = cfg.n_embd, cfg.n_head, cfg.layer_norm_epsilon
    x = W["wte.weight"][ids] + W["wpe.weight"][:T]
    out = []
    mask = torch.ones(T, T, dtype=torch.bool, device=ids.device).tril()
    for i in range(cfg.n_layer):
        p = f"h.{i}."
        h = F.layer_norm(x, (d,), W[p + "ln_1.weight"], W[p + "ln_1.bias"], eps)
        qkv = (h @ W[p + "attn.c_attn.weight"] + W[p + "attn.c_attn.bias"]).view(B, T, 3, nh, d // nh)
        q, k, v = (qkv[:, :, j].transpose(1, 2) for j in range(3))
        s = (q @ k.transpose(-1, -2)) / math.sqrt(d // nh)
        a = torch.softmax(s.masked_fill(~mask, float("-inf")), -1)
        out.append(a)
        z = (a @ v).transpose(1, 2).reshape(B, T, d)
        x = x + z @ W[p + "attn.c_proj.weight"] + W[p + "attn.c_proj.bias"]
        if not cfg.attn_only:
            h = F.layer_norm(x, (d,), W[p + "ln_2.weight"], W[p + "ln_2.bias"], eps)
            x = x + ref.gelu_new(h @ W[p + "mlp.c_fc.weight"] + W[p + "mlp.c_fc.bias"]) @ W[p + "mlp.c_proj.weight"] + W[p + "mlp.c_proj.bias"]
    return out


def induction_score(W, cfg, device, length=25, rows=32, seed=7):
    """Best head's mean attention from each token of the second copy of [BOS, r1 … rL, r1 … rL] (random tokens) to
    the token after its first occurrence (as Loupe's TrainedModelsTest and detectors)."""
    rnd = JavaRandom(seed)
    prompts = []
    for _ in range(rows):
        r = [1 + rnd.next_int(cfg.vocab_size - 1) for _ in range(length)]
        prompts.append([EOT] + r + r)
    ids = torch.tensor(prompts, device=device)
    q = torch.arange(length + 1, 2 * length + 1, device=device)
    with torch.no_grad():
        scores = [a[:, :, q, q - length + 1].mean((0, 2)) for a in attention_patterns(W, cfg, ids)]
    best = max((s.max().item(), l, s.argmax().item()) for l, s in enumerate(scores))
    return best


def heldout_loss(W, cfg, data, recipe, device):
    seq = recipe["seq"]
    stride = recipe["task"].get("eval_stride", seq)
    rows = recipe["task"].get("eval_batch", max(1, recipe.get("batch", 1)))
    total, count = 0.0, 0
    with torch.no_grad():
        for x, y in heldout_batches(data.heldout, data.eot, seq, stride, rows):
            logits = forward(W, cfg, x.to(device)).float()
            yy = y.to(device)
            total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), yy.reshape(-1), ignore_index=-1,
                                     reduction="sum").item()
            count += int((yy >= 0).sum())
    return total / count, count


def lr_at(recipe, step):
    lr, warmup, steps = recipe["lr"], recipe.get("warmup", 0), recipe["steps"]
    min_lr, decay_steps = recipe.get("min_lr", lr / 10), recipe.get("decay_steps", 0)
    if warmup > 0 and step < warmup:
        return lr * (step + 1) / warmup
    start = max(warmup, steps - decay_steps) if decay_steps > 0 else warmup
    if step < start:
        return lr
    progress = min(1.0, (step - start) / max(1, steps - start))
    return min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi * progress))


# --------------------------------------------------------------------------- commands

def load_recipe(path, steps=None):
    recipe = json.load(open(path))
    assert recipe["task"]["type"] == "brown", "train_lm.py trains the 'brown' task"
    assert recipe["config"]["vocab_size"] == 50257, "the Brown task needs the GPT-2 vocabulary"
    if steps is not None:
        recipe["steps"] = steps
    return recipe


def train(args):
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    os.makedirs(args.work, exist_ok=True)
    recipe_path = os.path.join(args.work, "recipe.json")
    if args.recipe:
        recipe = load_recipe(args.recipe, args.steps)
        json.dump(recipe, open(recipe_path, "w"), indent=2)
    recipe = json.load(open(recipe_path))
    cfg, dev = model_config(recipe), torch.device(args.device)
    data = Dataset(recipe["task"]["dir"])
    streams, weights = [data.train], [1.0]
    for e in recipe["task"].get("extra", []):
        streams.append(Dataset(e["dir"]).train)
        weights.append(e["weight"])
    weights[0] = 1.0 - sum(weights[1:])
    W = init(cfg, recipe.get("seed", 0))
    with torch.no_grad():  # the fused forward is the reference's
        ids = torch.randint(0, cfg.vocab_size, (2, min(16, cfg.n_positions)), generator=torch.Generator().manual_seed(1))
        diff = (ref.forward(W, cfg, ids) - forward(W, cfg, ids)).abs().max().item()
        assert diff < 1e-4, f"fused forward differs from gpt2_reference by {diff}"
    params = {k: v.to(dev).requires_grad_(True) for k, v in W.items()}
    groups = [{"params": [p for k, p in params.items() if decays(k)], "weight_decay": recipe.get("weight_decay", 0.1)},
              {"params": [p for k, p in params.items() if not decays(k)], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=recipe["lr"], betas=(recipe.get("beta1", 0.9), recipe.get("beta2", 0.95)),
                            eps=recipe.get("eps", 1e-8))
    ckpt = os.path.join(args.work, "ckpt.pt")
    start, tokens, elapsed = 0, 0, 0.0
    if os.path.exists(ckpt):
        state = torch.load(ckpt, map_location=dev)
        with torch.no_grad():
            for k, t in state["weights"].items():
                params[k].copy_(t)
        opt.load_state_dict(state["opt"])
        start, tokens, elapsed = state["step"], state["tokens"], state["elapsed_s"]
        print(f"resumed at step {start}", flush=True)
    else:
        for f in ("train.csv", "eval.csv"):
            if os.path.exists(os.path.join(args.work, f)):
                os.remove(os.path.join(args.work, f))
    steps, rows, seq = recipe["steps"], recipe["batch"], recipe["seq"]
    log_every, eval_every = recipe.get("log_every", 10), recipe.get("eval_every", max(1, steps // 10))
    ckpt_every = recipe.get("checkpoint_every", eval_every)
    train_log = open(os.path.join(args.work, "train.csv"), "a")
    eval_log = open(os.path.join(args.work, "eval.csv"), "a")
    if start == 0:
        train_log.write("step,tokens,train_loss,lr,grad_norm,elapsed_s\n")
        eval_log.write("step,tokens,heldout_loss,heldout_tokens,induction_score,induction_head,elapsed_s\n")
    t0, losses = time.time(), []
    for step in range(start, steps):
        x, y = training_batch(streams, weights, seq, rows, recipe.get("seed", 0) * 1_000_003 + step)
        x, y = x.to(dev), y.to(dev)
        lr = lr_at(recipe, step)
        for g in opt.param_groups:
            g["lr"] = lr
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=args.bf16):
            logits = forward(params, cfg, x, recipe.get("dropout", 0.0), training=True)
        loss = F.cross_entropy(logits.float().reshape(-1, cfg.vocab_size), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(list(params.values()), recipe.get("clip", 1.0)).item()
        opt.step()
        losses.append(loss.item())
        tokens += rows * seq
        n = step + 1
        now = elapsed + time.time() - t0
        if n % log_every == 0 or n == steps:
            train_log.write(f"{n},{tokens},{sum(losses) / len(losses):.5f},{lr:.3e},{norm:.4f},{now:.1f}\n")
            train_log.flush()
            print(f"step {n}/{steps} loss {sum(losses) / len(losses):.4f} lr {lr:.2e} |g| {norm:.3f} "
                  f"{tokens / max(1e-9, now):.0f} tok/s {now:.0f} s", flush=True)
            losses = []
        if n % eval_every == 0 or n == steps:
            W_now = {k: v.detach() for k, v in params.items()}
            h, count = heldout_loss(W_now, cfg, data, recipe, dev)
            ind, layer, head = induction_score(W_now, cfg, dev)
            eval_log.write(f"{n},{tokens},{h:.5f},{count},{ind:.4f},{layer}.{head},{now:.1f}\n")
            eval_log.flush()
            print(f"eval step {n}: held-out {h:.4f} ({count} tokens), induction {ind:.3f} (head {layer}.{head})", flush=True)
        if n % ckpt_every == 0 or n == steps:
            torch.save({"weights": {k: v.detach().cpu() for k, v in params.items()}, "opt": opt.state_dict(),
                        "step": n, "tokens": tokens, "elapsed_s": elapsed + time.time() - t0}, ckpt + ".tmp")
            os.replace(ckpt + ".tmp", ckpt)


def export(args):
    torch.set_num_threads(args.threads)
    recipe = json.load(open(os.path.join(args.work, "recipe.json")))
    state = torch.load(os.path.join(args.work, "ckpt.pt"))
    cfg, dev = model_config(recipe), torch.device(args.device)
    assert state["step"] == recipe["steps"], f"the run stopped at step {state['step']} of {recipe['steps']}"
    data = Dataset(recipe["task"]["dir"])
    dtype_name = recipe.get("save_dtype", "F32")
    dtype = {"F16": torch.float16, "BF16": torch.bfloat16, "F32": torch.float32}[dtype_name]
    final = {k: v.float() for k, v in state["weights"].items()}
    os.makedirs(args.out, exist_ok=True)
    meta = {"format": "pt", "config": json.dumps({"n_layer": cfg.n_layer, "n_head": cfg.n_head, "n_embd": cfg.n_embd,
                                                   "n_inner": cfg.d_mlp, "n_positions": cfg.n_positions,
                                                   "vocab_size": cfg.vocab_size, "attn_only": cfg.attn_only,
                                                   "layer_norm_epsilon": cfg.layer_norm_epsilon}, separators=(",", ":"))}
    path = os.path.join(args.out, "model.safetensors")
    safetensors_io.save_file({k: final[k].to(dtype) for k in ref.weight_names(cfg)}, path, meta)
    stored = {k: v.float().to(dev) for k, v in safetensors_io.load_file(path)[0].items()}
    h32, count = heldout_loss({k: v.to(dev) for k, v in final.items()}, cfg, data, recipe, dev)
    hs, _ = heldout_loss(stored, cfg, data, recipe, dev)
    ind, layer, head = induction_score(stored, cfg, dev)
    name = os.path.basename(os.path.normpath(args.out))
    manifest = {"name": name, "description": recipe.get("description", ""),
                "config": json.loads(meta["config"]), "tokenizer": {"type": "gpt2"}, "weights": "model.safetensors",
                "card": "CARD.md", "placeholder": False, "default": recipe.get("default", False),
                "provenance": {"source": "trained by Loupe's PyTorch recipe (tools/train_torch/train_lm.py)",
                               "recipe": "recipe.json", "recipe_name": recipe.get("name", name), "steps": state["step"],
                               "tokens": state["tokens"], "wall_time_s": round(state["elapsed_s"]),
                               "weights_dtype": dtype_name,
                               "evaluation": {"heldout_loss": hs, "heldout_loss_f32": h32, "heldout_tokens": count,
                                              "induction_score": ind, "induction_head": f"{layer}.{head}"}}}
    json.dump(manifest, open(os.path.join(args.out, "manifest.json"), "w"), indent=2)
    json.dump(recipe, open(os.path.join(args.out, "recipe.json"), "w"), indent=2)
    shutil.copy(os.path.join(args.work, "eval.csv"), os.path.join(args.out, "eval.csv"))
    print(json.dumps(manifest["provenance"], indent=2))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["train", "export"])
    ap.add_argument("recipe", nargs="?", help="train: the recipe (JSON); omitted: continue the run in --work")
    ap.add_argument("--work", required=True, help="checkpoint and logs (outside the repository)")
    ap.add_argument("--out", help="export: the model folder to write")
    ap.add_argument("--steps", type=int, help="train: override the recipe's step count")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--bf16", action="store_true", help="train: bfloat16 autocast for the matrix products (GPU)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    (train if args.command == "train" else export)(args)


if __name__ == "__main__":
    main()
