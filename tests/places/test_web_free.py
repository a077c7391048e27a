"""whatworks.places imports no web framework and no plotting library until asked to draw."""

import subprocess
import sys


def test_places_imports_with_django_and_matplotlib_blocked():
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('django', 'rest_framework', 'matplotlib'):\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import whatworks.places, whatworks.places.cli\n"
        "from whatworks.places import load_panel, funnel, rate_model, multilevel_model\n"
        "p = load_panel()\n"
        "print(funnel(p, year=2023).k, rate_model(p, year=2023).n)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["152", "152"]
