"""Trains Loupe's modular-addition model (a + b mod p) in PyTorch and writes a Loupe model folder.

The model is Loupe's GPT-2 (tools/reference/gpt2_reference.py: pre-LN, biases, gelu_new, tied unembedding);
the data is exactly ModAddTask's: all p² prompts ``a b =``, split by java.util.Collections.shuffle with
java.util.Random(split_seed), the first train_fraction of them trained on as one full batch per step.

The schedule is what makes the Fourier circuit of Nanda et al. ("Progress measures for grokking via mechanistic
interpretability") appear: AdamW with weight decay 1.0 at a *constant* learning rate after a short warm-up. (A
cosine decay of the learning rate also decays the effective weight decay lr·λ, and the embedding then keeps the
memorising components it learned first.)

  /usr/bin/python3 tools/train_torch/train_modadd.py train --work /tmp/modadd-work --steps 3000
  /usr/bin/python3 tools/train_torch/train_modadd.py evaluate --work /tmp/modadd-work --out onnx-models/modadd-113

``train`` writes ``ckpt-STEP.safetensors`` every --checkpoint-every steps into the work folder (resumable:
rerunning continues from the newest checkpoint, Adam state included). ``evaluate`` takes the key frequencies of the
last checkpoint and writes, per checkpoint, train/test loss and accuracy and Nanda's progress measures (restricted
loss: the logits kept only along the key frequencies' directions, on all pairs; excluded loss: the logits with those
directions removed, on the training pairs) to eval.csv, and the model folder's weights (F16 by default) and
manifest.json (with the test loss of the stored and of the F32 weights); recipe.json and CARD.md are written by hand.
"""
import argparse
import glob
import json
import math
import os
import re
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
import gpt2_reference as ref  # noqa: E402
import safetensors_io  # noqa: E402


# --------------------------------------------------------------------------- data (same split as ModAddTask)

class JavaRandom:
    """java.util.Random: the 48-bit linear congruential generator, for the same shuffle as Loupe's trainer."""

    def __init__(self, seed):
        self.seed = (seed ^ 0x5DEECE66D) & ((1 << 48) - 1)

    def next(self, bits):
        self.seed = (self.seed * 0x5DEECE66D + 0xB) & ((1 << 48) - 1)
        return self.seed >> (48 - bits)  # non-negative for bits < 32, the only use here

    def next_int(self, bound):
        if bound & -bound == bound:
            return (bound * self.next(31)) >> 31
        while True:
            u = self.next(31)
            r = u % bound
            if -(1 << 31) <= u - r + bound - 1 < (1 << 31):
                return r


def split(p, fraction, seed):
    """(train pairs, test pairs) as Collections.shuffle(pairs, new Random(seed)) orders them."""
    pairs = [(a, b) for a in range(p) for b in range(p)]
    rnd = JavaRandom(seed)
    for i in range(len(pairs), 1, -1):
        j = rnd.next_int(i)
        pairs[i - 1], pairs[j] = pairs[j], pairs[i - 1]
    n = int(math.floor(fraction * len(pairs) + 0.5))
    return pairs[:n], pairs[n:]


def prompts(pairs, p):
    t = torch.tensor(pairs, dtype=torch.long)
    ids = torch.cat([t, torch.full((len(pairs), 1), p, dtype=torch.long)], dim=1)
    return ids, (t[:, 0] + t[:, 1]) % p


# --------------------------------------------------------------------------- model

def config(args):
    return ref.Config(n_layer=1, n_head=args.n_head, n_embd=args.d_model, n_positions=3, vocab_size=args.p + 1,
                      n_inner=args.d_mlp, attn_only=False, layer_norm_epsilon=1e-5)


def init(cfg, seed):
    """Loupe's trainer initialisation: GPT-2's N(0, 0.02), output projections scaled by 1/√(2·n_layer),
    LayerNorm weights 1, biases 0."""
    g = torch.Generator().manual_seed(seed)
    W = {}
    for name in ref.weight_names(cfg):
        shape = {"wte.weight": (cfg.vocab_size, cfg.n_embd), "wpe.weight": (cfg.n_positions, cfg.n_embd),
                 "h.0.attn.c_attn.weight": (cfg.n_embd, 3 * cfg.n_embd), "h.0.attn.c_attn.bias": (3 * cfg.n_embd,),
                 "h.0.attn.c_proj.weight": (cfg.n_embd, cfg.n_embd), "h.0.mlp.c_fc.weight": (cfg.n_embd, cfg.d_mlp),
                 "h.0.mlp.c_fc.bias": (cfg.d_mlp,), "h.0.mlp.c_proj.weight": (cfg.d_mlp, cfg.n_embd)
                 }.get(name, (cfg.n_embd,))
        if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name == "ln_f.weight":
            W[name] = torch.ones(shape)
        elif name.endswith(".bias"):
            W[name] = torch.zeros(shape)
        else:
            std = 0.02 / math.sqrt(2 * cfg.n_layer) if name.endswith("c_proj.weight") else 0.02
            W[name] = torch.randn(shape, generator=g) * std
    return W


def decays(name):
    """Weight decay on matrices and embeddings, not on biases and LayerNorm weights (as Loupe's trainer)."""
    return name.endswith(".weight") and ".ln_" not in name and not name.startswith("ln_f")


def answer_logits(W, cfg, ids):
    """Logits at '=' only. In one layer, positions 0 and 1 feed only attention's keys and values, so the MLP and
    the unembedding run at the last position alone; and what a position feeds attention (LN, then q, k, v) depends
    only on its token, so it is computed once per (position, token) and gathered per prompt. Equal to
    gpt2_reference.forward(...)[:, -1] (checked at start)."""
    d, nh, dh, eps = cfg.n_embd, cfg.n_head, cfg.d_head, cfg.layer_norm_epsilon

    def ln(x, w, b):
        xc = x - x.mean(-1, keepdim=True)
        return xc / (xc.pow(2).mean(-1, keepdim=True) + eps).sqrt() * w + b

    table = W["wte.weight"][None] + W["wpe.weight"][:, None]               # [3,V,d]: residual per (pos, token)
    x = ln(table, W["h.0.ln_1.weight"], W["h.0.ln_1.bias"])
    kv = x @ W["h.0.attn.c_attn.weight"][:, d:] + W["h.0.attn.c_attn.bias"][d:]  # [3,V,2d]
    q_table = x[2] @ W["h.0.attn.c_attn.weight"][:, :d] + W["h.0.attn.c_attn.bias"][:d]  # [V,d]
    q = q_table[ids[:, 2]].reshape(-1, nh, dh)
    kv = torch.stack([kv[j][ids[:, j]] for j in range(3)], 1)              # [n,3,2d]
    k = kv[..., :d].reshape(-1, 3, nh, dh)
    v = kv[..., d:].reshape(-1, 3, nh, dh)
    pattern = torch.softmax(torch.einsum("nhe,nkhe->nhk", q, k) / math.sqrt(dh), dim=-1)
    z = torch.einsum("nhk,nkhe->nhe", pattern, v).reshape(-1, d)
    mid = table[2][ids[:, 2]] + z @ W["h.0.attn.c_proj.weight"] + W["h.0.attn.c_proj.bias"]
    pre = ln(mid, W["h.0.ln_2.weight"], W["h.0.ln_2.bias"]) @ W["h.0.mlp.c_fc.weight"] + W["h.0.mlp.c_fc.bias"]
    out = mid + ref.gelu_new(pre) @ W["h.0.mlp.c_proj.weight"] + W["h.0.mlp.c_proj.bias"]
    return ln(out, W["ln_f.weight"], W["ln_f.bias"]) @ W["wte.weight"].t()


def loss_acc(logits, target, p):
    """Cross-entropy over the full vocabulary (as Loupe's trainer) and accuracy over the p number tokens."""
    loss = torch.nn.functional.cross_entropy(logits, target)
    acc = (logits[:, :p].argmax(-1) == target).float().mean()
    return loss, acc


# --------------------------------------------------------------------------- Fourier analysis

def fourier_power(W_E):
    """Power of each frequency k = 0 … p//2 of the embedding rows (number tokens) over the token axis:
    |DFT_k|² summed over d_model, the k and p−k terms together (both real directions cos and sin)."""
    F = torch.fft.fft(W_E.double(), dim=0)                                 # [p, d]
    P = (F.abs() ** 2).sum(-1)
    p = W_E.shape[0]
    power = [P[0].item()] + [(P[k] + P[p - k]).item() for k in range(1, p // 2 + 1)]
    return power


def key_frequencies(W_E, n):
    power = fourier_power(W_E)
    order = sorted(range(1, len(power)), key=lambda k: -power[k])
    nonconst = sum(power[1:])
    return order[:n], sum(power[k] for k in order[:n]) / nonconst


def directions(p, keys):
    """Orthonormal columns over all p² pairs (a-major): the constant, and cos/sin(2πk(a+b)/p) per key k."""
    a = torch.arange(p, dtype=torch.float64).repeat_interleave(p)
    b = torch.arange(p, dtype=torch.float64).repeat(p)
    cols = [torch.ones(p * p, dtype=torch.float64)]
    for k in keys:
        ang = 2 * math.pi * k * (a + b) / p
        cols += [torch.cos(ang), torch.sin(ang)]
    Q = torch.stack(cols, 1)
    return Q / Q.norm(dim=0)


def progress(W, cfg, p, keys, train_idx):
    """Nanda's restricted and excluded loss. Logits over all pairs [p², p]; restricted keeps their projection on
    the constant and the key directions cos/sin(w_k(a+b)) (loss on all pairs); excluded removes the key
    directions (not the constant) and is measured on the training pairs."""
    ids, target = prompts([(a, b) for a in range(p) for b in range(p)], p)
    with torch.no_grad():
        logits = answer_logits(W, cfg, ids)[:, :p].double()
    Q = directions(p, keys)
    proj = Q @ (Q.t() @ logits)
    const = Q[:, :1] @ (Q[:, :1].t() @ logits)
    restricted = torch.nn.functional.cross_entropy(proj, target).item()
    excl = logits - (proj - const)
    excluded = torch.nn.functional.cross_entropy(excl[train_idx], target[train_idx]).item()
    return restricted, excluded


# --------------------------------------------------------------------------- commands

def checkpoints(work):
    found = []
    for f in glob.glob(os.path.join(work, "ckpt-*.safetensors")):
        m = re.search(r"ckpt-(\d+)\.safetensors$", f)
        if m:
            found.append((int(m.group(1)), f))
    return sorted(found)


def weight_decay_at(args, step):
    """--weight-decay, or from step S on the value V of the last stage S:V of --weight-decay-from that has begun."""
    wd = args.weight_decay
    for stage in filter(None, args.weight_decay_from.split(",")):
        s, v = stage.split(":")
        if step >= int(s):
            wd = float(v)
    return wd


def train(args):
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # weight decay drives weights towards 0: denormals would slow every step
    os.makedirs(args.work, exist_ok=True)
    cfg = config(args)
    train_pairs, test_pairs = split(args.p, args.train_fraction, args.split_seed)
    x_tr, y_tr = prompts(train_pairs, args.p)
    x_te, y_te = prompts(test_pairs, args.p)
    W = init(cfg, args.seed)
    with torch.no_grad():  # the fast forward is the reference's forward at '='
        full = ref.forward(W, cfg, x_te[:64])[:, -1]
        assert torch.allclose(full, answer_logits(W, cfg, x_te[:64]), atol=1e-5), "answer_logits != reference forward"
    params = {k: v.clone().requires_grad_(True) for k, v in W.items()}
    groups = [{"params": [params[k] for k in params if decays(k)], "weight_decay": args.weight_decay},
              {"params": [params[k] for k in params if not decays(k)], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=args.lr, betas=(args.beta1, args.beta2), eps=1e-8)
    start, elapsed = 0, 0.0
    done = checkpoints(args.work)
    if done:
        step, f = done[-1]
        state = torch.load(f.replace(".safetensors", ".opt.pt"))
        with torch.no_grad():
            for k, t in safetensors_io.load_file(f)[0].items():
                params[k].copy_(t)
        opt.load_state_dict(state["opt"])
        start, elapsed = step, state["elapsed_s"]
        print(f"resumed at step {start} from {f}", flush=True)
    sched = lambda s: min(1.0, (s + 1) / args.warmup) if args.warmup > 0 else 1.0  # noqa: E731
    log = open(os.path.join(args.work, "train.csv"), "a")
    if start == 0:
        log.write("step,train_loss,train_accuracy,test_loss,test_accuracy,key_frequencies,concentration,elapsed_s\n")
    t0 = time.time()
    for step in range(start, args.steps):
        for g in opt.param_groups:
            g["lr"] = args.lr * sched(step)
        opt.param_groups[0]["weight_decay"] = weight_decay_at(args, step)
        loss, _ = loss_acc(answer_logits(params, cfg, x_tr), y_tr, args.p)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(params.values()), args.clip)
        opt.step()
        n = step + 1
        if n % args.checkpoint_every == 0 or n == args.steps:
            now = elapsed + time.time() - t0
            with torch.no_grad():
                tr_l, tr_a = loss_acc(answer_logits(params, cfg, x_tr), y_tr, args.p)
                te_l, te_a = loss_acc(answer_logits(params, cfg, x_te), y_te, args.p)
                keys, conc = key_frequencies(params["wte.weight"][:args.p], 6)
            f = os.path.join(args.work, f"ckpt-{n:06d}.safetensors")
            safetensors_io.save_file({k: v.detach() for k, v in params.items()}, f, {"step": str(n)})
            torch.save({"opt": opt.state_dict(), "elapsed_s": now}, f.replace(".safetensors", ".opt.pt"))
            for old, g in checkpoints(args.work)[:-1]:  # Adam state only for the newest (resume)
                o = g.replace(".safetensors", ".opt.pt")
                if os.path.exists(o):
                    os.remove(o)
            log.write(f"{n},{tr_l:.6g},{tr_a:.6g},{te_l:.6g},{te_a:.6g},{' '.join(map(str, keys))},{conc:.4f},{now:.1f}\n")
            log.flush()
            print(f"step {n}: train {tr_l:.4g} ({tr_a:.4f}) test {te_l:.4g} ({te_a:.4f}) keys {keys} "
                  f"{100 * conc:.1f} %  {now:.0f} s", flush=True)
    with open(os.path.join(args.work, "args.json"), "w") as f:
        json.dump(vars(args), f, indent=2)


def evaluate(args):
    torch.set_num_threads(args.threads)
    a = json.load(open(os.path.join(args.work, "args.json")))
    for k, v in a.items():
        if k not in ("command", "work", "out", "threads", "description"):
            setattr(args, k, v)
    cfg = config(args)
    p = args.p
    train_pairs, test_pairs = split(p, args.train_fraction, args.split_seed)
    x_tr, y_tr = prompts(train_pairs, p)
    x_te, y_te = prompts(test_pairs, p)
    train_idx = torch.tensor([a_ * p + b_ for a_, b_ in train_pairs])
    ckpts = checkpoints(args.work)
    final = {k: v.float() for k, v in safetensors_io.load_file(ckpts[-1][1])[0].items()}
    keys, conc = key_frequencies(final["wte.weight"][:p], args.n_keys)
    elapsed = {int(l.split(",")[0]): float(l.rstrip().split(",")[-1])
               for l in open(os.path.join(args.work, "train.csv")).readlines()[1:]}
    rows = ["step,tokens,train_loss,train_accuracy,test_loss,test_accuracy,restricted_loss,excluded_loss,"
            "key_power_fraction,elapsed_s"]
    for step, f in ckpts:
        W = {k: v.float() for k, v in safetensors_io.load_file(f)[0].items()}
        with torch.no_grad():
            tr_l, tr_a = loss_acc(answer_logits(W, cfg, x_tr), y_tr, p)
            te_l, te_a = loss_acc(answer_logits(W, cfg, x_te), y_te, p)
        restricted, excluded = progress(W, cfg, p, keys, train_idx)
        power = fourier_power(W["wte.weight"][:p])
        frac = sum(power[k] for k in keys) / sum(power[1:])
        rows.append(f"{step},{step * len(train_pairs) * 3},{tr_l:.6g},{tr_a:.6g},{te_l:.6g},{te_a:.6g},"
                    f"{restricted:.6g},{excluded:.6g},{frac:.4f},{elapsed.get(step, 0):.1f}")
    os.makedirs(args.out, exist_ok=True)
    open(os.path.join(args.out, "eval.csv"), "w").write("\n".join(rows) + "\n")
    meta = {"format": "pt", "config": json.dumps({"n_layer": 1, "n_head": cfg.n_head, "n_embd": cfg.n_embd,
                                                   "n_inner": cfg.n_inner, "n_positions": 3, "vocab_size": p + 1,
                                                   "attn_only": False, "layer_norm_epsilon": 1e-5},
                                                  separators=(",", ":"))}
    dtype = {"F16": torch.float16, "BF16": torch.bfloat16, "F32": torch.float32}[args.save_dtype]
    safetensors_io.save_file({k: final[k].to(dtype) for k in ref.weight_names(cfg)},
                             os.path.join(args.out, "model.safetensors"), meta)
    stored = {k: v.float() for k, v in safetensors_io.load_file(os.path.join(args.out, "model.safetensors"))[0].items()}
    summary = {"steps": ckpts[-1][0], "key_frequencies": keys, "key_power_fraction": round(conc, 4)}
    for label, W in (("f32", final), (args.save_dtype.lower(), stored)):
        with torch.no_grad():
            tr_l, tr_a = loss_acc(answer_logits(W, cfg, x_tr), y_tr, p)
            te_l, te_a = loss_acc(answer_logits(W, cfg, x_te), y_te, p)
        summary[label] = {"train_loss": tr_l.item(), "train_accuracy": tr_a.item(),
                          "test_loss": te_l.item(), "test_accuracy": te_a.item()}
    summary["restricted_loss"], summary["excluded_loss"] = progress(final, cfg, p, keys, train_idx)
    summary["wall_time_s"] = elapsed.get(ckpts[-1][0], 0)
    power = fourier_power(final["wte.weight"][:p])
    summary["power_fraction_by_count"] = {n: round(key_frequencies(final["wte.weight"][:p], n)[1], 4) for n in (5, 6, 8, 10)}
    summary["strongest_frequencies"] = sorted(range(1, len(power)), key=lambda k: -power[k])[:10]
    print(json.dumps(summary, indent=2))
    json.dump(summary, open(os.path.join(args.work, "summary.json"), "w"), indent=2)
    write_manifest(args, cfg, summary, len(train_pairs))


def write_manifest(args, cfg, summary, n_train):
    """The model folder's manifest.json: a list vocabulary (the numbers, then '='), scored from position 2 on (only
    the prediction at '=' was trained), and the provenance with the evaluation of the stored weights."""
    p, stored = args.p, summary[args.save_dtype.lower()]
    manifest = {
        "name": os.path.basename(os.path.normpath(args.out)),
        "description": args.description,
        "config": {"n_layer": 1, "n_head": cfg.n_head, "n_embd": cfg.n_embd, "n_inner": cfg.n_inner, "n_positions": 3,
                   "vocab_size": p + 1, "attn_only": False, "layer_norm_epsilon": 1e-05},
        "tokenizer": {"type": "list", "vocab": [str(i) for i in range(p)] + ["="]},
        "weights": "model.safetensors",
        "card": "CARD.md",
        "placeholder": False,
        "scored_after": 2,
        "provenance": {
            "source": "trained by Loupe's PyTorch recipe (tools/train_torch/train_modadd.py)",
            "recipe": "recipe.json",
            "steps": summary["steps"],
            "tokens": summary["steps"] * n_train * 3,
            "wall_time_s": round(summary["wall_time_s"]),
            "weights_dtype": args.save_dtype,
            "evaluation": {
                "train_loss": round(stored["train_loss"], 7), "train_accuracy": round(stored["train_accuracy"], 6),
                "test_loss": round(stored["test_loss"], 7), "test_accuracy": round(stored["test_accuracy"], 6),
                "test_loss_f32": round(summary["f32"]["test_loss"], 7),
                "restricted_loss": round(summary["restricted_loss"], 4), "excluded_loss": round(summary["excluded_loss"], 4),
                "key_frequencies": summary["key_frequencies"], "key_power_fraction": summary["key_power_fraction"],
                "top10_power_fraction": summary["power_fraction_by_count"][10],
            },
        },
    }
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["train", "evaluate"])
    ap.add_argument("--work", required=True, help="checkpoints and logs (outside the repository)")
    ap.add_argument("--out", help="evaluate: the model folder to write")
    ap.add_argument("--p", type=int, default=113)
    ap.add_argument("--train-fraction", type=float, default=0.3)
    ap.add_argument("--split-seed", type=int, default=0)
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--d-mlp", type=int, default=512)
    ap.add_argument("--n-head", type=int, default=4)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--weight-decay", type=float, default=1.0)
    ap.add_argument("--weight-decay-from", default="", metavar="STEP:VALUE",
                    help="a stronger weight decay from STEP on (speeds up the clean-up phase); "
                         "several stages separated by commas")
    ap.add_argument("--beta1", type=float, default=0.9)
    ap.add_argument("--beta2", type=float, default=0.98)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--checkpoint-every", type=int, default=100)
    ap.add_argument("--n-keys", type=int, default=6, help="evaluate: how many key frequencies")
    ap.add_argument("--save-dtype", default="F16", choices=["F16", "BF16", "F32"])
    ap.add_argument("--description", default="A one-layer transformer that learned modular addition (a + b mod p) "
                    "with a Fourier circuit.", help="evaluate: the manifest's description")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    (train if args.command == "train" else evaluate)(args)


if __name__ == "__main__":
    main()
