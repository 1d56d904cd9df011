"""Reading photos (RAW via rawpy, JPEG/PNG/TIFF, EXIF), ingest and scene grouping, shot
plans, and the virtual zoom camera."""
