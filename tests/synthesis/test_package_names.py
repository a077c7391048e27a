"""The package's public names are functions even after their same-named modules were imported."""

import subprocess
import sys


def test_functions_named_like_their_modules_stay_functions_whatever_was_imported_first():
    code = ("import whatworks.synthesis.multilevel, whatworks.synthesis.robust, "
            "whatworks.synthesis.robumeta, whatworks.synthesis.mantel_haenszel, whatworks.synthesis.che\n"
            "from whatworks.synthesis import che, mantel_haenszel, multilevel, robumeta, robust\n"
            "import types\n"
            "assert all(isinstance(f, types.FunctionType) "
            "for f in (che, mantel_haenszel, multilevel, robumeta, robust))\n"
            "print('ok')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
