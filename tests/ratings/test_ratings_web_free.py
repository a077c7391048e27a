"""The ratings core imports no web framework (DESIGN.md: the core is web-free)."""

import subprocess
import sys


def test_the_ratings_core_imports_with_django_blocked():
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('django', 'rest_framework'):\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import whatworks.ratings, whatworks.ratings.rate, whatworks.ratings.crosswalk\n"
        "import whatworks.ratings.framework, whatworks.ratings.schemes\n"
        "print('ok')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
