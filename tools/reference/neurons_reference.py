"""Reference for Loupe's neuron index (DESIGN §9), written independently of the Java indexer.

    /usr/bin/python3 tools/reference/neurons_reference.py [--out DIR]

Writes, per small random model, ``neurons_<name>.safetensors`` (weights, config in the metadata) and
``neurons_<name>.json`` (the corpus it was indexed on and, per neuron, what the index must hold). Everything is
computed in float64 from the stored F32 weights, one window at a time:

- windows: each document cut into runs of n_ctx - 1 tokens, each run preceded by BOS (id vocab - 1); BOS
  positions are run but never counted; ``seq = window · n_ctx + position`` orders positions;
- moments (population), density (x > 0), min, max, top-k by (activation desc, seq asc) with the activations at
  positions [p - 12, p + 3];
- 50-bin histogram over [min, max] (bin = floor((x - min) / (max - min) · 50), clamped);
- 5 bands linspace(0, max, 6) over x >= 0; per band the examples with the smallest seeded keys
  ``splitmix64(seed · 0x9E3779B97F4A7C15 + g · 0xD1B54A32D192ED03 + seq)`` (unsigned, 64-bit wrap);
- mean per vocabulary token (tokens occurring at least 3 times): the 20 highest;
- POS: mean per coarse class and the 5 highest fine tags (count >= 3);
- the label rule (tokens covering the top examples, else a class) and its Pearson score on the scoring docs;
- weights only: logit effect e = (W_out[n] ⊙ ln_f.w) · W_Eᵀ, its top/bottom 10, Pearson kurtosis and skew,
  ‖w_in‖, ‖w_out‖, cos, and the layer's most congruent neuron for n's top token.
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
MASK = (1 << 64) - 1
CTX_BEFORE, CTX_AFTER, BANDS, BINS, LOGITS = 12, 3, 5, 50, 10
TAG_NAMES = ["", "at", "nn", "nns", "vb", "jj"]
TAG_CLASS = ["", "DET", "NOUN", "NOUN", "VERB", "ADJ"]

MODELS = [
    dict(name="a", cfg=ref.Config(n_layer=2, n_head=4, n_embd=32, n_inner=48, n_positions=16, vocab_size=60),
         seed=1301, docs=14, scoring=4, tagged=True, top=5, bands=3),
    dict(name="b", cfg=ref.Config(n_layer=1, n_head=2, n_embd=16, n_inner=32, n_positions=12, vocab_size=40),
         seed=1302, docs=9, scoring=3, tagged=False, top=4, bands=2),
]
SEED = 1234
MIN_TOKEN_COUNT = 3


def mix(z):
    z &= MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def make_docs(cfg, n, seed, tagged, lo=3, hi=40):
    """Documents of Zipf-distributed tokens (so some tokens are frequent), never BOS."""
    g = torch.Generator().manual_seed(seed)
    V = cfg.vocab_size - 1
    weights = torch.tensor([1.0 / (r + 1) for r in range(V)], dtype=torch.float64)
    docs = []
    for i in range(n):
        T = int(torch.randint(lo, hi + 1, (1,), generator=g))
        toks = torch.multinomial(weights, T, replacement=True, generator=g).tolist()
        tags = [1 + (t * 7 + 3) % (len(TAG_NAMES) - 1) if t % 5 else 0 for t in toks] if tagged else None
        docs.append({"id": f"d{seed}-{i}", "tokens": toks, "tags": tags})
    return docs


def windows(docs, n_ctx, bos):
    out = []
    for d, doc in enumerate(docs):
        toks = doc["tokens"]
        tags = doc["tags"] or [0] * len(toks)
        for at in range(0, len(toks), n_ctx - 1):
            chunk = toks[at:at + n_ctx - 1]
            out.append(dict(doc=d, offset=at, tokens=[bos] + chunk, tags=[0] + tags[at:at + n_ctx - 1]))
    return out


def activations(model, cfg, win):
    ids = torch.tensor([win["tokens"]], dtype=torch.int64)
    _, cache = ref.run_with_cache(model, cfg, ids)
    return [cache[f"blocks.{l}.mlp.hook_post"][0] for l in range(cfg.n_layer)]  # [T, d_mlp] each


def pearson(xs, ind):
    n = len(xs)
    sx, sxx = sum(xs), sum(x * x for x in xs)
    si = sum(ind)
    sxi = sum(x for x, i in zip(xs, ind) if i)
    vx, vi = n * sxx - sx * sx, n * si - si * si
    if vx <= 0 or vi <= 0:
        return None
    return (n * sxi - sx * si) / math.sqrt(vx * vi)


def derive_rule(tokens, classes):
    n = len(tokens)
    counts = {}
    for t in tokens:
        counts[t] = counts.get(t, 0) + 1
    order = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    min_count = max(2, math.ceil(0.1 * n - 1e-9))
    chosen, covered = [], 0
    for t, c in order:
        if c < min_count or len(chosen) == 5 or covered >= 0.8 * n:
            break
        chosen.append(t)
        covered += c
    if chosen:
        return {"tokens": chosen, "class": -1, "share": covered / n}
    if classes is None:
        return {"tokens": [], "class": -1, "share": 0}
    per = {}
    for c in classes:
        if c > 0:
            per[c] = per.get(c, 0) + 1
    if per:
        best = sorted(per.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        if best[1] >= 0.5 * n:
            return {"tokens": [], "class": best[0], "share": best[1] / n}
    return {"tokens": [], "class": -1, "share": 0}


def r6(x):
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(f"{x:.7g}")


def build(spec, out_dir):
    cfg = spec["cfg"]
    w32 = ref.init_weights(cfg, spec["seed"])
    model = {k: v.to(torch.float64) for k, v in w32.items()}
    bos, n_ctx, m, L = cfg.vocab_size - 1, cfg.n_positions, cfg.d_mlp, cfg.n_layer
    docs = make_docs(cfg, spec["docs"], spec["seed"], spec["tagged"])
    scoring = make_docs(cfg, spec["scoring"], spec["seed"] + 1, spec["tagged"])
    classes = ["", "ADJ", "DET", "NOUN", "VERB"] if spec["tagged"] else []
    tag_class_id = [classes.index(c) for c in TAG_CLASS] if spec["tagged"] else [0]
    wins = windows(docs, n_ctx, bos)
    acts = [activations(model, cfg, w) for w in wins]
    swins = windows(scoring, n_ctx, bos)
    sacts = [activations(model, cfg, w) for w in swins]

    counts = {}
    for w in wins:
        for t in w["tokens"][1:]:
            counts[t] = counts.get(t, 0) + 1
    tracked = sorted(t for t, c in counts.items() if c >= MIN_TOKEN_COUNT)

    neurons = []
    for l in range(L):
        win_ = model[f"h.{l}.mlp.c_fc.weight"]          # [d, m]
        wout = model[f"h.{l}.mlp.c_proj.weight"]         # [m, d]
        effects = (wout * model["ln_f.weight"]) @ model["wte.weight"].t()   # [m, V]
        best_neuron = effects.argmax(dim=0)              # first maximum
        for n in range(m):
            g = l * m + n
            rows = []   # (x, seq, win, pos, token, tag)
            for wi, (w, a) in enumerate(zip(wins, acts)):
                for p in range(1, len(w["tokens"])):
                    rows.append((float(a[l][p, n]), wi * n_ctx + p, wi, p, w["tokens"][p], w["tags"][p]))
            xs = [r[0] for r in rows]
            N = len(xs)
            mean = sum(xs) / N
            var = sum((x - mean) ** 2 for x in xs) / N
            skew = sum((x - mean) ** 3 for x in xs) / N / var ** 1.5
            kurt = sum((x - mean) ** 4 for x in xs) / N / var ** 2
            lo, hi = min(xs), max(xs)
            hist = [0] * BINS
            for x in xs:
                hist[max(0, min(BINS - 1, math.floor((x - lo) / (hi - lo) * BINS)))] += 1
            top = sorted(rows, key=lambda r: (-r[0], r[1]))[:spec["top"]]

            def context(wi, p):
                T = len(wins[wi]["tokens"])
                return [r6(float(acts[wi][l][q, n])) if 0 <= q < T else None for q in range(p - CTX_BEFORE, p + CTX_AFTER + 1)]

            bands = []
            for b in range(BANDS):
                inb = [r for r in rows if hi > 0 and r[0] >= 0 and min(BANDS - 1, math.floor(r[0] / hi * BANDS)) == b]
                keyed = sorted(inb, key=lambda r: mix(SEED * 0x9E3779B97F4A7C15 + g * 0xD1B54A32D192ED03 + r[1]))
                ex = keyed[:spec["bands"]]
                bands.append({"count": len(inb), "examples": sorted([[r[2], r[3], r6(r[0])] for r in ex], key=lambda e: (-e[2], e[0], e[1]))})
            tok_means = []
            for t in tracked:
                v = [r[0] for r in rows if r[4] == t]
                tok_means.append((t, sum(v) / len(v), len(v)))
            tok_means.sort(key=lambda e: (-e[1], e[0]))
            item = {
                "layer": l, "index": n, "max": r6(hi), "min": r6(lo), "mean": r6(mean), "variance": r6(var),
                "skew": r6(skew), "kurtosis": r6(kurt), "density": r6(sum(1 for x in xs if x > 0) / N),
                "top": [{"window": r[2], "position": r[3], "activation": r6(r[0]), "context": context(r[2], r[3])} for r in top],
                "bands": bands, "histogram": hist,
                "tokens": [[t, r6(v), c] for t, v, c in tok_means[:20]],
            }
            if spec["tagged"]:
                cls_means = []
                for c in range(len(classes)):
                    v = [r[0] for r in rows if tag_class_id[r[5]] == c]
                    cls_means.append(r6(sum(v) / len(v)) if v else None)
                fine = []
                for t in range(1, len(TAG_NAMES)):
                    v = [r[0] for r in rows if r[5] == t]
                    if len(v) >= 3:
                        fine.append((t, sum(v) / len(v), len(v)))
                fine.sort(key=lambda e: (-e[1], e[0]))
                item["classMeans"] = cls_means
                item["tags"] = [[t, r6(v), c] for t, v, c in fine[:5]]
            rule = derive_rule([r[4] for r in top], [tag_class_id[r[5]] for r in top] if spec["tagged"] else None)
            score = None
            if rule["tokens"] or rule["class"] >= 0:
                sx, ind = [], []
                for w, a in zip(swins, sacts):
                    for p in range(1, len(w["tokens"])):
                        sx.append(float(a[l][p, n]))
                        ind.append(w["tokens"][p] in rule["tokens"] if rule["class"] < 0 else tag_class_id[w["tags"][p]] == rule["class"])
                score = pearson(sx, ind)
            item["rule"] = rule
            item["score"] = r6(score)
            e = effects[n]
            em = e.mean()
            ev = ((e - em) ** 2).mean()
            order_top = sorted(range(len(e)), key=lambda t: (-float(e[t]), t))[:LOGITS]
            order_bottom = sorted(range(len(e)), key=lambda t: (float(e[t]), t))[:LOGITS]
            wi_, wo_ = win_[:, n], wout[n]
            item["logits"] = {
                "top": [[t, r6(float(e[t]))] for t in order_top],
                "bottom": [[t, r6(float(e[t]))] for t in order_bottom],
                "vocabKurtosis": r6(float(((e - em) ** 4).mean() / ev ** 2)),
                "vocabSkew": r6(float(((e - em) ** 3).mean() / ev ** 1.5)),
                "topTokenNeuron": int(best_neuron[order_top[0]]),
            }
            item["wIn"] = r6(float(wi_.norm()))
            item["wOut"] = r6(float(wo_.norm()))
            item["cos"] = r6(float(wi_ @ wo_ / (wi_.norm() * wo_.norm())))
            neurons.append(item)

    cfg_json = {"n_layer": cfg.n_layer, "n_head": cfg.n_head, "n_embd": cfg.n_embd, "n_inner": cfg.n_inner,
                "n_positions": cfg.n_positions, "vocab_size": cfg.vocab_size, "attn_only": False,
                "layer_norm_epsilon": cfg.layer_norm_epsilon}
    base = os.path.join(out_dir, "neurons_" + spec["name"])
    safetensors_io.save_file({k: w32[k] for k in ref.weight_names(cfg)}, base + ".safetensors",
                             {"format": "loupe-neurons-fixture-1", "config": json.dumps(cfg_json)})
    doc = {"config": cfg_json, "bos": bos, "top": spec["top"], "bandExamples": spec["bands"], "seed": SEED,
           "minTokenCount": MIN_TOKEN_COUNT, "docs": docs, "scoring": scoring,
           "tagNames": TAG_NAMES if spec["tagged"] else None, "tagClass": TAG_CLASS if spec["tagged"] else None,
           "classes": classes, "tokens": len([1 for w in wins for _ in w["tokens"][1:]]),
           "windows": [[w["doc"], w["offset"], len(w["tokens"])] for w in wins], "neurons": neurons}
    with open(base + ".json", "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    return base


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    args = ap.parse_args()
    for spec in MODELS:
        base = build(spec, args.out)
        for ext in (".safetensors", ".json"):
            print(f"{os.path.relpath(base + ext, REPO)}  {os.path.getsize(base + ext) / 1e3:.0f} kB")


if __name__ == "__main__":
    main()
