"""Loupe's independent PyTorch reference for GPT-2 (HF GPT2LMHeadModel semantics).

Written from the Loupe design brief (DESIGN.md §2/§3): pre-LN blocks, LayerNorm with biased variance, Conv1D
weights stored input-major (y = x·W + b), gelu_new, causal attention, tied unembedding.
Every activation is exposed under its TransformerLens hook name (see HOOK_NAMES / hook_names()).

Weights are a dict of HF names *without* the ``transformer.`` prefix:
  wte.weight [V,d], wpe.weight [n_ctx,d],
  h.{i}.ln_1.{weight,bias} [d], h.{i}.attn.c_attn.weight [d,3d], h.{i}.attn.c_attn.bias [3d],
  h.{i}.attn.c_proj.weight [d,d], h.{i}.attn.c_proj.bias [d], h.{i}.ln_2.{weight,bias} [d],
  h.{i}.mlp.c_fc.weight [d,d_mlp], h.{i}.mlp.c_fc.bias [d_mlp],
  h.{i}.mlp.c_proj.weight [d_mlp,d], h.{i}.mlp.c_proj.bias [d], ln_f.{weight,bias} [d].
Attention-only models have no ln_2 / mlp weights.
"""
import json
import math
import os
import sys
from dataclasses import dataclass, asdict
from typing import Callable, Dict, Optional

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

# --------------------------------------------------------------------------- config


@dataclass
class Config:
    n_layer: int
    n_head: int
    n_embd: int
    n_positions: int
    vocab_size: int
    n_inner: Optional[int] = None  # HF: None means 4 * n_embd
    attn_only: bool = False
    layer_norm_epsilon: float = 1e-5

    @property
    def d_mlp(self) -> int:
        return self.n_inner if self.n_inner is not None else 4 * self.n_embd

    @property
    def d_head(self) -> int:
        assert self.n_embd % self.n_head == 0, "n_embd must be divisible by n_head"
        return self.n_embd // self.n_head

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @staticmethod
    def from_dict(d: dict) -> "Config":
        keys = {"n_layer", "n_head", "n_embd", "n_positions", "vocab_size", "n_inner",
                "attn_only", "layer_norm_epsilon"}
        return Config(**{k: v for k, v in d.items() if k in keys})


# --------------------------------------------------------------------------- weights

IGNORED_SUFFIXES = (".attn.bias", ".attn.masked_bias")


def hf_weights(tensors: Dict[str, torch.Tensor], dtype=torch.float32) -> Dict[str, torch.Tensor]:
    """Normalises an HF-style tensor dict: strips ``transformer.``, drops the attention mask
    buffers and ``lm_head.weight`` (tied to wte), converts to ``dtype``."""
    out = {}
    for name, t in tensors.items():
        if name.startswith("transformer."):
            name = name[len("transformer."):]
        if name.endswith(IGNORED_SUFFIXES) or name == "lm_head.weight":
            continue
        out[name] = t.to(dtype)
    return out


def infer_config(weights: Dict[str, torch.Tensor], n_head: Optional[int] = None) -> Config:
    """Config from weight shapes. n_head cannot be read off shapes; when not given it is taken
    from the GPT-2 family sizes (768→12, 1024→16, 1280→20, 1600→25)."""
    vocab, d = weights["wte.weight"].shape
    n_ctx = weights["wpe.weight"].shape[0]
    n_layer = 1 + max(int(k.split(".")[1]) for k in weights if k.startswith("h."))
    attn_only = "h.0.mlp.c_fc.weight" not in weights
    d_mlp = None if attn_only else weights["h.0.mlp.c_fc.weight"].shape[1]
    if n_head is None:
        n_head = {768: 12, 1024: 16, 1280: 20, 1600: 25}.get(d)
        if n_head is None:
            raise ValueError("n_head unknown for d_model=%d; pass it explicitly" % d)
    return Config(n_layer=n_layer, n_head=n_head, n_embd=d, n_positions=n_ctx, vocab_size=vocab,
                  n_inner=d_mlp, attn_only=attn_only)


def load_model(path: str, n_head: Optional[int] = None, dtype=torch.float32):
    """Loads a safetensors file; config from ``__metadata__['config']`` if present, else inferred."""
    tensors, meta = safetensors_io.load_file(path)
    weights = hf_weights(tensors, dtype)
    if "config" in meta:
        cfg = Config.from_dict(json.loads(meta["config"]))
    else:
        cfg = infer_config(weights, n_head)
    return cfg, weights, meta


def weight_names(cfg: Config):
    names = ["wte.weight", "wpe.weight"]
    for i in range(cfg.n_layer):
        p = f"h.{i}."
        names += [p + "ln_1.weight", p + "ln_1.bias",
                  p + "attn.c_attn.weight", p + "attn.c_attn.bias",
                  p + "attn.c_proj.weight", p + "attn.c_proj.bias"]
        if not cfg.attn_only:
            names += [p + "ln_2.weight", p + "ln_2.bias",
                      p + "mlp.c_fc.weight", p + "mlp.c_fc.bias",
                      p + "mlp.c_proj.weight", p + "mlp.c_proj.bias"]
    names += ["ln_f.weight", "ln_f.bias"]
    return names


# --------------------------------------------------------------------------- hooks


def hook_names(cfg: Config):
    """Every hook, in forward order, TransformerLens names."""
    names = ["hook_embed", "hook_pos_embed"]
    for l in range(cfg.n_layer):
        b = f"blocks.{l}."
        names += [b + "hook_resid_pre", b + "ln1.hook_scale", b + "ln1.hook_normalized",
                  b + "attn.hook_q", b + "attn.hook_k", b + "attn.hook_v",
                  b + "attn.hook_attn_scores", b + "attn.hook_pattern", b + "attn.hook_z",
                  b + "attn.hook_result", b + "hook_attn_out"]
        if not cfg.attn_only:
            names += [b + "hook_resid_mid", b + "ln2.hook_scale", b + "ln2.hook_normalized",
                      b + "mlp.hook_pre", b + "mlp.hook_post", b + "hook_mlp_out"]
        names += [b + "hook_resid_post"]
    names += ["ln_final.hook_scale", "ln_final.hook_normalized"]
    return names


class Hooks:
    """Called at every hook point as ``h(name, tensor) -> tensor``.

    record: keep every hook tensor in ``self.cache`` (ordered).
    retain_grad: call retain_grad() on hook tensors so ``.grad`` is filled by backward().
    patches: name -> fn(tensor) -> tensor, applied before recording (for interventions and
             finite differences).
    """

    def __init__(self, record=True, retain_grad=False, patches: Optional[Dict[str, Callable]] = None):
        self.record = record
        self.retain_grad = retain_grad
        self.patches = patches or {}
        self.cache: Dict[str, torch.Tensor] = {}

    def __call__(self, name: str, t: torch.Tensor) -> torch.Tensor:
        fn = self.patches.get(name)
        if fn is not None:
            t = fn(t)
        if self.retain_grad and t.requires_grad:
            t.retain_grad()
        if self.record:
            self.cache[name] = t
        return t


def _no_hook(name, t):
    return t


# --------------------------------------------------------------------------- forward


def gelu_new(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


def layer_norm(x, w, b, eps, prefix, H):
    """TransformerLens LayerNorm without folding: hook_scale = sqrt(var + eps) [.., 1];
    hook_normalized = (x - mean) / scale * w + b  (i.e. the LN *output*, after weight and bias)."""
    xc = x - x.mean(-1, keepdim=True)
    scale = H(prefix + "hook_scale", (xc.pow(2).mean(-1, keepdim=True) + eps).sqrt())
    return H(prefix + "hook_normalized", xc / scale * w + b)


def forward(weights: Dict[str, torch.Tensor], cfg: Config, ids: torch.Tensor,
            hooks: Optional[Callable] = None, per_head_result: Optional[bool] = None) -> torch.Tensor:
    """ids: int64 [batch, pos]. Returns logits [batch, pos, vocab] in the weights' dtype.

    hooks: callable (name, tensor) -> tensor invoked at every hook point (see Hooks), or None.
    per_head_result: compute attn.hook_result [b,p,h,d_model] and sum it (default: when hooks
    are given); otherwise the attention output is z·W_O in one product (same maths, faster).
    """
    H = hooks if hooks is not None else _no_hook
    if per_head_result is None:
        per_head_result = hooks is not None
    W = weights
    bsz, T = ids.shape
    if T > cfg.n_positions:
        raise ValueError(f"sequence length {T} > n_positions {cfg.n_positions}")
    d, nh, dh, eps = cfg.n_embd, cfg.n_head, cfg.d_head, cfg.layer_norm_epsilon

    embed = H("hook_embed", W["wte.weight"][ids])                       # [b,p,d]
    pos = H("hook_pos_embed", W["wpe.weight"][:T].unsqueeze(0).expand(bsz, T, d))
    resid = embed + pos
    causal = torch.ones(T, T, dtype=torch.bool, device=ids.device).tril()
    neg_inf = torch.tensor(float("-inf"), dtype=resid.dtype, device=resid.device)

    for l in range(cfg.n_layer):
        p, b = f"h.{l}.", f"blocks.{l}."
        resid_pre = H(b + "hook_resid_pre", resid)
        x = layer_norm(resid_pre, W[p + "ln_1.weight"], W[p + "ln_1.bias"], eps, b + "ln1.", H)

        qkv = x @ W[p + "attn.c_attn.weight"] + W[p + "attn.c_attn.bias"]  # [b,p,3d]
        q, k, v = qkv.split(d, dim=-1)
        q = H(b + "attn.hook_q", q.reshape(bsz, T, nh, dh))
        k = H(b + "attn.hook_k", k.reshape(bsz, T, nh, dh))
        v = H(b + "attn.hook_v", v.reshape(bsz, T, nh, dh))
        scores = torch.einsum("bqhe,bkhe->bhqk", q, k) / math.sqrt(dh)
        scores = H(b + "attn.hook_attn_scores", torch.where(causal, scores, neg_inf))
        pattern = H(b + "attn.hook_pattern", torch.softmax(scores, dim=-1))
        z = H(b + "attn.hook_z", torch.einsum("bhqk,bkhe->bqhe", pattern, v))  # [b,p,h,dh]
        W_proj, b_proj = W[p + "attn.c_proj.weight"], W[p + "attn.c_proj.bias"]
        if per_head_result:
            W_O = W_proj.reshape(nh, dh, d)                                    # rows h*dh+e
            result = H(b + "attn.hook_result", torch.einsum("bqhe,hed->bqhd", z, W_O))
            attn_out = result.sum(dim=2) + b_proj
        else:
            attn_out = z.reshape(bsz, T, d) @ W_proj + b_proj
        attn_out = H(b + "hook_attn_out", attn_out)

        if cfg.attn_only:
            resid = H(b + "hook_resid_post", resid_pre + attn_out)
            continue
        resid_mid = H(b + "hook_resid_mid", resid_pre + attn_out)
        x = layer_norm(resid_mid, W[p + "ln_2.weight"], W[p + "ln_2.bias"], eps, b + "ln2.", H)
        pre = H(b + "mlp.hook_pre", x @ W[p + "mlp.c_fc.weight"] + W[p + "mlp.c_fc.bias"])
        post = H(b + "mlp.hook_post", gelu_new(pre))
        mlp_out = H(b + "hook_mlp_out", post @ W[p + "mlp.c_proj.weight"] + W[p + "mlp.c_proj.bias"])
        resid = H(b + "hook_resid_post", resid_mid + mlp_out)

    x = layer_norm(resid, W["ln_f.weight"], W["ln_f.bias"], eps, "ln_final.", H)
    return x @ W["wte.weight"].t()


def run_with_cache(weights, cfg, ids):
    """(logits, ordered dict hook name -> tensor), no gradients."""
    rec = Hooks(record=True)
    with torch.no_grad():
        logits = forward(weights, cfg, ids, rec)
    return logits, rec.cache


# --------------------------------------------------------------------------- metrics


def _pos(pos: int, T: int) -> int:
    q = pos + T if pos < 0 else pos
    if not 0 <= q < T:
        raise ValueError(f"position {pos} out of range for length {T}")
    return q


def metric(spec: str, logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Scalar metric, averaged over the batch.

    loss               mean next-token cross-entropy: positions 0..T-2 predict ids 1..T-1
    logit_diff:POS:A:B logits[POS, A] - logits[POS, B]
    logprob:POS:A      log_softmax(logits[POS])[A]
    POS < 0 counts from the end (-1 = last position).
    """
    parts = spec.split(":")
    T = logits.shape[1]
    if parts[0] == "loss" and len(parts) == 1:
        if T < 2:
            raise ValueError("loss needs at least 2 tokens")
        lp = torch.log_softmax(logits[:, :-1], dim=-1)
        tgt = ids[:, 1:].unsqueeze(-1)
        return -lp.gather(-1, tgt).squeeze(-1).mean()
    if parts[0] == "logit_diff" and len(parts) == 4:
        p, a, b = _pos(int(parts[1]), T), int(parts[2]), int(parts[3])
        return (logits[:, p, a] - logits[:, p, b]).mean()
    if parts[0] == "logprob" and len(parts) == 3:
        p, a = _pos(int(parts[1]), T), int(parts[2])
        return torch.log_softmax(logits[:, p], dim=-1)[:, a].mean()
    raise ValueError(f"unknown metric {spec!r}")


def gradients(weights, cfg, ids, spec: str, dtype=torch.float64):
    """d metric / d every hook and d metric / d every weight, by autograd.

    Returns (value: 0-d tensor, hook_grads: name -> tensor, weight_grads: name -> tensor),
    all in ``dtype``. Hook gradients are taken at the hook point (the tensor as the hook sees
    it); wte's gradient includes both the embedding and the (tied) unembedding paths.
    Hooks that share one value (resid_post[l] / resid_pre[l+1]) get the same gradient.
    """
    w = {k: v.detach().to(dtype).clone().requires_grad_(True) for k, v in weights.items()}
    rec = Hooks(record=True, retain_grad=True)
    logits = forward(w, cfg, ids, rec)
    value = metric(spec, logits, ids)
    value.backward()
    hook_grads = {}
    for n, t in rec.cache.items():
        hook_grads[n] = t.grad.detach().clone() if t.grad is not None else torch.zeros_like(t)
    weight_grads = {n: (w[n].grad if w[n].grad is not None else torch.zeros_like(w[n])).detach().clone()
                    for n in weight_names(cfg)}
    return value.detach(), hook_grads, weight_grads


# --------------------------------------------------------------------------- init


def init_weights(cfg: Config, seed: int, std: Optional[float] = None, ln_noise: float = 0.1,
                 bias_std: float = 0.02, dtype=torch.float32) -> Dict[str, torch.Tensor]:
    """Deterministic random weights in which every part matters.

    std: matrix init std; default 1/sqrt(n_embd) (so attention patterns are far from uniform
         and gelu works in its non-linear range even at tiny widths). Output projections
         (attn.c_proj, mlp.c_proj) use std / sqrt(2·n_layer) · sqrt(n_embd / fan_in).
    LayerNorm weights 1 + N(0, ln_noise); every bias (LN biases included) N(0, bias_std).
    """
    g = torch.Generator().manual_seed(seed)
    d, dm, L = cfg.n_embd, cfg.d_mlp, cfg.n_layer
    if std is None:
        std = 1.0 / math.sqrt(d)
    proj = std / math.sqrt(2 * L)

    def n(*shape, s):
        return torch.randn(*shape, generator=g, dtype=torch.float64).mul_(s).to(dtype)

    def ln(prefix, W):
        W[prefix + "weight"] = 1.0 + n(d, s=ln_noise)
        W[prefix + "bias"] = n(d, s=bias_std)

    W = {"wte.weight": n(cfg.vocab_size, d, s=std), "wpe.weight": n(cfg.n_positions, d, s=std)}
    for i in range(L):
        p = f"h.{i}."
        ln(p + "ln_1.", W)
        W[p + "attn.c_attn.weight"] = n(d, 3 * d, s=std)
        W[p + "attn.c_attn.bias"] = n(3 * d, s=bias_std)
        W[p + "attn.c_proj.weight"] = n(d, d, s=proj)
        W[p + "attn.c_proj.bias"] = n(d, s=bias_std)
        if not cfg.attn_only:
            ln(p + "ln_2.", W)
            W[p + "mlp.c_fc.weight"] = n(d, dm, s=std)
            W[p + "mlp.c_fc.bias"] = n(dm, s=bias_std)
            W[p + "mlp.c_proj.weight"] = n(dm, d, s=proj * math.sqrt(d / dm))
            W[p + "mlp.c_proj.bias"] = n(d, s=bias_std)
    ln("ln_f.", W)
    return {k: W[k] for k in weight_names(cfg)}
