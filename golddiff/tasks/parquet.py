"""Tasks as Parquet: one row per task, the `prompt` column in the conversational format TRL and verl read.

    write_tasks_parquet(tasks, "tasks.parquet")        # streamed in row groups
    for task in iter_tasks_parquet("tasks.parquet"): ...
    heldout = read_split("tasks.parquet", "heldout")

`base_files`, `gold` and `negatives` are JSON text columns; `reward_model.ground_truth` holds the first
gold answer (verl's convention). pyarrow is imported when a file is read or written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from golddiff.tasks.model import Task

_JSON_COLUMNS = ("base_files", "gold", "negatives")


def _schema():
    import pyarrow as pa

    message = pa.struct([("role", pa.string()), ("content", pa.string())])
    strings = ["task_id", "episode_id", "split", "group", "source_tool", "data_source"]
    return pa.schema(
        [(name, pa.string()) for name in strings]
        + [("prompt", pa.list_(message)), ("allowed_paths", pa.list_(pa.string()))]
        + [(name, pa.string()) for name in _JSON_COLUMNS]  # JSON text: base_files, gold, negatives
        + [("prompt_trimmed", pa.bool_())]
        + [("reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.string())]))]
    )


def _row(task: Task) -> dict:
    row = task.model_dump()
    for col in _JSON_COLUMNS:
        row[col] = json.dumps(row[col], ensure_ascii=False)
    row["data_source"] = "golddiff"
    row["reward_model"] = {"style": "rule", "ground_truth": task.gold[0].answer}
    return row


def write_tasks_parquet(tasks: Iterable[Task], path: str | Path, batch_rows: int = 256) -> int:
    """Write tasks to Parquet in row groups of `batch_rows` (streamed); returns how many were written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema, n, batch = _schema(), 0, []
    with pq.ParquetWriter(str(path), schema) as writer:
        for task in tasks:
            batch.append(_row(task))
            if len(batch) >= batch_rows:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                n, batch = n + len(batch), []
        if batch or n == 0:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            n += len(batch)
    return n


def iter_tasks_parquet(path: str | Path) -> Iterator[Task]:
    """Stream tasks from a Parquet file written by `write_tasks_parquet`."""
    import pyarrow.parquet as pq

    for batch in pq.ParquetFile(str(path)).iter_batches(batch_size=256):
        for row in batch.to_pylist():
            row.pop("data_source", None)
            row.pop("reward_model", None)
            for col in _JSON_COLUMNS:
                row[col] = json.loads(row[col])
            yield Task.model_validate(row)


def read_tasks_parquet(path: str | Path) -> list[Task]:
    return list(iter_tasks_parquet(path))


def read_split(path: str | Path, split: str, limit: int | None = None) -> list[Task]:
    """The tasks of `split` ("all" for every task) in `path`, the first `limit` of them if given.

    Raises ValueError naming the file when it cannot be read or holds no task of that split."""
    try:
        tasks = read_tasks_parquet(path)
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e}; expected tasks.parquet from `golddiff tasks`") from e
    chosen = tasks if split == "all" else [t for t in tasks if t.split == split]
    if not chosen:
        splits = sorted({t.split for t in tasks})
        raise ValueError(f"no task in split {split!r} of {path} (it has: {', '.join(splits) or 'none'})")
    return chosen[:limit] if limit is not None else chosen
