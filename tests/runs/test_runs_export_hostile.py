"""Exports are data, not code: hostile strings in every free-text field come out of train.py, sft.yaml and
accelerate.sh as the same strings, and running the exports executes none of them. Every field of the
catalogue is tried (a value no number or choice can take is refused; free text is carried, and the scripts
generated for a cluster, slurm.sbatch and accelerate.sh, are run around stand-ins for srun and accelerate)."""

from __future__ import annotations

import ast
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lrexplorer.catalogues.params import TRAIN, FieldError, fields_for
from lrexplorer.runs.exports import bundle as bundles
from lrexplorer.runs.exports import cluster as cluster_export
from lrexplorer.runs.exports import script as export
from lrexplorer.runs.exports.cluster import Cluster
from lrexplorer.runs.spec import RunSpec

PWN = "touch pwned"
HOSTILE = {
    "model": f'x"""; __import__("os").system("{PWN}"); """',
    "dataset": f"d'''\n__import__('os').system('{PWN}')\n$({PWN})`{PWN}`",
    "output_dir": f"out $({PWN}) `{PWN}` \"'; {PWN} #",
    "run_name": f'"""\\\n; {PWN} \\" \'',
    "dataset_config": f'c\n#"""\nimport os; os.system(\'{PWN}\')',
}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    # Built around the catalogue's checks: the exporter must hold even for strings a later version lets in.
    spec = RunSpec(dict(RunSpec.from_dict({}).values, **HOSTILE))
    dest = tmp_path_factory.mktemp("hostile")
    bundles.write_bundle(spec, dest)
    return dest


def test_train_py_holds_every_string_as_a_literal(bundle):
    tree = ast.parse((bundle / export.SCRIPT).read_text(encoding="utf-8"))
    literals = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    for field, value in HOSTILE.items():
        assert value in literals, field
    calls = {ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    assert not {c for c in calls if "system" in c or c == "__import__"}, calls


def test_sft_yaml_reads_back_the_same_strings(bundle):
    doc = yaml.safe_load((bundle / export.TRL_YAML).read_text(encoding="utf-8"))
    assert doc["model_name_or_path"] == HOSTILE["model"]
    assert doc["dataset_name"] == HOSTILE["dataset"] and doc["dataset_config"] == HOSTILE["dataset_config"]
    assert doc["output_dir"] == HOSTILE["output_dir"] and doc["run_name"] == HOSTILE["run_name"]


def test_accelerate_sh_passes_the_strings_as_single_arguments(bundle, tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "accelerate").write_text('#!/bin/sh\nprintf "%s\\0" "$@" > "$ARGS_OUT"\n')
    (fake / "accelerate").chmod(0o755)
    out = tmp_path / "args"
    env = dict(os.environ, PATH=f"{fake}{os.pathsep}{os.environ['PATH']}", ARGS_OUT=str(out))
    subprocess.run(["sh", str(bundle / export.ACCELERATE)], cwd=tmp_path, env=env, check=True, timeout=30)
    args = out.read_bytes().split(b"\0")[:-1]
    assert args[-2:] == [b"train.py", HOSTILE["output_dir"].encode()]
    assert not (tmp_path / "pwned").exists() and not (bundle / "pwned").exists()


@pytest.mark.slow
def test_running_train_py_fails_on_the_missing_model_with_its_name_intact(bundle, tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    result = subprocess.run(
        [sys.executable, str(bundle / export.SCRIPT)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert not (tmp_path / "pwned").exists() and not (bundle / "pwned").exists()
    assert "from_pretrained" in result.stderr and "__import__(" in result.stderr, result.stderr[-3000:]


# -- every field that reaches a generated file, from the catalogue ---------------------------------------
# One value that, unquoted anywhere in a shell script, a Markdown code line or Python, runs a command: a new
# line, a command substitution, backticks, quotes, a separator, a comment, Unicode's line separator.
PAYLOAD = "v\ntouch pwned-nl\n$(touch pwned-sub)`touch pwned-bt`'\"; touch pwned-semi #\u2028x\r\\"
FREE_TEXT = ("str", "str_list", "json")
NODES = Cluster(num_machines=2, main_process_ip="10.0.0.1")


def _value(field, text: str):
    return {"str": text, "str_list": [text], "json": {"key": text, text: 1}}[field.kind]


def _bundle(values: dict, dest: Path) -> dict[str, str]:
    spec = RunSpec(dict(RunSpec.from_dict({"model": "org/tiny-model"}).values, **values))  # past the checks
    bundles.write_bundle(spec, dest, cluster=NODES)
    return {p.name: p.read_text(encoding="utf-8") for p in dest.iterdir() if p.is_file()}


def _fakes(folder: Path) -> dict[str, str]:
    """Stand-ins for accelerate, srun and scontrol: the scripts run for real around them."""
    folder.mkdir()
    scripts = {
        "accelerate": '#!/bin/sh\nprintf "%s\\0" "$@" >> "$ARGS_OUT"\n',
        "srun": '#!/bin/sh\nexec "$@"\n',
        "scontrol": "#!/bin/sh\necho node-0\n",
    }
    for name, text in scripts.items():
        (folder / name).write_text(text)
        (folder / name).chmod(0o755)
    return {"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}", "SLURM_NODEID": "0", "SLURM_JOB_NODELIST": "node-0"}


def _run_scripts(bundle: Path, tmp_path: Path, name: str) -> list[list[bytes]]:
    """Run accelerate.sh and slurm.sbatch; the arguments accelerate got, per script."""
    env = dict(os.environ, **_fakes(tmp_path / f"bin-{name}"), SLURM_SUBMIT_DIR=str(bundle))
    got = []
    for script, shell in ((export.ACCELERATE, "sh"), ("slurm.sbatch", "bash")):
        out = tmp_path / f"args-{name}-{script}"
        env["ARGS_OUT"] = str(out)
        done = subprocess.run([shell, str(bundle / script)], cwd=tmp_path, env=env, capture_output=True, timeout=60)
        assert done.returncode == 0, (script, done.stderr.decode()[-2000:])
        got.append(out.read_bytes().split(b"\0")[:-1])
    return got


@pytest.mark.parametrize("field", list(fields_for(TRAIN)), ids=lambda f: f.name)
def test_no_value_of_any_field_becomes_a_command_in_any_generated_file(field, tmp_path):
    if field.kind not in FREE_TEXT:
        # numbers, switches and choices: the catalogue admits only numbers and fixed words, never this text
        with pytest.raises(FieldError):
            field.convert(PAYLOAD)
        assert all(re.fullmatch(r"[A-Za-z0-9_.+-]*", c) for c in field.choice_values())
        return
    if field.kind != "json":  # a name, path or id is one line of printable text
        with pytest.raises(FieldError, match="control character"):
            field.convert(_value(field, PAYLOAD))
    # The generators must hold even for what a later catalogue might let through: compare with a plain value.
    plain = _bundle({field.name: _value(field, "plain")}, tmp_path / "plain")
    hostile = _bundle({field.name: _value(field, PAYLOAD)}, tmp_path / "hostile")
    assert plain.keys() == hostile.keys()
    tree, base = ast.parse(hostile[export.SCRIPT]), ast.parse(plain[export.SCRIPT])
    calls = {ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    assert calls == {ast.unparse(n.func) for n in ast.walk(base) if isinstance(n, ast.Call)}
    assert len(tree.body) == len(base.body)
    for name in (export.TRL_YAML, "accelerate_config.yaml"):
        if name in plain:
            assert yaml.safe_load(hostile[name]).keys() == yaml.safe_load(plain[name]).keys(), name
    # Markdown has no quoting: a value there stays on its line. (In the shell scripts a quoted value may hold a
    # new line; running them below is what shows that none becomes a command.)
    assert len(hostile[bundles.README].splitlines()) == len(plain[bundles.README].splitlines())
    for line in hostile["slurm.sbatch"].splitlines():
        if line.startswith("#SBATCH"):  # read by sbatch itself, where no shell quoting applies
            assert re.fullmatch(r"#SBATCH --[a-z-]+=[A-Za-z0-9._%-]+", line), line
    hostile_args = _run_scripts(tmp_path / "hostile", tmp_path, "hostile")
    plain_args = _run_scripts(tmp_path / "plain", tmp_path, "plain")
    assert [len(a) for a in hostile_args] == [len(a) for a in plain_args]  # every value stayed one argument
    assert not list(tmp_path.rglob("pwned*")), "a field value ran as a command"


@pytest.mark.parametrize(
    "ip", ["a b", "10.0.0.1\n", "-oProxyCommand=x", "host;reboot", "$(id)", "a..b", "", "h" * 300, "host:22", "[::1]"]
)
def test_main_process_ip_takes_host_names_and_addresses_only(ip):
    with pytest.raises(FieldError, match="main_process_ip"):
        Cluster(num_machines=2, main_process_ip=ip).checked()


@pytest.mark.parametrize("ip", ["10.0.0.1", "node-01.cluster", "n1", "::1", "fe80::1", "gpu7.example.org."])
def test_main_process_ip_accepts_what_accelerate_launch_takes(ip):
    from accelerate.commands.launch import launch_command_parser

    spec = RunSpec.from_dict({"num_processes": 2})
    line = export.accelerate_command(spec, cluster=Cluster(num_machines=2, main_process_ip=ip).checked())
    assert launch_command_parser().parse_args(shlex.split(line)[2:]).main_process_ip == ip


def test_the_slurm_job_name_is_the_run_name_in_one_word():
    spec = RunSpec.from_dict({"run_name": "lr sweep #3 (cosine)", "num_processes": 2})
    script = cluster_export.sbatch_script(spec, export.detect_facts(), NODES, export.SCRIPT, "out")
    assert "#SBATCH --job-name=lr-sweep--3--cosine\n" in script


@pytest.mark.parametrize("char", ["\n", "\r", "\x1b", "\x00", "\u2028", "\x85"])
def test_text_fields_refuse_control_characters(char):
    for field in (f for f in fields_for(TRAIN) if f.kind in ("str", "str_list")):
        with pytest.raises(FieldError, match=f"{field.name}: must be one line of printable text"):
            field.convert(f"name{char}more")
