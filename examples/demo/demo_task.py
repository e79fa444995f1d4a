"""A stand-in for a training script: it uses the labtrail task protocol, both ways.

With the `labtrail` Python helper installed (`pip install labtrail`, README, Install), it reports
through it: `labtrail.log`, `labtrail.result`, `labtrail.save_checkpoint`. Without it, through
plain files, which needs nothing: it saves its own checkpoint in $LABTRAIL_TASK_DIR (kept across
attempts), streams metrics to $LABTRAIL_METRICS, and writes its final result as JSON to
$LABTRAIL_RESULT. labtrail reads both the same.
"""
import json
import os
import random
import sys
import time

try:
    import labtrail  # the helper: pure Python, in the same wheel as the labtrail binary
except ImportError:
    labtrail = None

stage, args = sys.argv[1], dict(zip(sys.argv[2::2], sys.argv[3::2]))
rng = random.Random(str(sorted(args.items())))
task_dir = os.environ["LABTRAIL_TASK_DIR"]
ckpt = os.path.join(task_dir, "checkpoint.json")

if labtrail is not None:
    saved = labtrail.load_checkpoint("checkpoint.json")  # None on a first attempt
    step = json.loads(saved)["step"] if saved else 0
    while step < 5 and not labtrail.stop_requested():
        step += 1
        time.sleep(0.1)
        labtrail.log(step=step, loss=round(1 / step + rng.random() / 10, 4))
        labtrail.save_checkpoint(json.dumps({"step": step}).encode(), "checkpoint.json")
else:
    step = json.load(open(ckpt))["step"] if os.path.exists(ckpt) else 0
    with open(os.environ["LABTRAIL_METRICS"], "a") as metrics:
        while step < 5:
            step += 1
            time.sleep(0.1)
            metrics.write(json.dumps({"step": step, "loss": round(1 / step + rng.random() / 10, 4)}) + "\n")
            json.dump({"step": step}, open(ckpt, "w"))
devices = os.environ.get("CUDA_VISIBLE_DEVICES", "unset")
how = "the labtrail helper" if labtrail is not None else "plain files"
print(f"{stage} {args} finished after {step} steps (attempt {os.environ['LABTRAIL_ATTEMPT']}, "
      f"CUDA_VISIBLE_DEVICES={devices!r}, worker slot {os.environ.get('LABTRAIL_SLOT')}, "
      f"reporting with {how})")
result = {"steps": step, "val_acc": round(0.6 + rng.random() / 5, 4)}
if labtrail is not None:
    if step < 5:
        sys.exit(1)  # stopped (SIGTERM): the checkpoint is saved, the next attempt goes on
    labtrail.result(result)
else:
    json.dump(result, open(os.environ["LABTRAIL_RESULT"], "w"))
