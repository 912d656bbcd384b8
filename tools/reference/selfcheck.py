"""Self-checks for Loupe's PyTorch reference and its golden fixtures.

    /usr/bin/python3 tools/reference/selfcheck.py

1. safetensors reader/writer round trip for every dtype;
2. gelu_new against torch's tanh GELU;
3. the reference forward against a second, module-based implementation
   (nn.LayerNorm + nn.MultiheadAttention + F.gelu), full and attention-only;
4. the DESIGN §3 hook identities and hook shapes;
5. metric values and autograd gradients (hooks and weights) against central finite
   differences on a tiny float64 model;
6. every fixture file: re-read, recomputed from its stored weights, compared.
Exits non-zero on the first failure.
"""
import json
import math
import os
import sys
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt2_reference as ref  # noqa: E402
import safetensors_io  # noqa: E402
import make_fixtures  # noqa: E402

torch.set_num_threads(2)
D = torch.float64


def close(a, b, what, atol=1e-9, rtol=1e-7):
    a, b = torch.as_tensor(a), torch.as_tensor(b)
    assert a.shape == b.shape, f"{what}: shape {tuple(a.shape)} vs {tuple(b.shape)}"
    fin = torch.isfinite(b)
    assert torch.equal(torch.isfinite(a), fin), f"{what}: non-finite entries differ"
    assert torch.equal(a[~fin], b[~fin]), f"{what}: infinities differ"
    err = (a[fin].to(D) - b[fin].to(D)).abs()
    tol = atol + rtol * b[fin].to(D).abs()
    if err.numel() and not bool((err <= tol).all()):
        raise AssertionError(f"{what}: max abs err {err.max().item():.3e}")


def check_safetensors():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, generator=g)
    ts = {"f64": x.double(), "f32": x, "f16": x.half(), "bf16": x.bfloat16(),
          "i64": torch.arange(-3, 9).reshape(3, 4), "i32": torch.arange(6, dtype=torch.int32),
          "scalar": torch.tensor([2.5]), "inf": torch.tensor([float("-inf"), 1.0]),
          "empty": torch.zeros(0, 4)}
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "t.safetensors")
        safetensors_io.save_file(ts, p, {"k": "v", "json": json.dumps([1, 2])})
        back, meta = safetensors_io.load_file(p)
        with open(p, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
        assert n % 8 == 0
    assert meta == {"k": "v", "json": "[1, 2]"}
    assert list(back) == list(ts)
    for k in ts:
        assert back[k].dtype == ts[k].dtype and torch.equal(back[k], ts[k]), k
    print("ok  safetensors round trip")


def check_gelu():
    x = torch.linspace(-8, 8, 2001, dtype=D)
    close(ref.gelu_new(x), F.gelu(x, approximate="tanh"), "gelu_new", atol=1e-12)
    print("ok  gelu_new")


def module_forward(W, cfg, ids):
    """A second implementation from torch.nn building blocks, for cross-checking."""
    d, T = cfg.n_embd, ids.shape[1]
    x = W["wte.weight"][ids] + W["wpe.weight"][:T]
    mask = torch.ones(T, T, dtype=torch.bool).triu(1)  # True = not allowed
    for i in range(cfg.n_layer):
        p = f"h.{i}."
        ln1 = nn.LayerNorm(d, eps=cfg.layer_norm_epsilon).to(D)
        ln1.weight.data, ln1.bias.data = W[p + "ln_1.weight"], W[p + "ln_1.bias"]
        mha = nn.MultiheadAttention(d, cfg.n_head, batch_first=True).to(D)
        mha.in_proj_weight.data = W[p + "attn.c_attn.weight"].t().contiguous()
        mha.in_proj_bias.data = W[p + "attn.c_attn.bias"]
        mha.out_proj.weight.data = W[p + "attn.c_proj.weight"].t().contiguous()
        mha.out_proj.bias.data = W[p + "attn.c_proj.bias"]
        h = ln1(x)
        a, _ = mha(h, h, h, attn_mask=mask, need_weights=False)
        x = x + a
        if not cfg.attn_only:
            ln2 = nn.LayerNorm(d, eps=cfg.layer_norm_epsilon).to(D)
            ln2.weight.data, ln2.bias.data = W[p + "ln_2.weight"], W[p + "ln_2.bias"]
            fc = nn.Linear(d, cfg.d_mlp).to(D)
            fc.weight.data, fc.bias.data = W[p + "mlp.c_fc.weight"].t().contiguous(), W[p + "mlp.c_fc.bias"]
            pr = nn.Linear(cfg.d_mlp, d).to(D)
            pr.weight.data, pr.bias.data = W[p + "mlp.c_proj.weight"].t().contiguous(), W[p + "mlp.c_proj.bias"]
            x = x + pr(F.gelu(fc(ln2(x)), approximate="tanh"))
    lnf = nn.LayerNorm(d, eps=cfg.layer_norm_epsilon).to(D)
    lnf.weight.data, lnf.bias.data = W["ln_f.weight"], W["ln_f.bias"]
    return F.linear(lnf(x), W["wte.weight"])


SMALL = [ref.Config(n_layer=2, n_head=3, n_embd=24, n_inner=40, n_positions=12, vocab_size=37),
         ref.Config(n_layer=2, n_head=2, n_embd=16, n_positions=12, vocab_size=29, attn_only=True)]


def check_against_modules():
    for cfg in SMALL:
        W = {k: v.to(D) for k, v in ref.init_weights(cfg, 5).items()}
        ids = torch.randint(0, cfg.vocab_size, (3, 11), generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            a = ref.forward(W, cfg, ids)
            b = module_forward(W, cfg, ids)
            c = ref.forward(W, cfg, ids, ref.Hooks())  # per-head result path
        close(a, b, "reference vs nn modules", atol=1e-10)
        close(c, a, "per-head vs fused attention output", atol=1e-12)
        # rows of a batch are independent: row 1 alone, and a prefix, give the same logits
        with torch.no_grad():
            close(ref.forward(W, cfg, ids[1:2]), a[1:2], "batch independence", atol=1e-12)
            close(ref.forward(W, cfg, ids[:, :5]), a[:, :5], "causality", atol=1e-12)
    print("ok  reference == module-based implementation (full and attn-only)")


def check_identities(W, cfg, ids, logits, c, atol=1e-9):
    b, T = ids.shape
    d, h, dh, V = cfg.n_embd, cfg.n_head, cfg.d_head, cfg.vocab_size
    shapes = {"hook_embed": (b, T, d), "hook_pos_embed": (b, T, d),
              "ln_final.hook_scale": (b, T, 1), "ln_final.hook_normalized": (b, T, d)}
    for l in range(cfg.n_layer):
        p = f"blocks.{l}."
        shapes.update({p + "hook_resid_pre": (b, T, d), p + "ln1.hook_scale": (b, T, 1),
                       p + "ln1.hook_normalized": (b, T, d), p + "attn.hook_q": (b, T, h, dh),
                       p + "attn.hook_k": (b, T, h, dh), p + "attn.hook_v": (b, T, h, dh),
                       p + "attn.hook_attn_scores": (b, h, T, T), p + "attn.hook_pattern": (b, h, T, T),
                       p + "attn.hook_z": (b, T, h, dh), p + "attn.hook_result": (b, T, h, d),
                       p + "hook_attn_out": (b, T, d), p + "hook_resid_post": (b, T, d)})
        if not cfg.attn_only:
            shapes.update({p + "hook_resid_mid": (b, T, d), p + "ln2.hook_scale": (b, T, 1),
                           p + "ln2.hook_normalized": (b, T, d), p + "mlp.hook_pre": (b, T, cfg.d_mlp),
                           p + "mlp.hook_post": (b, T, cfg.d_mlp), p + "hook_mlp_out": (b, T, d)})
    assert list(c) == ref.hook_names(cfg) and set(c) == set(shapes)
    for k, s in shapes.items():
        assert tuple(c[k].shape) == s, f"{k}: {tuple(c[k].shape)} != {s}"
    assert tuple(logits.shape) == (b, T, V)

    def ln_check(x, w, bias, pre):
        mu = x.mean(-1, keepdim=True)
        scale = ((x - mu) ** 2).mean(-1, keepdim=True).add(cfg.layer_norm_epsilon).sqrt()
        close(c[pre + "hook_scale"], scale, pre + "hook_scale", atol)
        close(c[pre + "hook_normalized"], (x - mu) / scale * w + bias, pre + "hook_normalized", atol)

    close(c["hook_embed"], W["wte.weight"][ids], "hook_embed", 0)
    close(c["hook_pos_embed"][0], W["wpe.weight"][:T], "hook_pos_embed", 0)
    close(c["blocks.0.hook_resid_pre"], c["hook_embed"] + c["hook_pos_embed"], "resid_pre[0]", atol)
    upper = torch.ones(T, T, dtype=torch.bool).triu(1)
    for l in range(cfg.n_layer):
        p, q = f"blocks.{l}.", f"h.{l}."
        if l + 1 < cfg.n_layer:
            close(c[p + "hook_resid_post"], c[f"blocks.{l + 1}.hook_resid_pre"], "resid_post==resid_pre", 0)
        ln_check(c[p + "hook_resid_pre"], W[q + "ln_1.weight"], W[q + "ln_1.bias"], p + "ln1.")
        qkv = c[p + "ln1.hook_normalized"] @ W[q + "attn.c_attn.weight"] + W[q + "attn.c_attn.bias"]
        close(torch.cat([c[p + "attn.hook_" + n].reshape(b, T, d) for n in "qkv"], -1), qkv, "q|k|v", atol)
        s = c[p + "attn.hook_attn_scores"]
        assert bool(torch.isneginf(s[:, :, upper]).all()) and bool(torch.isfinite(s[:, :, ~upper]).all()), \
            "scores: -inf exactly above the diagonal"
        close(s[:, :, ~upper], (torch.einsum("bqhe,bkhe->bhqk", c[p + "attn.hook_q"], c[p + "attn.hook_k"])
                                / math.sqrt(dh))[:, :, ~upper], "scores", atol)
        close(c[p + "attn.hook_pattern"], torch.softmax(s, -1), "pattern", atol)
        assert bool((c[p + "attn.hook_pattern"][:, :, upper] == 0).all())
        close(c[p + "attn.hook_z"], torch.einsum("bhqk,bkhe->bqhe", c[p + "attn.hook_pattern"],
                                                 c[p + "attn.hook_v"]), "z", atol)
        W_O = W[q + "attn.c_proj.weight"].reshape(h, dh, d)
        close(c[p + "attn.hook_result"], torch.einsum("bqhe,hed->bqhd", c[p + "attn.hook_z"], W_O), "result", atol)
        close(c[p + "attn.hook_result"].sum(2) + W[q + "attn.c_proj.bias"], c[p + "hook_attn_out"],
              "sum_h result + b_O == attn_out", atol)
        if cfg.attn_only:
            close(c[p + "hook_resid_pre"] + c[p + "hook_attn_out"], c[p + "hook_resid_post"],
                  "attn-only resid_post", atol)
            continue
        close(c[p + "hook_resid_pre"] + c[p + "hook_attn_out"], c[p + "hook_resid_mid"], "resid_mid", atol)
        ln_check(c[p + "hook_resid_mid"], W[q + "ln_2.weight"], W[q + "ln_2.bias"], p + "ln2.")
        close(c[p + "ln2.hook_normalized"] @ W[q + "mlp.c_fc.weight"] + W[q + "mlp.c_fc.bias"],
              c[p + "mlp.hook_pre"], "mlp pre", atol)
        close(F.gelu(c[p + "mlp.hook_pre"], approximate="tanh"), c[p + "mlp.hook_post"], "mlp post", atol)
        close(c[p + "mlp.hook_post"] @ W[q + "mlp.c_proj.weight"] + W[q + "mlp.c_proj.bias"],
              c[p + "hook_mlp_out"], "mlp out", atol)
        close(c[p + "hook_resid_mid"] + c[p + "hook_mlp_out"], c[p + "hook_resid_post"], "resid_post", atol)
    last = f"blocks.{cfg.n_layer - 1}.hook_resid_post"
    ln_check(c[last], W["ln_f.weight"], W["ln_f.bias"], "ln_final.")
    close(c["ln_final.hook_normalized"] @ W["wte.weight"].t(), logits, "logits == normalized·W_Eᵀ", atol)
    # The folded form (DESIGN §3) with the pre-affine normalised stream:
    x = c[last]
    pre_affine = (x - x.mean(-1, keepdim=True)) / c["ln_final.hook_scale"]
    close(pre_affine @ (W["ln_f.weight"][:, None] * W["wte.weight"].t()) + W["ln_f.bias"] @ W["wte.weight"].t(),
          logits, "folded unembedding identity", atol)


def check_identities_small():
    for cfg in SMALL:
        W = {k: v.to(D) for k, v in ref.init_weights(cfg, 9).items()}
        ids = torch.randint(0, cfg.vocab_size, (2, 10), generator=torch.Generator().manual_seed(3))
        logits, c = ref.run_with_cache(W, cfg, ids)
        check_identities(W, cfg, ids, logits, c, atol=1e-10)
    print("ok  hook identities and shapes")


def check_gradients():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(11)
    cfgs = [ref.Config(n_layer=2, n_head=2, n_embd=8, n_inner=12, n_positions=8, vocab_size=23),
            ref.Config(n_layer=2, n_head=2, n_embd=8, n_positions=8, vocab_size=23, attn_only=True)]
    eps = 1e-6
    for cfg in cfgs:
        W = {k: v.to(D) for k, v in ref.init_weights(cfg, 21).items()}
        ids = torch.randint(0, cfg.vocab_size, (1, 7), generator=g)
        for spec in ["loss", "logit_diff:-1:3:5", "logit_diff:2:0:22", "logprob:-2:4", "logprob:0:7"]:
            value, hg, wg = ref.gradients(W, cfg, ids, spec)
            with torch.no_grad():
                lg = ref.forward(W, cfg, ids)
            # metric values computed independently
            if spec == "loss":
                expect = F.cross_entropy(lg[0, :-1], ids[0, 1:])
            elif spec.startswith("logit_diff"):
                _, pos, a, b = spec.split(":")
                expect = lg[0, int(pos), int(a)] - lg[0, int(pos), int(b)]
            else:
                _, pos, a = spec.split(":")
                expect = lg[0, int(pos)].exp().div(lg[0, int(pos)].exp().sum()).log()[int(a)]
            close(value, expect, f"value {spec}", atol=1e-12)

            def f_w(name, idx, delta):
                W2 = dict(W)
                t = W[name].clone()
                t.view(-1)[idx] += delta
                W2[name] = t
                with torch.no_grad():
                    return ref.metric(spec, ref.forward(W2, cfg, ids), ids).item()

            def f_h(name, idx, delta):
                def patch(t):
                    t = t.clone(memory_format=torch.contiguous_format)
                    t.view(-1)[idx] += delta
                    return t
                with torch.no_grad():
                    return ref.metric(spec, ref.forward(W, cfg, ids, ref.Hooks(record=False, patches={name: patch})),
                                      ids).item()

            for kind, grads, fn in (("w", wg, f_w), ("hook", hg, f_h)):
                for name, gr in grads.items():
                    flat = gr.reshape(-1)
                    picks = torch.randperm(flat.numel(), generator=g)[:6].tolist()
                    picks.append(int(flat.abs().argmax()))
                    for idx in picks:
                        if name.endswith("hook_attn_scores") and not math.isfinite(
                                ref.run_with_cache(W, cfg, ids)[1][name].reshape(-1)[idx].item()):
                            assert flat[idx].item() == 0.0, "masked score gradient must be 0"
                            continue
                        fd = (fn(name, idx, eps) - fn(name, idx, -eps)) / (2 * eps)
                        an = flat[idx].item()
                        assert abs(fd - an) <= 1e-6 + 1e-5 * abs(an), \
                            f"{spec} {kind} {name}[{idx}]: autograd {an:.8g} vs fd {fd:.8g}"
    print("ok  metric values; autograd gradients == finite differences (hooks and weights)")


def check_fixtures():
    out = make_fixtures.DEFAULT_OUT
    for spec in make_fixtures.MODELS:
        path = os.path.join(out, spec["name"] + ".safetensors")
        if not os.path.exists(path):
            print(f"--  {path} missing (run make_fixtures.py)")
            continue
        t, meta = safetensors_io.load_file(path)
        cfgd = json.loads(meta["config"])
        cfg = ref.Config.from_dict(cfgd)
        assert cfg == spec["cfg"], "config metadata"
        W = {k: v.to(D) for k, v in ref.hf_weights(t).items() if not k.startswith(("p", "grad["))}
        assert sorted(W) == sorted(ref.weight_names(cfg))
        prefix = meta["weight_prefix"]
        for k in ref.weight_names(cfg):
            assert t[prefix + k].dtype == make_fixtures.TORCH_DTYPE[meta["weight_dtype"]]
        hooks = json.loads(meta["hooks"])
        assert hooks == ref.hook_names(cfg)
        n = int(meta["prompts"])
        for i in range(n):
            ids = t[f"p{i}.input_ids"]
            assert ids.dtype == torch.int64 and ids.shape[0] == 1
            logits, c = ref.run_with_cache(W, cfg, ids)
            close(t[f"p{i}.logits"], logits.float(), f"{spec['name']} p{i} logits", atol=0, rtol=0)
            for h in hooks:
                close(t[f"p{i}.{h}"], c[h].float(), f"{spec['name']} p{i} {h}", atol=0, rtol=0)
            # identities hold on the stored F32 values too (to F32 precision)
            check_identities(W, cfg, ids, t[f"p{i}.logits"].to(D),
                             {h: t[f"p{i}.{h}"].to(D) for h in hooks}, atol=2e-5)
        metrics = json.loads(meta["metrics"])
        assert metrics == (make_fixtures.METRICS if spec["grads"] else [])
        for m in metrics:
            value, hg, wg = ref.gradients(W, cfg, t["p0.input_ids"], m)
            close(t[f"grad[{m}].value"], value.float().reshape(1), f"{m} value", atol=0, rtol=0)
            for h in hooks:
                close(t[f"grad[{m}].{h}"], hg[h].float(), f"grad {m} {h}", atol=0, rtol=0)
            for w in ref.weight_names(cfg):
                close(t[f"grad[{m}].w.{w}"], wg[w].float(), f"grad {m} w {w}", atol=0, rtol=0)
        expected = set(ref.weight_names(cfg)) | {f"p{i}.{h}" for i in range(n) for h in hooks + ["input_ids", "logits"]}
        expected = {prefix + k if k in W else k for k in expected}
        expected |= {f"grad[{m}].{h}" for m in metrics for h in hooks + ["value"]}
        expected |= {f"grad[{m}].w.{w}" for m in metrics for w in ref.weight_names(cfg)}
        if spec["hf_prefix"]:
            expected.add("transformer.h.0.attn.bias")
        assert set(t) == expected, f"unexpected tensors: {set(t) ^ expected}"
        print(f"ok  fixture {spec['name']}: {len(t)} tensors, {os.path.getsize(path) / 1e6:.2f} MB")


if __name__ == "__main__":
    check_safetensors()
    check_gelu()
    check_against_modules()
    check_identities_small()
    check_gradients()
    check_fixtures()
    print("all checks passed")
