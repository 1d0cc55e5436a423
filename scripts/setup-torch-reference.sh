#!/usr/bin/env bash
# CPU-only PyTorch venv from PyPI without the multi-GB nvidia-* wheels.
# PyPI has no CPU-only torch wheel for Linux x86_64, and `pip install --no-deps torch`
# alone fails at `import torch` (libtorch_cpu.so/libtorch_cuda.so DT_NEEDED libcudart,
# libcublas, libcudnn, ...). So: install the PyPI torch wheel with --no-deps, install its
# pure-Python deps, and put tiny no-op stub .so files (generated from the wheel's own
# undefined symbols, built with gcc) on torch's RUNPATH at site-packages/nvidia/cuNN/lib.
# CPU ops work; torch.cuda.is_available() is False; any CUDA use raises.
# Idempotent: does nothing if $VENV already imports torch.
# Needs: python3 (3.11 tested), gcc, readelf (binutils), access to PyPI.
set -euo pipefail
VENV="${SEXTANT_TORCH_VENV:-$HOME/.cache/sextant-torch}"
PY="${PYTHON:-python3}"
TORCH_VERSION="${TORCH_VERSION:-2.15.0}"

if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -W ignore -c "import torch" >/dev/null 2>&1; then
  echo "torch already importable in $VENV: $("$VENV/bin/python" -W ignore -c 'import torch; print(torch.__version__)' 2>/dev/null)"
  exit 0
fi

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --no-cache-dir --disable-pip-version-check)
"${PIP[@]}" install -q --no-deps "torch==$TORCH_VERSION"
# torch's non-nvidia runtime deps (setuptools/triton/cuda-* deliberately omitted)
"${PIP[@]}" install -q filelock 'typing-extensions>=4.13.0' 'sympy>=1.13.3' \
  'networkx>=2.5.1' jinja2 'fsspec>=0.8.5'

SP="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
CU="$("$VENV/bin/python" - "$SP" <<'PY'
import re, sys
src = open(sys.argv[1] + "/torch/version.py").read()
m = re.search(r"^cuda\s*(?::\s*\S+)?\s*=\s*'(\d+)", src, re.M)
print("cu" + m.group(1) if m else "")
PY
)"
if [ -n "$CU" ]; then
  GEN="$(mktemp)"
  cat > "$GEN" <<'PYGEN'
#!/usr/bin/env python3
"""Generate no-op stub shared libraries for the CUDA libraries that the PyPI
torch wheel links against, so that `pip install --no-deps torch` can be imported
and used on CPU without the multi-GB nvidia-* wheels.

usage: gen.py SITE_PACKAGES OUTDIR

OUTDIR should be SITE_PACKAGES/nvidia/cuNN/lib (on torch's RUNPATH).  A real
library already in OUTDIR (e.g. libcudart from nvidia-cuda-runtime) is kept.
Every stub function returns 100 (cudaErrorNoDevice-like non-zero error)."""
import collections, os, re, subprocess, sys

site, out = sys.argv[1], sys.argv[2]
tdir = os.path.join(site, "torch")
tl = os.path.join(tdir, "lib")
sos = [os.path.join(tl, f) for f in os.listdir(tl) if ".so" in f]
sos += [os.path.join(tdir, f) for f in os.listdir(tdir) if f.endswith(".so")]
present = set(os.listdir(tl))
# never stub system libs, nor the driver (libcuda.so.1: stubbing it would make
# libcudart believe a driver exists)
SYSTEM = re.compile(r"^(ld-linux|lib(c|m|dl|rt|pthread|z|util)\.so|libstdc\+\+|libgcc_s|"
                    r"libquadmath|libgomp|libgfortran|libcuda\.so)")

def readelf(args, f):
    return subprocess.run(["readelf", "-W", *args, f], capture_output=True, text=True, check=True).stdout

stubs = collections.OrderedDict()          # soname -> {"vers": set, "syms": {name: type}}
ver2lib = {}
unversioned = {}
for f in sos:
    for m in re.finditer(r"\(NEEDED\).*\[(.*)\]", readelf(["-d"], f)):
        if m.group(1) not in present and not SYSTEM.match(m.group(1)):
            stubs.setdefault(m.group(1), {"vers": set(), "syms": {}})
    cur = None
    for line in readelf(["-V"], f).split("Version needs section")[-1].splitlines():
        m = re.search(r"File: (\S+)", line)
        if m:
            cur = m.group(1); continue
        m = re.search(r"Name: (\S+)", line)
        if m and cur in stubs:
            ver2lib[m.group(1)] = cur
            stubs[cur]["vers"].add(m.group(1))
    for line in readelf(["--dyn-syms"], f).splitlines():
        p = line.split()
        if len(p) < 8 or not p[0].endswith(":") or p[6] != "UND" or p[4] == "WEAK":
            continue
        name = p[7]
        if "@" in name:
            sym, ver = name.split("@", 1)
            if ver in ver2lib:
                stubs[ver2lib[ver]]["syms"][sym] = p[3]
        elif name:
            unversioned[name] = p[3]

# unversioned references to CUDA-library symbols: assign by prefix
PREFIX = {"libnccl.so": ("nccl", "pnccl"), "libcusparseLt.so": ("cusparseLt",),
          "libcufile.so": ("cuFile",), "libnvshmem_host.so": ("nvshmem",),
          "libcusolver.so": ("cusolver",), "libcudnn.so": ("cudnn",),
          "libcupti.so": ("cupti", "CUpti"), "libcublas": ("cublas",),
          "libcufft.so": ("cufft",), "libcusparse.so": ("cusparse",),
          "libnvrtc.so": ("nvrtc",), "libcudart.so": ("cuda", "__cuda")}
for name, typ in unversioned.items():
    for lib in stubs:
        pre = next((v for k, v in PREFIX.items() if lib.startswith(k)), ())
        if pre and name.startswith(pre) and not (lib.startswith("libcusparse.so") and name.startswith("cusparseLt")):
            stubs[lib]["syms"].setdefault(name, typ)

os.makedirs(out, exist_ok=True)
for lib, d in stubs.items():
    target = os.path.join(out, lib)
    marker = target + ".is-stub"
    if os.path.exists(target) and not os.path.exists(marker):
        print(f"{lib}: real library present, kept"); continue
    src = [f"/* no-op stub for {lib} (CPU-only torch install) */"]
    for s, t in sorted(d["syms"].items()):
        src.append(f"char {s}[256];" if t == "OBJECT" else f"long {s}(void) {{ return 100; }}")
    vers = sorted(d["vers"]) or [lib]
    # first version node gets all symbols; any other needed version names exist (empty)
    vmap = "".join(f"{v} {{ {'global: *;' if i == 0 else ''} }};\n" for i, v in enumerate(vers))
    with open(target + ".c", "w") as fh: fh.write("\n".join(src) + "\n")
    with open(target + ".map", "w") as fh: fh.write(vmap)
    subprocess.run(["gcc", "-shared", "-fPIC", "-O0", "-w", "-o", target, target + ".c",
                    f"-Wl,-soname,{lib}", f"-Wl,--version-script={target}.map"], check=True)
    os.remove(target + ".c"); os.remove(target + ".map")
    with open(marker, "w") as fh: fh.write("no-op stub for CPU-only torch\n")
    print(f"{lib}: stub with {len(d['syms'])} symbols, versions {vers}")
PYGEN
  "$VENV/bin/python" "$GEN" "$SP" "$SP/nvidia/$CU/lib"
  rm -f "$GEN"
fi

"$VENV/bin/python" - <<'PY'
import torch
torch.set_num_threads(1)
x = torch.randn(2, 4, 16, requires_grad=True)
h = torch.nn.Conv1d(4, 8, 3, padding=1)(x).transpose(1, 2)
o, _ = torch.nn.LSTM(8, 8, bidirectional=True, batch_first=True)(h)
o.sum().backward()
assert x.grad is not None and not torch.cuda.is_available()
print("torch", torch.__version__, "CPU OK")
PY
