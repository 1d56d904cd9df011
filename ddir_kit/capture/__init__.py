"""Capture: shot plans from a calibration, ingest of a camera card (scene grouping, RAW
development, EXIF checks) and the capture layout (captures/<scene>/scene.json) that
registration reads."""
