"""Planning and simulating RL training on a cluster, before renting it: `golddiff plan` and `golddiff simulate`.

- `plan`: how to shard the learner (FSDP, HSDP, FSDP+TP, FSDP+PP): memory, compute and communication of
  each layout, and the simplest one whose communication hides under compute;
- `hardware`, `shapes`: the GPU figures (golddiff/data/hardware.yaml) and model shapes both compute from;
- `simulate`: a discrete-event simulation of sync, one-step-off and Pipeline RL on the same machinery;
- `config`: its YAML config (pydantic, unknown keys refused) and the output-length distributions;
- `calibrate`: fitting the simulator's components to measured `golddiff train` runs;
- `report`: per-step metrics in the `golddiff train` schema, summaries, a table, plots and an HTML page
  (built with `golddiff.report`'s plot and HTML helpers).
Pure Python on the CPU (numpy for calibration, matplotlib for plots); no torch.
"""
