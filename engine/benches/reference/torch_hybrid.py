"""PyTorch twin of Sextant's default CNN+LSTM hybrid (engine/src/models/hybrid.rs), timed the
same way as engine/benches/models.rs: training samples/s (batch 64, AdamW, clipping, the
multi-task loss) and single-sample inference latency, deterministic and with 20 MC-dropout
passes run as one batch. One thread. Prints one JSON object.

Run: python torch_hybrid.py FEATURES WINDOW BATCH TRAIN_STEPS INFER_ITERS
"""
import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
torch.manual_seed(0)


class MHA(nn.Module):
    def __init__(self, d, heads, p):
        super().__init__()
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.heads, self.hd, self.drop = heads, d // heads, nn.Dropout(p)

    def forward(self, queries, context):
        b, tq, d = queries.shape
        tk = context.shape[1]
        q = self.q(queries).view(b, tq, self.heads, self.hd).transpose(1, 2)
        k = self.k(context).view(b, tk, self.heads, self.hd).transpose(1, 2)
        v = self.v(context).view(b, tk, self.heads, self.hd).transpose(1, 2)
        w = self.drop(torch.softmax(q @ k.transpose(-1, -2) / self.hd ** 0.5, dim=-1))
        return self.o((w @ v).transpose(1, 2).reshape(b, tq, d))


class Pool(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.hidden = nn.Linear(d, d)
        self.score = nn.Parameter(torch.empty(d, 1).uniform_(-d ** -0.5, d ** -0.5))

    def forward(self, seq):
        w = torch.softmax((torch.tanh(self.hidden(seq)) @ self.score).squeeze(-1), dim=-1)
        return (w.unsqueeze(1) @ seq).squeeze(1)


def gelu(x):
    return F.gelu(x, approximate="tanh")


class Cnn(nn.Module):
    def __init__(self, f, kernels=(3, 5, 7, 11), ch=32, d=64, heads=4, p=0.1):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv1d(f, ch, k, padding=k // 2) for k in kernels)
        self.merge, self.skip = nn.Linear(ch * len(kernels), d), nn.Linear(f, d)
        self.n1, self.n2, self.n3 = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = MHA(d, heads, p)
        self.ff_in, self.ff_out = nn.Linear(d, 2 * d), nn.Linear(2 * d, d)
        self.drop = nn.Dropout(p)

    def forward(self, x):
        c = x.transpose(1, 2)
        pat = torch.cat([gelu(conv(c)) for conv in self.convs], dim=1).transpose(1, 2)
        h = self.n1(self.merge(pat) + self.skip(x))
        h = self.n2(h + self.drop(self.attn(h, h)))
        return self.n3(h + self.drop(self.ff_out(gelu(self.ff_in(h)))))


class BiLstm(nn.Module):
    def __init__(self, f, hidden=64, d=64, p=0.1):
        super().__init__()
        self.lstm = nn.LSTM(f, hidden, batch_first=True, bidirectional=True)
        self.project, self.skip, self.norm = nn.Linear(2 * hidden, d), nn.Linear(f, d), nn.LayerNorm(d)
        self.pool, self.drop = Pool(d), nn.Dropout(p)

    def forward(self, x):
        both, _ = self.lstm(x)
        seq = self.norm(self.project(self.drop(both)) + self.skip(x))
        return seq, self.pool(seq)


class Hybrid(nn.Module):
    def __init__(self, f, d=64, fused=256, p=0.2):
        super().__init__()
        self.cnn, self.lstm = Cnn(f), BiLstm(f)
        self.cross, self.norm = MHA(d, 4, 0.1), nn.LayerNorm(d)
        self.pool, self.fuse = Pool(d), nn.Linear(4 * d, fused)
        self.cls, self.reg, self.drop = nn.Linear(fused, 3), nn.Linear(fused, 1), nn.Dropout(p)

    def forward(self, x):
        pat = self.cnn(x)
        seq, ctx = self.lstm(x)
        fused_seq = self.norm(seq + self.drop(self.cross(seq, pat)))
        summary = torch.cat([self.pool(fused_seq), ctx, pat.mean(1), fused_seq[:, -1]], dim=-1)
        z = self.drop(gelu(self.fuse(summary)))
        return self.cls(z), self.reg(z)


def main():
    f, window, batch, steps, iters = (int(a) for a in sys.argv[1:6])
    model = Hybrid(f)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
    x = torch.randn(batch, window, f)
    y = torch.randint(0, 3, (batch,))
    r = torch.randn(batch, 1)
    cw = torch.tensor([1.0, 1.0, 1.0])
    times = []
    for i in range(steps + 2):
        t0 = time.perf_counter()
        model.train()
        logits, ret = model(x)
        loss = F.cross_entropy(logits, y, weight=cw) + 0.5 * F.huber_loss(ret, r, delta=1.0)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if i >= 2:
            times.append(time.perf_counter() - t0)
    train_sps = batch / statistics.median(times)

    def latency(fn, n):
        out = []
        for i in range(n + 5):
            t0 = time.perf_counter()
            fn()
            if i >= 5:
                out.append(time.perf_counter() - t0)
        out.sort()
        return out[len(out) // 2] * 1e3, out[min(len(out) - 1, int(len(out) * 0.99))] * 1e3

    one = torch.randn(1, window, f)
    with torch.no_grad():
        model.eval()
        det = latency(lambda: torch.softmax(model(one)[0], -1), iters)
        model.train()
        many = one.repeat(20, 1, 1)

        def mc():
            logits, ret = model(many)
            p = torch.softmax(logits, -1)
            return p.mean(0), p.std(0), ret.mean(0), ret.std(0)

        mcl = latency(mc, iters)
    print(json.dumps({
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_samples_per_s": train_sps,
        "infer_p50_ms": det[0], "infer_p99_ms": det[1],
        "mc20_p50_ms": mcl[0], "mc20_p99_ms": mcl[1],
    }))


if __name__ == "__main__":
    main()
