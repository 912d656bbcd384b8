"""Induction on toy tasks: does a small Loupe GPT-2 (Loupe's initialisation, AdamW, weight decay 0.1) form induction
heads, with and without MLPs? A bisect for why the language models trained so far do not (see
tools/recipes/experiments/induction-toys.md for the runs and their numbers).

  /usr/bin/python3 tools/train_torch/induction_toys.py VOCAB mlp|attn STEPS LR TASK [LAYERS]

TASK: multi (a random segment of 8-32 tokens repeated to fill the window), zmulti (the same, Zipf-distributed
tokens), pmulti (the segment drawn with replacement from a per-row pool of 8 tokens), single (one random span
written twice inside random fill), markov (a fresh random bigram table per row). Window 128, batch 16, d_model
128, 4 heads. Every 100 steps: the best head's induction score on [BOS, r, r] (25 random tokens; chance 1/26 of
the keys on average) and the mean loss on the first and second copy.
"""
import sys, random, time
import torch
import torch.nn.functional as F
import os
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
import train_lm as tl  # noqa: E402
import gpt2_reference as ref  # noqa: E402

torch.set_num_threads(1)
V=int(sys.argv[1]); arch=sys.argv[2]; STEPS=int(sys.argv[3]); LR=float(sys.argv[4]); TASK=sys.argv[5]
L=int(sys.argv[6]) if len(sys.argv)>6 else 2
# variants through the environment: WD (weight decay of the matrices, 0.1), EMB_WD (of wte/wpe, as WD), B (batch, 16),
# DROPOUT (0), PROJ_SCALE (a factor on the initial c_proj weights, 1: Loupe's 0.02/√(2L))
WD=float(os.environ.get("WD","0.1")); EMB_WD=float(os.environ.get("EMB_WD",str(WD))); B=int(os.environ.get("B","16"))
DROPOUT=float(os.environ.get("DROPOUT","0"))  # residual dropout during training steps
T=128; BOS=0
cfg=ref.Config(n_layer=L,n_head=4,n_embd=128,n_positions=T+1,vocab_size=V,n_inner=512,attn_only=(arch=="attn"))
W=tl.init(cfg,1)
PROJ_SCALE=float(os.environ.get("PROJ_SCALE","1"))
for n in W:
    if n.endswith("c_proj.weight"): W[n]*=PROJ_SCALE
[w.requires_grad_(True) for w in W.values()]
emb=("wte.weight","wpe.weight")
dec=[w for n,w in W.items() if tl.decays(n) and n not in emb]; nod=[w for n,w in W.items() if not tl.decays(n)]
opt=torch.optim.AdamW([{"params":dec,"weight_decay":WD},{"params":[W[n] for n in emb],"weight_decay":EMB_WD},
                       {"params":nod,"weight_decay":0}],lr=LR,betas=(0.9,0.95))
rng=random.Random(5)
zipf=[1.0/(i+1) for i in range(V-1)]
def tok(): return 1+ (rng.choices(range(V-1),weights=zipf)[0] if TASK.startswith("z") else rng.randrange(V-1))
def row():
    if TASK=="pmulti":  # a per-row pool of 8 tokens drawn with replacement: the bag of the context cannot be refined by elimination
        pool=[tok() for _ in range(8)]; s=[rng.choice(pool) for _ in range(rng.randint(8,32))]; r=[BOS]
        while len(r)<T+1: r+=s
        return r[:T+1]
    if TASK.endswith("multi"):
        s=[tok() for _ in range(rng.randint(8,32))]; r=[BOS]
        while len(r)<T+1: r+=s
        return r[:T+1]
    if TASK.endswith("single"):
        s=[tok() for _ in range(rng.randint(8,48))]; pre=[tok() for _ in range(rng.randint(0,T-2*len(s)-1))]
        r=[BOS]+pre+s+s
        while len(r)<T+1: r.append(tok())
        return r[:T+1]
    if TASK=="markov":  # in-context bigram chain: a fresh random transition table per row (Dirichlet-ish)
        tab=[[rng.randrange(1,V) for _ in range(3)] for _ in range(V)]
        r=[BOS, rng.randrange(1,V)]
        while len(r)<T+1: r.append(rng.choice(tab[r[-1]]))
        return r
    raise SystemExit(TASK)
def ind_eval():
    g=random.Random(7); n=25; P=[[BOS]+(lambda s:s+s)([g.randrange(1,V) for _ in range(n)]) for _ in range(32)]
    ids=torch.tensor(P); q=torch.arange(n+1,2*n+1)
    with torch.no_grad():
        A=tl.attention_patterns(W,cfg,ids); sc=[a[:,:,q,q-n+1].mean((0,2)) for a in A]
        lg=tl.forward(W,cfg,ids); lp=F.cross_entropy(lg[:,:-1].reshape(-1,V),ids[:,1:].reshape(-1),reduction="none").view(32,-1)
    best=max((s.max().item(),l,s.argmax().item()) for l,s in enumerate(sc))
    return best, lp[:,:n].mean().item(), lp[:,n:].mean().item()
t0=time.time()
for step in range(STEPS+1):
    if step%100==0:
        b,l1,l2=ind_eval(); print(f"step {step} ind {b[0]:.3f} L{b[1]}H{b[2]} copy1 {l1:.2f} copy2 {l2:.2f} t {time.time()-t0:.0f}s",flush=True)
    if step==STEPS: break
    x=torch.tensor([row() for _ in range(B)])
    lr=LR*min(1,(step+1)/100); [g.__setitem__("lr",lr) for g in opt.param_groups]
    lg=tl.forward(W,cfg,x[:,:-1],dropout=DROPOUT,training=True); loss=F.cross_entropy(lg.reshape(-1,V),x[:,1:].reshape(-1))
    opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(list(W.values()),1.0); opt.step()
