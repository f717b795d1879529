import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from xplique_lens.cli import main
from xplique_lens.lens import build_lens
from xplique_lens.lens import builder as builder_module
from xplique_lens.lens.sharding import (
    parse_shard,
    resolve_shard,
    select_shard,
    shard_from_environment,
)
from xplique_lens.lens.stages import STAGES


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        (
            {
                "SLURM_ARRAY_TASK_ID": "0",
                "SLURM_ARRAY_TASK_COUNT": "4",
                "SLURM_ARRAY_TASK_MIN": "0",
            },
            (1, 4),
        ),
        (
            {
                "SLURM_ARRAY_TASK_ID": "4",
                "SLURM_ARRAY_TASK_COUNT": "4",
                "SLURM_ARRAY_TASK_MIN": "1",
            },
            (4, 4),
        ),
        ({"SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_COUNT": "3"}, (3, 3)),  # MIN missing: 0
        (
            {"SLURM_ARRAY_TASK_ID": "7", "SLURM_ARRAY_TASK_MIN": "5", "SLURM_ARRAY_TASK_MAX": "9"},
            (3, 5),
        ),
        (
            {
                "SLURM_ARRAY_TASK_ID": "20",
                "SLURM_ARRAY_TASK_MIN": "0",
                "SLURM_ARRAY_TASK_MAX": "30",
                "SLURM_ARRAY_TASK_STEP": "10",
            },
            (3, 4),
        ),
        ({"JOB_COMPLETION_INDEX": "0", "JOB_COMPLETIONS": "5"}, (1, 5)),
        ({"JOB_COMPLETION_INDEX": "4", "JOB_COMPLETIONS": "5"}, (5, 5)),
    ],
)
def test_shard_from_runner_variables(environ, expected):
    assert shard_from_environment(environ) == expected
    assert resolve_shard("auto", environ=environ) == expected


def test_kubernetes_count_from_argument():
    assert shard_from_environment({"JOB_COMPLETION_INDEX": "2"}, shard_count=3) == (3, 3)
    with pytest.raises(ValueError, match="--shard-count N .* JOB_COMPLETIONS"):
        shard_from_environment({"JOB_COMPLETION_INDEX": "2"})
    with pytest.raises(ValueError, match=r"JOB_COMPLETION_INDEX must lie in \[0, 2\)"):
        shard_from_environment({"JOB_COMPLETION_INDEX": "2"}, shard_count=2)


@pytest.mark.parametrize(
    ("environ", "shard_count", "message"),
    [
        ({}, None, "neither a Slurm job array .* nor a Kubernetes Indexed Job"),
        ({"SLURM_ARRAY_TASK_ID": "3"}, None, "SLURM_ARRAY_TASK_COUNT nor SLURM_ARRAY_TASK_MIN/MAX"),
        ({"SLURM_ARRAY_TASK_ID": "x", "SLURM_ARRAY_TASK_COUNT": "2"}, None, "must be an integer"),
        (
            {
                "SLURM_ARRAY_TASK_ID": "5",
                "SLURM_ARRAY_TASK_COUNT": "3",
                "SLURM_ARRAY_TASK_MIN": "1",
                "SLURM_ARRAY_TASK_MAX": "9",
            },
            None,
            "cannot place Slurm array task 5 among 3 tasks",  # --array=1,5,9: no regular step
        ),
        ({"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "4"}, 3, "disagrees with the 4"),
        ({"JOB_COMPLETION_INDEX": "0"}, 0, "shard_count"),
    ],
)
def test_bad_runner_variables(environ, shard_count, message):
    with pytest.raises(ValueError, match=message):
        shard_from_environment(environ, shard_count)


def test_explicit_shards():
    assert parse_shard((2, 3)) == (2, 3)
    assert resolve_shard("2/3") == (2, 3) and resolve_shard(None) is None
    with pytest.raises(ValueError, match="only used with shard='auto'"):
        resolve_shard("1/2", shard_count=2)
    with pytest.raises(ValueError, match="'I/N'"):
        parse_shard([1])
    assert select_shard([0, 1, 2, 3, 4], (2, 2)) == [1, 3]
    assert select_shard([0, 1], None) == [0, 1]


def test_build_lens_shard_auto(tmp_path, monkeypatch, tiny_functional_model):
    monkeypatch.setattr(builder_module, "STAGES", [s for s in STAGES if s.name == "overview"])
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "1")
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "2")
    monkeypatch.setenv("SLURM_ARRAY_TASK_MIN", "0")
    images = np.random.default_rng(0).random((6, 16, 16, 3), dtype=np.float32)
    labels = np.array([0, 1, 2, 0, 1, 2])
    report = build_lens(
        tiny_functional_model,
        images,
        list("abc"),
        "conv",
        tmp_path,
        labels=labels,
        shard="auto",
        verbose=False,
    )
    assert sorted(report.stages) == [1]  # classes 0, 1, 2: the second of two shards is [1]


def test_cli_shard_auto_without_runner(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith("SLURM_ARRAY") or name.startswith("JOB_COMPLETION"):
            monkeypatch.delenv(name)
    with pytest.raises(SystemExit, match="--shard: --shard auto found neither"):
        main(
            [
                "build",
                "--model",
                "m.keras",
                "--images",
                "x.npz",
                "--layer",
                "c",
                "--out",
                str(tmp_path),
                "--shard",
                "auto",
            ]
        )


#: One shard process: the real ``xplique-lens build`` command line, with only the overview
#: stage so that the test measures the sharding (3 TensorFlow imports), not the explainers.
_SHARD_PROCESS = (
    "import sys\n"
    "from xplique_lens.lens import builder, stages\n"
    "builder.STAGES = [s for s in stages.STAGES if s.name == 'overview']\n"
    "from xplique_lens.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


@pytest.mark.slow
def test_three_slurm_shard_processes_then_merge(tmp_path, tiny_functional_model):
    model_path = tmp_path / "model.keras"
    tiny_functional_model.save(model_path)
    rng = np.random.default_rng(0)
    nb_classes = 3
    labels = np.tile(np.arange(nb_classes), 2)
    npz = tmp_path / "data.npz"
    np.savez(
        npz, images=rng.integers(0, 256, (len(labels), 16, 16, 3), dtype=np.uint8), labels=labels
    )
    out = tmp_path / "site"
    command = [
        sys.executable,
        "-c",
        _SHARD_PROCESS,
        "build",
        "--model",
        str(model_path),
        "--images",
        str(npz),
        "--layer",
        "conv",
        "--out",
        str(out),
        "--shard",
        "auto",
        "--preset",
        "tiny",
    ]
    processes = []
    for task in range(3):
        env = dict(
            os.environ,
            SLURM_ARRAY_TASK_ID=str(task),
            SLURM_ARRAY_TASK_COUNT="3",
            SLURM_ARRAY_TASK_MIN="0",
            SLURM_ARRAY_TASK_MAX="2",
            TF_CPP_MIN_LOG_LEVEL="3",
        )
        processes.append(
            subprocess.Popen(
                command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        )
    built = []
    for task, process in enumerate(processes):
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr[-2000:]
        match = re.search(rf"shard {task + 1}/3 built classes: \[([\d, ]*)\]", stdout)
        assert match, stdout
        built.append([int(c) for c in match.group(1).split(",") if c.strip()])
    assert built == [[0], [1], [2]]  # each class built once, by its shard
    assert main(["build", "--merge", "--out", str(out), "--quiet"]) == 0
    assert (out / "index.html").read_text().count("class='card'") == nb_classes
    manifests = sorted((out / "manifests").glob("*.json"))
    assert [json.loads(p.read_text())["class_id"] for p in manifests] == [0, 1, 2]
