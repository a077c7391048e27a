"""The domain core imports no web framework (DESIGN.md: the core is web-free)."""

import subprocess
import sys

CORE = ["whatworks.effects", "whatworks.synthesis", "whatworks.synthesis.batch",
        "whatworks.synthesis.mantel_haenszel", "whatworks.compute", "whatworks.cli"]


def test_the_core_imports_with_django_blocked():
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('django', 'rest_framework'):\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        + "".join(f"import {m}\n" for m in CORE)
        + "print('ok')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
