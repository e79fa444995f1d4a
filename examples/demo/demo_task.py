"""A stand-in for a training script: it uses the labtrail task protocol.

It saves its own checkpoint in $LABTRAIL_TASK_DIR (kept across attempts), streams metrics to
$LABTRAIL_METRICS, and writes its final result as JSON to $LABTRAIL_RESULT.
"""
import json
import os
import random
import sys
import time

stage, args = sys.argv[1], dict(zip(sys.argv[2::2], sys.argv[3::2]))
task_dir = os.environ["LABTRAIL_TASK_DIR"]
ckpt = os.path.join(task_dir, "checkpoint.json")
step = json.load(open(ckpt))["step"] if os.path.exists(ckpt) else 0
rng = random.Random(str(sorted(args.items())))
with open(os.environ["LABTRAIL_METRICS"], "a") as metrics:
    while step < 5:
        step += 1
        time.sleep(0.1)
        metrics.write(json.dumps({"step": step, "loss": round(1 / step + rng.random() / 10, 4)}) + "\n")
        json.dump({"step": step}, open(ckpt, "w"))
devices = os.environ.get("CUDA_VISIBLE_DEVICES", "unset")
print(f"{stage} {args} finished after {step} steps (attempt {os.environ['LABTRAIL_ATTEMPT']}, "
      f"CUDA_VISIBLE_DEVICES={devices!r}, worker slot {os.environ.get('LABTRAIL_SLOT')})")
result = {"steps": step, "val_acc": round(0.6 + rng.random() / 5, 4)}
json.dump(result, open(os.environ["LABTRAIL_RESULT"], "w"))
