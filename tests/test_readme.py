"""The README's commands are the ones CI and a newcomer run."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_test_command() -> str:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", readme, flags=re.S)
    commands = [line for block in blocks for line in block.splitlines() if "pytest" in line]
    assert len(commands) == 1, f"expected one test command in the README, found {commands}"
    return commands[0].strip()


def test_ci_runs_the_readme_test_command_literally():
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    commands = [line for line in lines if line and not line.startswith(("#", "set ", "cd "))]
    assert commands == [readme_test_command()]


def test_library_noise_is_silenced():
    """What a newcomer sees: no warnings from bitsandbytes or transformers on our commands."""
    code = (
        "import sys; from bench.cli.main import main; "
        "sys.exit(main(['params', '--model', 'llama-2-7b', '--method', 'qlora,lora', "
        "'--task-kind', 'generation']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "| Llama-2-7B | qlora " in done.stdout
