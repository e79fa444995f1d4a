"""Evaluates the train task's last checkpoint on data/val.jsonl (labtrail task protocol).

$LABTRAIL_UPSTREAM_TRAIN is the train task's folder (eval varies over the same lr x seed). The
result carries seed 004's eval block under "archive": labtrail's archive shows it as is.
"""
import glob
import json
import math
import os
import sys

data = sys.argv[sys.argv.index("--data") + 1]
upstream = os.environ["LABTRAIL_UPSTREAM_TRAIN"]
ckpts = glob.glob(os.path.join(upstream, "checkpoints", "ckpt_*.pt"))
if not ckpts:
    sys.exit(f"eval: no checkpoint in {upstream}/checkpoints")
ckpt = max(ckpts, key=lambda p: int(os.path.basename(p)[len("ckpt_"):-len(".pt")]))
state = json.load(open(ckpt))
rows = [json.loads(line) for line in open(data)]
loss = acc = 0.0
for r in rows:
    z = state["w"][0] * r["x"][0] + state["w"][1] * r["x"][1] + state["b"]
    p = 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))
    loss -= math.log(p if r["y"] else 1 - p)
    acc += (p > 0.5) == bool(r["y"])
loss, acc = round(loss / len(rows), 5), round(acc / len(rows), 4)
with open(os.environ["LABTRAIL_METRICS"], "a") as metrics:
    metrics.write(json.dumps({"step": state["step"], "val_loss": loss, "val_acc": acc}) + "\n")
print(f"eval {os.path.basename(ckpt)}: val_loss {loss} val_acc {acc}")
result = {
    "val_loss": loss,
    "val_acc": acc,
    "archive": {
        "eval": {
            "datasets": [data],
            "checkpoint": os.path.relpath(ckpt, upstream),
            "results": {"val_loss": loss, "val_acc": acc},
            "script": "eval.py",
        }
    },
}
json.dump(result, open(os.environ["LABTRAIL_RESULT"], "w"))
