"""The house's shape, read from the source (scripts/import_graph.py): no import cycle, no
import up the layers, the training code used only by the train command and the demo, and
project modules imported at the top of the files of the layers that load eagerly."""

import ast
import textwrap

from scripts.import_graph import LAYERS, ROOT, cycles, import_graph, layer_of, layer_problems

# optional packages (and the modules wrapping them) that stay lazy; everything else is
# imported at the top of a file
LAZY_ALLOWED = {"onnxruntime", "tensorrt", "ray", "decord", "facenet_pytorch", "dlib", "vidswap.video.decord_reader"}
# packages whose files keep every import at the top (the CLI defers its heavy imports into
# command bodies for a fast --help; the rest belongs to the other layers' owners)
EAGER_PACKAGES = ("vidswap.api", "vidswap.pipeline", "vidswap.video", "vidswap.faces", "vidswap.metrics",
                  "vidswap.models", "vidswap.errors", "vidswap.fsutil", "vidswap.settings",
                  "vidswap.extract")  # fmt: skip


def test_vidswap_has_no_import_cycle():
    assert cycles(import_graph()) == []


def test_no_import_goes_up_a_layer_or_into_the_trainer():
    assert layer_problems(import_graph()) == []


def test_the_checks_find_a_cycle_an_upward_import_and_a_trainer_import(tmp_path):
    files = {
        "vidswap/__init__.py": "",
        "vidswap/video/__init__.py": "",
        "vidswap/video/probe.py": "def count():\n    from vidswap.video.reader import open_video\n",
        "vidswap/video/reader.py": "from vidswap.video import probe\n",
        "vidswap/pipeline/__init__.py": "",
        "vidswap/pipeline/batch.py": "def run():\n    from vidswap.api import Translator\n",
        "vidswap/api.py": "from vidswap.pipeline import batch\n",
        "vidswap/models.py": "import trainer.loop\n",
        "trainer/__init__.py": "",
        "trainer/loop.py": "",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(textwrap.dedent(text))
    graph = import_graph(tmp_path)
    assert cycles(graph) == [["vidswap.api", "vidswap.pipeline.batch"], ["vidswap.video.probe", "vidswap.video.reader"]]
    problems = layer_problems(graph)
    assert any("vidswap.pipeline.batch (pipeline) imports vidswap.api (api): upward" in p for p in problems)
    assert any(p.startswith("vidswap.models imports trainer.loop") for p in problems)


def test_every_module_has_a_layer():
    assert [m for m in import_graph() if layer_of(m) is None] == []
    assert [layer for layer, _ in LAYERS] == ["cli", "api", "pipeline", "stages", "models", "base"]


def test_imports_inside_functions_are_only_of_optional_packages():
    lazy = []
    for path in sorted((ROOT / "vidswap").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        if not module.startswith(EAGER_PACKAGES):
            continue
        for function in ast.walk(ast.parse(path.read_text())):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                    [node.module] if isinstance(node, ast.ImportFrom) else [])  # fmt: skip
                lazy += [f"{module}:{node.lineno} {n}" for n in names if n.split(".")[0] not in LAZY_ALLOWED
                         and n not in LAZY_ALLOWED]  # fmt: skip
    assert lazy == []
