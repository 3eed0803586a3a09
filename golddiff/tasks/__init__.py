"""Episodes → RL tasks (prompt, gold, negatives), SFT records, preference pairs and exports; tasks as Parquet.

    from golddiff.episodes import read_episodes
    from golddiff.tasks import task_from_episode, write_tasks_parquet
    tasks = [task_from_episode(ep) for ep in read_episodes("episodes.jsonl")]
    write_tasks_parquet(tasks, "tasks.parquet")       # or: golddiff tasks episodes.jsonl -o tasks.parquet

- `model`: `Task` (prompt, base files, allowed paths, golds, negatives), `Gold`, `Negative`,
  `TaskSettings`, `TaskError`;
- `build`: an episode (or plain dicts) into a task; gold answers as SEARCH/REPLACE blocks checked to
  re-apply exactly; the split, a hash of the session (or repository), so no session is on both sides;
- `prompt`: the system message stating the answer format (`SYSTEM_PROMPT`) and the user message with the
  request and the task's files, trimmed around the changed regions when over the token budget (said so);
- `export`: ATIF trajectories, OpenAI-style chat messages, SFT records and preference pairs;
- `parquet`: tasks.parquet, read and written in the conversational format TRL and verl read.

Pure Python (pydantic, pyarrow); no torch.
"""

from golddiff.tasks.build import (
    build_task,
    group_key,
    make_task,
    render_answer,
    request_text,
    split_of,
    task_from_episode,
)
from golddiff.tasks.export import (
    pairs_from_episode,
    preference_pairs,
    sft_answer_record,
    sft_trajectory_record,
    to_atif,
    to_messages,
)
from golddiff.tasks.model import Gold, Negative, Task, TaskError, TaskSettings
from golddiff.tasks.parquet import iter_tasks_parquet, read_split, read_tasks_parquet, write_tasks_parquet
from golddiff.tasks.prompt import OMITTED, SYSTEM_PROMPT, build_prompt

__all__ = [
    "OMITTED",
    "SYSTEM_PROMPT",
    "Gold",
    "Negative",
    "Task",
    "TaskError",
    "TaskSettings",
    "build_prompt",
    "build_task",
    "group_key",
    "iter_tasks_parquet",
    "make_task",
    "pairs_from_episode",
    "preference_pairs",
    "read_split",
    "read_tasks_parquet",
    "render_answer",
    "request_text",
    "sft_answer_record",
    "sft_trajectory_record",
    "split_of",
    "task_from_episode",
    "to_atif",
    "to_messages",
    "write_tasks_parquet",
]
