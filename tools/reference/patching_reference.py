"""Activation patching as TransformerLens does it: one hooked forward pass per patched index.

The independent reference for Loupe's patching sweeps (DESIGN.md §8). Two uses:

    /usr/bin/python3 tools/reference/patching_reference.py fixtures [--out FILE]
        writes backend/src/test/resources/fixtures/patching.json (golden values, float64, on the weights of the
        existing fixture models odd_3l and attnonly_2l)
    /usr/bin/python3 tools/reference/patching_reference.py bench --weights FILE --clean IDS --corrupt IDS
        --sweep NAME --metric SPEC [--max-indices N]
        times the loop (the anchor of `./loupe bench patching`) and prints one JSON line
    /usr/bin/python3 tools/reference/patching_reference.py path-fixtures | path-mlp-fixtures [--out FILE]
        writes patching_path.json (sender heads) and patching_path_mlp.json (sender MLPs, MLPs frozen)
    /usr/bin/python3 tools/reference/patching_reference.py mean-text-fixtures [--out FILE]
        writes backend/src/test/resources/fixtures/patching_mean_text.json (the mean ablation over a text)

Conventions (shared with dev.loupe.patching):
  sweeps   resid_pre resid_mid resid_post attn_out mlp_out -> [layer, pos]
           head_out head_q head_k head_v head_pattern -> [layer, head] (every position of the head)
           the same + _by_pos -> [layer, pos, head] (query position for head_pattern)
           neurons:L:P -> [d_mlp] (mlp.hook_post of layer L at position P, negative from the end)
           neurons:L -> [pos, d_mlp]
  modes    denoise: corrupted run, clean activation put in; noise: clean run, corrupted activation put in;
           zero / mean / resample ablation of the clean run: zero; the mean over every pair's clean prompt and
           every position (over pairs only for attention patterns); pair i's value from the clean prompt of pair
           i+1 (mod n), or the corrupted prompt when there is one pair; mean over a text: the mean over every
           position of the text's own run (no attention patterns: their shape depends on the length)
  metrics  logit_diff:POS:A:B, logprob:POS:A, prob:POS:A, kl:POS (KL(clean || patched) of the next-token
           distributions at POS), loss (mean next-token cross-entropy of the run's own tokens); the mean over pairs
  path     path:logits, path:q:L.H,L.H, path:k:..., path:v:... -> [layer, head] over sender heads: step 1 the base
           and source runs; step 2 the base run with the sender head's hook_z from the source and every other
           head's hook_z frozen to the base run (MLPs recomputed), keeping the receivers' hook_q/k/v (or, for
           logits, its logits); step 3 (q/k/v) the base run with only the receiver heads' q/k/v from step 2.
           Senders in or after the last receiver's layer change nothing (the base metric).
           path_mlp:… -> [layer]: the sender is an MLP's hook_mlp_out; a trailing :frozen also freezes every
           other MLP's hook_mlp_out to the base run
  attribution  sum over the index's elements of (a_source - a_base) * d metric / d a at the base run
"""
import argparse
import json
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt2_reference as ref  # noqa: E402

torch.set_num_threads(1)

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(REPO, "backend", "src", "test", "resources", "fixtures")

LAYER_POS = {"resid_pre": "hook_resid_pre", "resid_mid": "hook_resid_mid", "resid_post": "hook_resid_post",
             "attn_out": "hook_attn_out", "mlp_out": "hook_mlp_out"}
HEADS = {"head_out": "attn.hook_z", "head_q": "attn.hook_q", "head_k": "attn.hook_k", "head_v": "attn.hook_v",
         "head_pattern": "attn.hook_pattern"}


def sweep_sites(sweep: str, cfg: ref.Config, T: int):
    """(shape, [(hook name, index tuple into the batch-1 hook tensor)]) in row-major order of the shape."""
    L, H = cfg.n_layer, cfg.n_head
    if sweep in LAYER_POS:
        local = LAYER_POS[sweep]
        return [L, T], [(f"blocks.{l}.{local}", (0, p)) for l in range(L) for p in range(T)]
    base = sweep[:-len("_by_pos")] if sweep.endswith("_by_pos") else sweep
    if base in HEADS:
        local, pattern = HEADS[base], base == "head_pattern"
        if base == sweep:
            return [L, H], [(f"blocks.{l}.{local}", (0, h) if pattern else (0, slice(None), h))
                            for l in range(L) for h in range(H)]
        return [L, T, H], [(f"blocks.{l}.{local}", (0, h, p) if pattern else (0, p, h))
                           for l in range(L) for p in range(T) for h in range(H)]
    parts = sweep.split(":")
    if parts[0] == "neurons" and len(parts) in (2, 3):
        l = int(parts[1])
        hook = f"blocks.{l}.mlp.hook_post"
        if len(parts) == 3:
            p = int(parts[2]) % T
            return [cfg.d_mlp], [(hook, (0, p, n)) for n in range(cfg.d_mlp)]
        return [T, cfg.d_mlp], [(hook, (0, p, n)) for p in range(T) for n in range(cfg.d_mlp)]
    raise ValueError("unknown sweep " + sweep)


def metric_value(spec: str, logits, ids, clean_logits):
    """The metric of one run (batch 1)."""
    parts = spec.split(":")
    T = logits.shape[1]
    if parts[0] in ("logit_diff", "logprob", "loss"):
        return ref.metric(spec, logits, ids)
    p = ref._pos(int(parts[1]), T)
    if parts[0] == "prob":
        return torch.softmax(logits[0, p], -1)[int(parts[2])]
    if parts[0] == "kl":
        lc = torch.log_softmax(clean_logits[0, p], -1)
        lp = torch.log_softmax(logits[0, p], -1)
        return (lc.exp() * (lc - lp)).sum()
    raise ValueError("unknown metric " + spec)


def setup(weights, cfg, pairs, mode, mean_text=None):
    """Per pair: (base ids, clean ids, source activation cache) for a mode; mean_text: the mean ablation's text."""
    if mode == "mean" and mean_text is not None:
        T = len(pairs[0][0])
        _, text_cache = ref.run_with_cache(weights, cfg, torch.tensor([mean_text]))
        mean = {n: t.mean((0, 1), keepdim=True).expand(1, T, *t.shape[2:]) for n, t in text_cache.items()
                if not n.endswith("hook_pattern") and not n.endswith("hook_attn_scores")}
        return [(c, c, mean) for c, _ in pairs]
    caches = [(ref.run_with_cache(weights, cfg, torch.tensor([c]))[1], ref.run_with_cache(weights, cfg, torch.tensor([k]))[1])
              for c, k in pairs]
    out = []
    for i, (c, k) in enumerate(pairs):
        clean_cache, corrupt_cache = caches[i]
        if mode == "denoise":
            out.append((k, c, clean_cache))
        elif mode == "noise":
            out.append((c, c, corrupt_cache))
        elif mode == "zero":
            out.append((c, c, {n: torch.zeros_like(t) for n, t in clean_cache.items()}))
        elif mode == "mean":
            mean = {}
            for n, t in clean_cache.items():
                stacked = torch.cat([caches[j][0][n] for j in range(len(pairs))], 0)
                if n.endswith("hook_pattern"):
                    mean[n] = stacked.mean(0, keepdim=True)
                else:
                    mean[n] = stacked.mean((0, 1), keepdim=True).expand_as(t)
            out.append((c, c, mean))
        elif mode == "resample":
            out.append((c, c, caches[(i + 1) % len(pairs)][0] if len(pairs) > 1 else corrupt_cache))
        else:
            raise ValueError("unknown mode " + mode)
    return out


def patched_run(weights, cfg, ids, hook, index, source):
    def patch(t):
        t = t.clone()
        t[index] = source[index]
        return t
    with torch.no_grad():
        return ref.forward(weights, cfg, torch.tensor([ids]), ref.Hooks(record=False, patches={hook: patch}))


def sweep(weights, cfg, pairs, sweep_name, mode, spec, mean_text=None):
    """TransformerLens's loop: for every index, one hooked forward per pair; the metric's mean over pairs."""
    T = len(pairs[0][0])
    shape, sites = sweep_sites(sweep_name, cfg, T)
    runs = setup(weights, cfg, pairs, mode, mean_text)
    clean_logits = [ref.forward(weights, cfg, torch.tensor([c])) for c, _ in pairs]
    values = []
    for hook, index in sites:
        total = 0.0
        for i, (base, _, source) in enumerate(runs):
            logits = patched_run(weights, cfg, base, hook, index, source[hook])
            total += float(metric_value(spec, logits, torch.tensor([base]), clean_logits[i]))
        values.append(total / len(runs))
    return shape, values


def plain_metrics(weights, cfg, pairs, spec):
    clean, corrupt = 0.0, 0.0
    with torch.no_grad():
        for c, k in pairs:
            lc = ref.forward(weights, cfg, torch.tensor([c]))
            lk = ref.forward(weights, cfg, torch.tensor([k]))
            clean += float(metric_value(spec, lc, torch.tensor([c]), lc))
            corrupt += float(metric_value(spec, lk, torch.tensor([k]), lc))
    return clean / len(pairs), corrupt / len(pairs)


def attribution(weights, cfg, pairs, sweep_name, mode, spec, mean_text=None):
    """(a_source - a_base) . d metric / d a at the base run, summed over each index's elements; mean over pairs."""
    T = len(pairs[0][0])
    shape, sites = sweep_sites(sweep_name, cfg, T)
    runs = setup(weights, cfg, pairs, mode, mean_text)
    totals = [0.0] * len(sites)
    for i, (base, clean, source) in enumerate(runs):
        rec = ref.Hooks(record=True, retain_grad=True)
        x = {k: v.clone().requires_grad_(True) for k, v in weights.items()}
        logits = ref.forward(x, cfg, torch.tensor([base]), rec)
        with torch.no_grad():
            clean_logits = ref.forward(weights, cfg, torch.tensor([clean]))
        metric_value(spec, logits, torch.tensor([base]), clean_logits).backward()
        for s, (hook, index) in enumerate(sites):
            a, g = rec.cache[hook], rec.cache[hook].grad
            g = torch.zeros_like(a) if g is None else g
            totals[s] += float(((source[hook] - a.detach()) * g)[index].sum())
    return shape, [t / len(runs) for t in totals]


# --------------------------------------------------------------------------- fixtures

ALL_SWEEPS = (list(LAYER_POS) + list(HEADS) + [h + "_by_pos" for h in HEADS])
MODES = ["denoise", "noise", "zero", "mean", "resample"]


def fixture_cases(cfg):
    sweeps = [s for s in ALL_SWEEPS if not (cfg.attn_only and s in ("resid_mid", "mlp_out"))]
    if not cfg.attn_only:
        sweeps += ["neurons:1:-1", "neurons:%d" % (cfg.n_layer - 1)]
    ld = "logit_diff:-1:11:42"
    cases = []
    for s in sweeps:
        for m in MODES:
            cases.append((s, m, ld, m in ("denoise", "noise")))
    for s in ["resid_pre", "head_out_by_pos", "head_pattern"] + ([] if cfg.attn_only else ["neurons:1:-1"]):
        for spec in ["logprob:-1:11", "prob:-1:11", "kl:-1", "loss", "logit_diff:-2:5:7"]:
            for m in ("denoise", "noise"):
                cases.append((s, m, spec, True))
    return cases


def fixture_models():
    """(name, config, float64 weights, pairs) of both fixture models: two pairs of 6 tokens (BOS-like first id),
    differing at 1 and 2 positions."""
    for name in ("odd_3l", "attnonly_2l"):
        cfg, weights, _ = ref.load_model(os.path.join(FIXTURES, name + ".safetensors"))
        weights = {k: v.to(torch.float64) for k, v in weights.items()}
        V = cfg.vocab_size
        pairs = [([V - 1, 17, 5, 23, 9, 31], [V - 1, 17, 8, 23, 9, 31]),
                 ([V - 1, 40, 2, 13, 6, 21], [V - 1, 40, 3, 13, 19, 21])]
        yield name, cfg, weights, pairs


def case_of(weights, cfg, pairs, sweep_name, mode, spec, mean_text=None):
    """One fixture case: the sweep (or path sweep) and the unpatched metrics."""
    run = path_patch if sweep_name.startswith(("path:", "path_mlp:")) else sweep
    shape, values = run(weights, cfg, pairs, sweep_name, mode, spec, mean_text)
    clean, corrupt = plain_metrics(weights, cfg, pairs, spec)
    return dict(sweep=sweep_name, mode=mode, metric=spec, shape=shape, clean_metric=clean, corrupt_metric=corrupt,
                values=[round(v, 7) for v in values])


def write_fixture(out_path, models):
    with open(out_path, "w") as f:
        json.dump(dict(format="loupe-patching-fixture-1", models=models), f, separators=(",", ":"))
        f.write("\n")


def make_fixtures(out_path):
    models = []
    for name, cfg, weights, pairs in fixture_models():
        cases = []
        for s, m, spec, attr in fixture_cases(cfg):
            case = case_of(weights, cfg, pairs, s, m, spec)
            if attr:
                case["attribution"] = [round(v, 7) for v in attribution(weights, cfg, pairs, s, m, spec)[1]]
            cases.append(case)
        # one pair alone: resample takes the corrupted prompt
        cases.append(dict(case_of(weights, cfg, pairs[:1], "resid_pre", "resample", "logit_diff:-1:11:42"), single_pair=True))
        models.append(dict(model=name, pairs=[dict(clean=c, corrupt=k) for c, k in pairs], cases=cases))
        print(name, len(cases), "cases", file=sys.stderr)
    write_fixture(out_path, models)


# --------------------------------------------------------------------------- path patching


def parse_receivers(sweep_name):
    """(receiver input, receiver heads, MLP senders?, MLPs frozen?) of path:… or path_mlp:…, ending :frozen."""
    parts = sweep_name.split(":")
    frozen = parts[-1] == "frozen"
    if frozen:
        parts = parts[:-1]
    mlp = parts[0] == "path_mlp"
    if parts[1] == "logits":
        return "logits", [], mlp, frozen
    return parts[1], [tuple(int(x) for x in r.split(".")) for r in parts[2].split(",")], mlp, frozen


def path_patch(weights, cfg, pairs, sweep_name, mode, spec, mean_text=None):
    """Path patching from every sender head, or every sender MLP (path_mlp), as TransformerLens users do it, one
    hooked pass per step. Step 2 freezes every head's hook_z to the base run, and with :frozen every MLP's
    hook_mlp_out too; the sender (a head's hook_z or an MLP's hook_mlp_out) comes from the source run."""
    L, H = cfg.n_layer, cfg.n_head
    kind, receivers, mlp_senders, frozen = parse_receivers(sweep_name)
    last = L if kind == "logits" else max(l for l, _ in receivers)
    runs = setup(weights, cfg, pairs, mode, mean_text)
    base_caches = [ref.run_with_cache(weights, cfg, torch.tensor([b]))[1] for b, _, _ in runs]
    clean_logits = [ref.forward(weights, cfg, torch.tensor([c])) for c, _ in pairs]
    values = []
    senders = [(ls, None) for ls in range(L)] if mlp_senders else [(ls, hs) for ls in range(L) for hs in range(H)]
    for ls, hs in senders:
            total = 0.0
            for i, (base, _, source) in enumerate(runs):
                bc = base_caches[i]
                if ls >= last:
                    logits = ref.forward(weights, cfg, torch.tensor([base]))
                    total += float(metric_value(spec, logits, torch.tensor([base]), clean_logits[i]))
                    continue
                patches = {}
                for l in range(L):
                    name = f"blocks.{l}.attn.hook_z"

                    def freeze(t, name=name, l=l):
                        t = bc[name].clone()
                        if l == ls and hs is not None:
                            t[:, :, hs] = source[name][:, :, hs]
                        return t
                    patches[name] = freeze
                    mlp = f"blocks.{l}.hook_mlp_out"
                    if mlp_senders and l == ls:
                        patches[mlp] = lambda t, mlp=mlp: source[mlp].clone()
                    elif frozen and not cfg.attn_only:
                        patches[mlp] = lambda t, mlp=mlp: bc[mlp].clone()
                rec = ref.Hooks(record=True, patches=patches)
                with torch.no_grad():
                    logits = ref.forward(weights, cfg, torch.tensor([base]), rec)
                if kind != "logits":
                    step3 = {}
                    for l in sorted({l for l, _ in receivers}):
                        name = f"blocks.{l}.attn.hook_{kind}"
                        heads = [h for rl, h in receivers if rl == l]

                        def put(t, name=name, heads=heads, cached=rec.cache[name].detach().clone()):
                            t = t.clone()
                            for h in heads:
                                t[:, :, h] = cached[:, :, h]
                            return t
                        step3[name] = put
                    with torch.no_grad():
                        logits = ref.forward(weights, cfg, torch.tensor([base]), ref.Hooks(record=False, patches=step3))
                total += float(metric_value(spec, logits, torch.tensor([base]), clean_logits[i]))
            values.append(total / len(runs))
    return ([L] if mlp_senders else [L, H]), values


def make_path_fixtures(out_path, sweeps_of, skip_attn_only=False):
    """Path sweeps (sweeps_of(L) for a model of L layers) x denoise/noise x logit_diff/kl on the fixture models."""
    models = []
    for name, cfg, weights, pairs in fixture_models():
        if skip_attn_only and cfg.attn_only:
            continue
        cases = [case_of(weights, cfg, pairs, s, m, spec) for s in sweeps_of(cfg.n_layer)
                 for m in ("denoise", "noise") for spec in ("logit_diff:-1:11:42", "kl:-1")]
        models.append(dict(model=name, pairs=[dict(clean=c, corrupt=k) for c, k in pairs], cases=cases))
        print(name, len(cases), "path cases", file=sys.stderr)
    write_fixture(out_path, models)


def head_path_sweeps(L):
    return ["path:logits", "path:q:%d.1" % (L - 1), "path:k:%d.0,%d.2" % (L - 1, L - 1), "path:v:1.1,%d.0" % (L - 1)]


def mlp_path_sweeps(L):
    """MLP senders, and every MLP frozen (odd_3l only: attention-only models have no MLPs)."""
    return ["path_mlp:logits", "path_mlp:k:%d.0,%d.2" % (L - 1, L - 1), "path_mlp:v:1.1,%d.0:frozen" % (L - 1),
            "path:logits:frozen", "path:q:%d.1:frozen" % (L - 1), "path_mlp:logits:frozen"]


# --------------------------------------------------------------------------- bench


def bench(args):
    cfg, weights, _ = ref.load_model(args.weights, n_head=args.n_head)
    clean = [int(t) for t in args.clean.split(",")]
    corrupt = [int(t) for t in args.corrupt.split(",")]
    shape, sites = sweep_sites(args.sweep, cfg, len(clean))
    runs = setup(weights, cfg, [(clean, corrupt)], "denoise")
    timed = sites if args.max_indices <= 0 else sites[:: max(1, len(sites) // args.max_indices)][:args.max_indices]
    base, _, source = runs[0]
    clean_logits = ref.forward(weights, cfg, torch.tensor([clean]))
    t0 = time.perf_counter()
    for hook, index in timed:
        logits = patched_run(weights, cfg, base, hook, index, source[hook])
        metric_value(args.metric, logits, torch.tensor([base]), clean_logits)
    secs = time.perf_counter() - t0
    print(json.dumps(dict(engine="torch", sweep=args.sweep, indices=len(sites), timed_indices=len(timed),
                          seconds_timed=secs, seconds_scaled=secs * len(sites) / len(timed),
                          threads=torch.get_num_threads())))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    fx = sub.add_parser("fixtures")
    fx.add_argument("--out", default=os.path.join(FIXTURES, "patching.json"))
    pp = sub.add_parser("path-fixtures")
    pp.add_argument("--out", default=os.path.join(FIXTURES, "patching_path.json"))
    pm = sub.add_parser("path-mlp-fixtures")
    pm.add_argument("--out", default=os.path.join(FIXTURES, "patching_path_mlp.json"))
    mt = sub.add_parser("mean-text-fixtures")
    mt.add_argument("--out", default=os.path.join(FIXTURES, "patching_mean_text.json"))
    b = sub.add_parser("bench")
    b.add_argument("--weights", required=True)
    b.add_argument("--n-head", type=int)
    b.add_argument("--clean", required=True)
    b.add_argument("--corrupt", required=True)
    b.add_argument("--sweep", required=True)
    b.add_argument("--metric", required=True)
    b.add_argument("--max-indices", type=int, default=0)
    b.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    if args.cmd == "fixtures":
        make_fixtures(args.out)
    elif args.cmd == "path-fixtures":
        make_path_fixtures(args.out, head_path_sweeps)
    elif args.cmd == "path-mlp-fixtures":
        make_path_fixtures(args.out, mlp_path_sweeps, skip_attn_only=True)
    elif args.cmd == "mean-text-fixtures":
        make_mean_text_fixtures(args.out)
    else:
        torch.set_num_threads(args.threads)
        bench(args)


if __name__ == "__main__":
    main()
