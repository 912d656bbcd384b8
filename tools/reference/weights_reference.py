"""Reference values for Loupe's weight circuits (dev.loupe.weights): a head's QK and OV circuits through the
embedding and the composition scores between heads, computed the plain way (every matrix materialised, float64).

Conventions (TransformerLens's processed weights, HookedTransformer.from_pretrained defaults):
  fold_ln:                W_Q/W_K/W_V[h] = diag(ln_1.w) · c_attn columns of head h, then centred over d_model;
                          W_U = diag(ln_f.w) · wteᵀ, centred over d_model;
  center_writing_weights: W_E = wte centred over d_model; W_O[h] = c_proj rows of head h centred over d_model;
  center_unembed:         W_U centred over the vocabulary.
  full QK = W_E W_Q W_Kᵀ W_Eᵀ  [query token, key token];  full OV = W_E W_V W_O W_U  [source token, output token].
  composition (TransformerLens all_composition_scores): left = OV of the sender (earlier layer), right = QK (Q),
  QKᵀ (K) or OV (V) of the receiver; score = ‖left·right‖_F / (‖left‖_F ‖right‖_F); stored [sender layer, sender
  head, receiver layer, receiver head], 0 where the sender's layer is not earlier (TransformerLens masks them).
  positivity = Σλ / Σ|λ| over the eigenvalues of the full V × V matrix (torch.linalg.eigvals; only d_head of them
  are not ~0).
  baseline: mean, std of the score of random factors [d_model, d_head] with N(0, 1) entries (5,000 samples).

Models: attnonly_2l and odd_3l (the existing fixture weights), gpt2vocab_2l (d_vocab 50257: norms and a token's row
and column only), and onnx-models/induction-2l (composition only plus one head).
Writes backend/src/test/resources/fixtures/weights.json.

  /usr/bin/python3 tools/reference/weights_reference.py
"""
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gpt2_reference as ref  # noqa: E402

ROOT = os.path.join(HERE, "..", "..")
FIX = os.path.join(ROOT, "backend", "src", "test", "resources", "fixtures")
K = 8  # rows and entries per row kept


def processed(W, cfg):
    d, H = cfg.n_embd, cfg.n_head
    dh = d // H
    D = {k: v.double() for k, v in W.items()}
    WE = D["wte.weight"] - D["wte.weight"].mean(-1, keepdim=True)
    WU = D["wte.weight"].t() * D["ln_f.weight"][:, None]
    WU = WU - WU.mean(0, keepdim=True)
    WU = WU - WU.mean(-1, keepdim=True)
    Q, Kk, V, O = [], [], [], []
    for l in range(cfg.n_layer):
        ca = D[f"h.{l}.attn.c_attn.weight"] * D[f"h.{l}.ln_1.weight"][:, None]
        cp = D[f"h.{l}.attn.c_proj.weight"]
        q = torch.stack([ca[:, h * dh:(h + 1) * dh] for h in range(H)])
        k = torch.stack([ca[:, d + h * dh:d + (h + 1) * dh] for h in range(H)])
        v = torch.stack([ca[:, 2 * d + h * dh:2 * d + (h + 1) * dh] for h in range(H)])
        o = torch.stack([cp[h * dh:(h + 1) * dh] for h in range(H)])
        Q.append(q - q.mean(1, keepdim=True))
        Kk.append(k - k.mean(1, keepdim=True))
        V.append(v - v.mean(1, keepdim=True))
        O.append(o - o.mean(-1, keepdim=True))
    return WE, WU, torch.stack(Q), torch.stack(Kk), torch.stack(V), torch.stack(O)


def comp_score(a, b):
    return ((a @ b).norm() / (a.norm() * b.norm())).item()


def composition(W, cfg):
    _, _, Q, Kk, V, O = processed(W, cfg)
    L, H = cfg.n_layer, cfg.n_head
    out = {}
    for mode in "QKV":
        s = torch.zeros(L, H, L, H, dtype=torch.float64)
        for l1 in range(L):
            for h1 in range(H):
                left = V[l1, h1] @ O[l1, h1]
                for l2 in range(l1 + 1, L):
                    for h2 in range(H):
                        qk = Q[l2, h2] @ Kk[l2, h2].t()
                        right = {"Q": qk, "K": qk.t(), "V": V[l2, h2] @ O[l2, h2]}[mode]
                        s[l1, h1, l2, h2] = comp_score(left, right)
        out[mode.lower()] = s.tolist()
    return out


def baseline(d, dh, n=5000, seed=0):
    g = torch.Generator().manual_seed(seed)
    s = []
    for _ in range(n):
        a = torch.randn(d, dh, generator=g, dtype=torch.float64) @ torch.randn(dh, d, generator=g, dtype=torch.float64)
        b = torch.randn(d, dh, generator=g, dtype=torch.float64) @ torch.randn(dh, d, generator=g, dtype=torch.float64)
        s.append(comp_score(a, b))
    s = torch.tensor(s)
    return {"mean": s.mean().item(), "std": s.std(unbiased=False).item(), "samples": n}


def top_rows(A, B, k, negative, by="max", chunk=2048):
    """The k rows of A·B with the largest max (or most negative min) entry, or of largest norm (by="norm"), each
    with its k best entries, by scanning row chunks of the full matrix."""
    sgn = -1.0 if negative else 1.0
    best_val, best_row = [], []
    for i0 in range(0, A.shape[0], chunk):
        M = sgn * (A[i0:i0 + chunk] @ B)
        mx = M.max(-1).values if by == "max" else M.norm(dim=-1)
        best_val.append(mx)
        best_row.append(torch.arange(i0, i0 + M.shape[0]))
    val, row = torch.cat(best_val), torch.cat(best_row)
    order = torch.argsort(val, descending=True)[:k]
    rows = []
    for i in row[order].tolist():
        r = sgn * (A[i] @ B)
        t = torch.topk(r, k)
        rows.append({"row": i, "norm": r.norm().item(), "cols": t.indices.tolist(), "values": (sgn * t.values).tolist()})
    return rows


def positivity(A, B):
    lam = torch.linalg.eigvals(A @ B)
    return (lam.real.sum() / lam.abs().sum()).item()


def head_case(W, cfg, l, h, full_eig=True, tokens=()):
    """full_eig False (a vocabulary of 50,257): no scans of the whole matrix, only norms and the tokens' rows and columns."""
    WE, WU, Q, Kk, V, O = processed(W, cfg)
    circuits = {"qk": (WE @ Q[l, h], (WE @ Kk[l, h]).t()), "ov": (WE @ V[l, h], O[l, h] @ WU)}
    case = {"layer": l, "head": h}
    for name, (A, B) in circuits.items():
        c = {"top": top_rows(A, B, K, False) if full_eig else None,
             "bottom": top_rows(A, B, K, True) if full_eig else None,
             "norm_top": top_rows(A, B, K, False, by="norm") if full_eig else None,
             "norm_bottom": top_rows(A, B, K, True, by="norm") if full_eig else None,
             "norm": torch.sqrt(((A.t() @ A) * (B @ B.t())).sum()).item()}
        if full_eig:
            c["positivity"] = positivity(A, B)   # the V × V matrix's eigenvalues
            full = A @ B
            c["norm_full"] = full.norm().item()
        c["tokens"] = [{"token": t,
                        "row_top": torch.topk(A[t] @ B, K).indices.tolist(),
                        "row_top_values": torch.topk(A[t] @ B, K).values.tolist(),
                        "col_top": torch.topk(A @ B[:, t], K).indices.tolist(),
                        "col_top_values": torch.topk(A @ B[:, t], K).values.tolist()} for t in tokens]
        case[name] = c
    return case


def model_entry(path, heads, full_eig=True, tokens=(), n_head=4):
    cfg, W, _ = ref.load_model(path, n_head=n_head)
    return {"file": os.path.relpath(path, ROOT), "config": json.loads(cfg.to_json()),
            "composition": composition(W, cfg),
            "heads": [head_case(W, cfg, l, h, full_eig, tokens) for l, h in heads]}


def main():
    torch.set_num_threads(2)
    out = {"k": K, "models": {}}
    out["models"]["attnonly_2l"] = model_entry(os.path.join(FIX, "attnonly_2l.safetensors"),
                                               [(0, 0), (1, 2)], tokens=(0, 5, 63))
    out["models"]["odd_3l"] = model_entry(os.path.join(FIX, "odd_3l.safetensors"), [(0, 1), (2, 2)], tokens=(7, 299))
    out["models"]["gpt2vocab_2l"] = model_entry(os.path.join(FIX, "gpt2vocab_2l.safetensors"), [(1, 3)],
                                                full_eig=False, tokens=(50256,))
    out["models"]["induction-2l"] = model_entry(os.path.join(ROOT, "onnx-models", "induction-2l", "model.safetensors"),
                                                [(1, 2)], tokens=(1,))
    print("models done", flush=True)
    out["baseline"] = {str(d) + "x" + str(dh): baseline(d, dh) for d, dh in [(32, 8), (96, 32), (128, 32)]}
    with open(os.path.join(FIX, "weights.json"), "w") as f:
        json.dump(out, f, indent=None, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
