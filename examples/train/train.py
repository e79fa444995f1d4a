"""A toy training run that uses the labtrail task protocol (pure Python, no GPU, no numpy).

Logistic regression on data/train.jsonl by mini-batch SGD for a few hundred steps: every step
appends {"step", "loss", "acc", "time"} to $LABTRAIL_METRICS, every 100 steps a checkpoint goes to
checkpoints/ckpt_<step>.pt in $LABTRAIL_TASK_DIR (kept across attempts, so a rerun resumes from
the last one), and the final metrics go to $LABTRAIL_RESULT.
"""
import argparse
import glob
import json
import math
import os
import random
import time

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, required=True)
parser.add_argument("--seed", type=int, required=True)
parser.add_argument("--data", required=True)
parser.add_argument("--steps", type=int, default=300)
args = parser.parse_args()

rows = [json.loads(line) for line in open(args.data)]
task_dir = os.environ["LABTRAIL_TASK_DIR"]
ckpt_dir = os.path.join(task_dir, "checkpoints")
os.makedirs(ckpt_dir, exist_ok=True)


def step_of(path):
    return int(os.path.basename(path)[len("ckpt_"):-len(".pt")])


# Resume from the newest checkpoint an earlier attempt left.
ckpts = sorted(glob.glob(os.path.join(ckpt_dir, "ckpt_*.pt")), key=step_of)
if ckpts:
    state = json.load(open(ckpts[-1]))
else:
    init = random.Random(args.seed)
    state = {"step": 0, "w": [init.gauss(0, 1), init.gauss(0, 1)], "b": 0.0}
rng = random.Random(args.seed * 1000 + state["step"])


def predict(w, b, x):
    z = w[0] * x[0] + w[1] * x[1] + b
    return 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))


def evaluate(w, b):
    loss = acc = 0.0
    for r in rows:
        p = predict(w, b, r["x"])
        loss -= math.log(p if r["y"] else 1 - p)
        acc += (p > 0.5) == bool(r["y"])
    return loss / len(rows), acc / len(rows)


w, b = state["w"], state["b"]
with open(os.environ["LABTRAIL_METRICS"], "a") as metrics:
    for step in range(state["step"] + 1, args.steps + 1):
        batch = rng.sample(rows, 8)
        gw, gb = [0.0, 0.0], 0.0
        for r in batch:
            err = predict(w, b, r["x"]) - r["y"]
            gw[0] += err * r["x"][0] / len(batch)
            gw[1] += err * r["x"][1] / len(batch)
            gb += err / len(batch)
        w = [w[0] - args.lr * gw[0], w[1] - args.lr * gw[1]]
        b -= args.lr * gb
        loss, acc = evaluate(w, b)
        metrics.write(json.dumps({"step": step, "loss": round(loss, 5), "acc": round(acc, 4), "time": round(time.time(), 4)}) + "\n")
        if step % 100 == 0 or step == args.steps:
            path = os.path.join(ckpt_dir, f"ckpt_{step}.pt")
            with open(path + ".tmp", "w") as f:
                json.dump({"step": step, "w": w, "b": b, "loss": loss}, f)
            os.replace(path + ".tmp", path)

loss, acc = evaluate(w, b)
# The best checkpoint is the one saved at the lowest training loss.
saved = glob.glob(os.path.join(ckpt_dir, "ckpt_*.pt"))
best = min(saved, key=lambda p: (json.load(open(p))["loss"], step_of(p)))
print(f"train lr={args.lr} seed={args.seed}: loss {loss:.4f} acc {acc:.3f} after {args.steps} steps")
result = {
    "final_loss": round(loss, 5),
    "final_acc": round(acc, 4),
    "steps": args.steps,
    "archive": {"best_checkpoint": os.path.relpath(best, task_dir)},
}
json.dump(result, open(os.environ["LABTRAIL_RESULT"], "w"))
