"""Independent float64 numpy reference of EfficientNet-Lite0 (efficientnet_lite_pytorch, eval mode).

Produces the expected values hard-coded in tests/train_uss.rs (`effnet_matches_numpy_reference`).
Needs numpy and pillow only (no torch): reads the legacy torch.save file with a restricted unpickler.

    python effnet_reference.py PTH IMAGE [norm]
"""
import collections
import json
import pickle
import sys

import numpy as np
from PIL import Image

STAGES = [(1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320)]


class Unpickler(pickle.Unpickler):
    def find_class(self, mod, name):
        if name == "_rebuild_tensor_v2":
            return lambda storage, off, size, stride, *rest: (storage, off, size, stride)
        if (mod, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        return {"FloatStorage": "<f4", "LongStorage": "<i8"}.get(name, name)

    def persistent_load(self, pid):
        return pid  # ('storage', dtype, key, location, numel)


def load(path):
    f = open(path, "rb")
    for _ in range(3):  # magic, protocol, system info
        Unpickler(f).load()
    state, keys = Unpickler(f).load(), Unpickler(f).load()
    dtypes = {v[0][2]: v[0][1] for v in state.values()}
    storages = {}
    for k in keys:
        n = int(np.frombuffer(f.read(8), "<i8")[0])
        storages[k] = np.frombuffer(f.read(n * np.dtype(dtypes[k]).itemsize), dtypes[k])
    weights = {}
    for name, (st, off, size, stride) in state.items():
        a = storages[st[2]]
        view = np.lib.stride_tricks.as_strided(a[off:], shape=size, strides=[s * a.itemsize for s in stride])
        weights[name] = view.astype(np.float64)
    return weights


def pad_same(x, k, s):
    def pads(i):
        total = max((-(-i // s) - 1) * s + k - i, 0)
        return (total // 2, total - total // 2)
    return np.pad(x, ((0, 0), pads(x.shape[1]), pads(x.shape[2])))


def conv(x, w, s=1, depthwise=False):
    k = w.shape[2]
    x = pad_same(x, k, s)
    oh, ow = (x.shape[1] - k) // s + 1, (x.shape[2] - k) // s + 1
    taps = [x[:, i:i + s * oh:s, j:j + s * ow:s] for i in range(k) for j in range(k)]
    if depthwise:
        return sum(w[:, 0, t // k, t % k][:, None, None] * taps[t] for t in range(k * k))
    return np.einsum("ocj,cjhw->ohw", w.reshape(w.shape[0], w.shape[1], k * k), np.stack(taps, 1))


def forward(W, x):
    def bn(x, p):
        c = lambda n: W[p + n][:, None, None]
        return (x - c(".running_mean")) / np.sqrt(c(".running_var") + 1e-3) * c(".weight") + c(".bias")
    r6 = lambda x: np.clip(x, 0, 6)
    x = r6(bn(conv(x, W["_conv_stem.weight"], 2), "_bn0"))
    feats, b = [], 0
    for repeats, k, stride, e, cin, cout in STAGES:
        for j in range(repeats):
            s, ci = (stride, cin) if j == 0 else (1, cout)
            p = f"_blocks.{b}."
            y = x
            if e != 1:
                y = r6(bn(conv(y, W[p + "_expand_conv.weight"]), p + "_bn0"))
            y = r6(bn(conv(y, W[p + "_depthwise_conv.weight"], s, depthwise=True), p + "_bn1"))
            y = bn(conv(y, W[p + "_project_conv.weight"]), p + "_bn2")
            x = y + x if s == 1 and ci == cout else y
            feats.append(x)
            b += 1
    h = r6(bn(conv(x, W["_conv_head.weight"]), "_bn1")).mean((1, 2))
    return W["_fc.weight"] @ h + W["_fc.bias"], [feats[i] for i in (2, 4, 10, 15)]


if __name__ == "__main__":
    W = load(sys.argv[1])
    x = (np.asarray(Image.open(sys.argv[2]).convert("RGB"), np.float64) / 255.0).transpose(2, 0, 1)
    if sys.argv[3:] == ["norm"]:
        x = (x * 255 - 127) / 128
    logits, levels = forward(W, x)
    print(json.dumps({
        "top5": np.argsort(-logits)[:5].tolist(),
        "logits_first8": [round(v, 6) for v in logits[:8].tolist()],
        "level_shapes": [list(f.shape) for f in levels],
        "level_means": [round(float(f.mean()), 6) for f in levels],
    }))
