"""The machine a benchmark ran on, for its results file."""

from __future__ import annotations

import os
import platform


def machine_lines() -> list[str]:
    import cv2
    import torch

    lines = [f"- CPU: {_cpu_name()}, {os.cpu_count()} cores visible, torch threads {torch.get_num_threads()}",
             f"- {platform.system()} {platform.release()}, Python {platform.python_version()}",
             f"- torch {torch.__version__}, OpenCV {cv2.__version__}"]
    if torch.cuda.is_available():
        lines.append(f"- GPU: {torch.cuda.get_device_name(0)}")
    return lines


def machine_summary() -> str:
    """One line: CPU, cores, GPU if any, load average now, and the library versions that set the speed."""
    import cv2
    import numpy as np
    import torch

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""
    return (f"{_cpu_name()}, {os.cpu_count()} cores{gpu}, load average {load:.1f} when this line was written; "
            f"Python {platform.python_version()}, numpy {np.__version__}, OpenCV {cv2.__version__}, "
            f"torch {torch.__version__}")


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"
