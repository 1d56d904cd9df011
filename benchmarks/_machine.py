"""The machine a benchmark ran on, for its results file."""

from __future__ import annotations

import os
import platform


def machine_lines() -> list[str]:
    import cv2
    import torch

    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    lines = [f"- CPU: {cpu}, {os.cpu_count()} cores visible, torch threads {torch.get_num_threads()}",
             f"- {platform.system()} {platform.release()}, Python {platform.python_version()}",
             f"- torch {torch.__version__}, OpenCV {cv2.__version__}"]
    if torch.cuda.is_available():
        lines.append(f"- GPU: {torch.cuda.get_device_name(0)}")
    return lines
