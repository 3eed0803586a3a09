"""Planning and simulating RL training on a cluster, before renting it: `golddiff plan` and `golddiff simulate`.

- `plan`: how to shard the learner (FSDP, HSDP, TP, PP, CP and their mixes): every layout that gives each
  GPU work and fits, the simplest one whose communication hides under compute (else the fastest), and the
  limit that binds; `layouts` costs each layout, `explain` puts the choice in words, `roofline` holds the
  assumptions and the arithmetic;
- `hardware`, `shapes`: the GPU figures (golddiff/data/hardware.yaml) and model shapes both compute from;
- `simulate`: a discrete-event simulation of sync, one-step-off and Pipeline RL on the same machinery;
- `config`: its YAML config (pydantic, unknown keys refused) and the output-length distributions;
- `calibrate`: fitting the simulator's components to measured `golddiff train` runs;
- `report`: per-step metrics in the `golddiff train` schema, summaries, a table, plots and an HTML page
  (built with `golddiff.report`'s plot and HTML helpers).
Pure Python on the CPU (numpy for calibration, matplotlib for plots); no torch.
"""
